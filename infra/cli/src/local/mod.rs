//! `churnsaver local`: the whole stack on this machine, built from `infra/template.yaml`.
//!
//! The emulator gets the template's tables, queues and secrets; every HTTP API route of the
//! template is served through the function's own router; each SQS trigger is polled into its
//! function with the template's batch size, deleting only what the function did not report as
//! failed (so redrive to the DLQ works); each schedule fires its function with its `Input`.

mod queues;
mod routes;
mod schedules;
mod seed;

pub mod provision;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, anyhow, bail};
use aws_config::{Region, SdkConfig};
use shared::{App, Config};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::fake_google::{FakeGoogle, FakeGoogleOptions};
use crate::fake_gumroad::FakeGumroad;
use crate::fake_mail::{self, FakeMail};
use crate::fake_stripe::{self, FakeStripe};
use crate::fake_whop::{self, FakeWhop, FakeWhopOptions};
use crate::functions::{Invoker, LocalFunction, registry};
use crate::template::Template;
use provision::{Provisioned, REGION, provision};
use schedules::fire_schedule;

pub use queues::{QueueWorker, deliver, poll_queue, queue_workers};
pub use routes::{OPENAPI_DOCUMENT, OPENAPI_PATH, ServedRoute, http_router};
pub use schedules::{LocalSchedule, parse_rate, schedules};
pub use seed::{
    LOCAL_WHOP_MEMBERSHIPS, first_webhook_secret, webhook_secret, webhook_secret_lists,
};

/// How `churnsaver local` (and the end-to-end tests) run the stack.
#[derive(Debug, Clone)]
pub struct LocalOptions {
    pub template: PathBuf,
    pub stack_name: String,
    pub bind: SocketAddr,
    /// The emulator's endpoint URL.
    pub endpoint: String,
    /// Template parameter overrides (on top of [`local_parameters`]).
    pub parameters: BTreeMap<String, String>,
    /// Run the queue workers and schedules (tests that drive queues themselves turn this off).
    pub background: bool,
}

/// Parameters the local stack passes unless told otherwise: stage `local`, a local app id, and no
/// Whop API (this machine has no internet; point `WhopApiBaseUrl` at a fake to configure it).
pub fn local_parameters() -> BTreeMap<String, String> {
    [
        ("Stage", "local"),
        ("WhopAppId", "app_local"),
        ("WhopApiBaseUrl", ""),
    ]
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .into()
}

/// SDK configuration for the emulator: fixed region, dummy credentials, the endpoint override.
pub async fn emulator_sdk_config(endpoint: &str) -> SdkConfig {
    // The functions' own loader and HTTPS client, pointed at the emulator.
    shared::edge::app::sdk_defaults()
        .region(Region::new(REGION))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "testing",
            "testing",
            None,
            None,
            "local-emulator",
        ))
        .load()
        .await
}

/// wait for them.
pub struct LocalStack {
    pub address: SocketAddr,
    pub app: Arc<App>,
    /// The stand-in Whop API sync reads, when the stack runs without a real one.
    pub whop: Option<FakeWhop>,
    /// The stand-in Google sign-in uses, when the stack runs without another.
    pub google: Option<FakeGoogle>,
    /// The stand-in Gumroad connections use, when the stack runs without another.
    pub gumroad: Option<FakeGumroad>,
    /// The stand-in PayPal (certificates, token, subscriptions), when the stack runs without
    /// another webhook id.
    pub paypal: Option<crate::fake_paypal::FakePayPal>,
    /// The stand-in Stripe (README "Stripe reconcile"), for a background stack without
    /// `StripeApiBaseUrl`.
    pub stripe: Option<FakeStripe>,
    /// The stand-in e-mail API the notify function sends to, unless `ResendApiBaseUrl` was given.
    pub mail: Option<FakeMail>,
    /// The stand-in Twilio urgent texts go to, unless `TwilioApiBaseUrl` was given.
    pub messaging: Option<crate::fake_messaging::FakeMessaging>,
    /// The stand-in GA4 companies' analytics events go to, unless `Ga4ApiBaseUrl` was given.
    pub ga4: Option<crate::fake_ga4::FakeGa4>,
    pub provisioned: Provisioned,
    pub routes: Vec<ServedRoute>,
    pub workers: Vec<QueueWorker>,
    pub schedules: Vec<LocalSchedule>,
    /// The functions' merged environment, which `app` is configured from (written to the state
    /// file so operator commands reach this stack as the functions do).
    pub environment: BTreeMap<String, String>,
    shutdown: watch::Sender<bool>,
    tasks: JoinSet<()>,
}

impl LocalStack {
    /// Provisions the template into the emulator and starts serving.
    pub async fn start(options: LocalOptions) -> anyhow::Result<Self> {
        let template = Template::load(&options.template)?;
        let sdk = emulator_sdk_config(&options.endpoint).await;
        let mut parameters = local_parameters();
        parameters.extend(options.parameters.clone());
        // The whole stack gets a Whop API to sync with, unless one was given.
        let whop = if options.background
            && parameters
                .get("WhopApiBaseUrl")
                .is_none_or(String::is_empty)
        {
            let whop = FakeWhop::start(FakeWhopOptions::default()).await?;
            whop.seed(LOCAL_WHOP_MEMBERSHIPS);
            parameters.insert("WhopApiBaseUrl".into(), whop.base_url());
            parameters.insert("WhopCompanyId".into(), fake_whop::COMPANY_ID.into());
            Some(whop)
        } else {
            None
        };
        // Notifications go to the stand-in mail API, which writes each under the data dir.
        let mail = if parameters.contains_key("ResendApiBaseUrl") {
            None
        } else {
            let mail = FakeMail::start(fake_mail::mail_dir().join(&options.stack_name)).await?;
            parameters.insert("ResendApiBaseUrl".into(), mail.base_url());
            Some(mail)
        };
        // Urgent texts go to the stand-in Twilio, which writes each beside the captured mail.
        let messaging = if parameters.contains_key("TwilioApiBaseUrl") {
            None
        } else {
            let messaging = crate::fake_messaging::serve_into(Some(
                fake_mail::mail_dir().join(&options.stack_name),
            ))
            .await?;
            parameters.insert("TwilioApiBaseUrl".into(), messaging.base_url());
            parameters
                .entry("TwilioFromNumber".into())
                .or_insert_with(|| seed::LOCAL_TWILIO_FROM.into());
            Some(messaging)
        };
        // Companies' analytics events go to the stand-in GA4 (`GET /local/events` shows them).
        let ga4 = if parameters.contains_key("Ga4ApiBaseUrl") {
            None
        } else {
            let ga4 = crate::fake_ga4::FakeGa4::start().await?;
            parameters.insert("Ga4ApiBaseUrl".into(), ga4.base_url());
            Some(ga4)
        };
        // Bound first: Google sign-in's redirect URI and member messages' unsubscribe links point
        // at this address.
        let listener = tokio::net::TcpListener::bind(options.bind)
            .await
            .with_context(|| format!("binding {}", options.bind))?;
        let address = listener.local_addr()?;
        let google = google_sign_in(&mut parameters, options.background, address).await?;
        parameters
            .entry("PublicApiUrl".into())
            .or_insert_with(|| format!("http://{address}"));
        let gumroad = gumroad_connections(&mut parameters, options.background, address).await?;
        // PayPal's webhooks verify with the stand-in's certificates unless another webhook id is
        // given.
        let paypal = if options.background && unset(&parameters, "PayPalWebhookId") {
            let paypal = crate::fake_paypal::FakePayPal::start().await?;
            parameters.extend(paypal.parameters());
            Some(paypal)
        } else {
            None
        };
        // Stripe reconcile lists the stand-in Stripe's subscriptions for its company.
        let stripe = if options.background && unset(&parameters, "StripeApiBaseUrl") {
            let stripe = FakeStripe::start().await?;
            stripe.seed(fake_stripe::sample_subscriptions(
                fake_stripe::LOCAL_SUBSCRIPTIONS,
            ));
            parameters.extend(stripe.parameters());
            Some(stripe)
        } else {
            None
        };
        let provisioned = provision(&template, &sdk, &options.stack_name, &parameters).await?;
        let (app, environment) = app_for(&provisioned, &sdk)?;
        let app = Arc::new(app);
        seed::seed_webhook_secrets(&app).await?;
        if whop.is_some() {
            seed::seed_whop_api_key(&app).await?;
        }
        seed::seed_google_client_secret(&app).await?;
        seed::seed_gumroad_client_secret(&app).await?;
        seed::seed_paypal_client_secret(&app).await?;
        if stripe.is_some() {
            fake_stripe::store_keys(
                &app,
                &[(fake_stripe::COMPANY_ID, fake_stripe::LOCAL_API_KEY)],
            )
            .await?;
        }
        if mail.is_some() {
            seed::seed_resend_api_key(&app).await?;
        }
        if messaging.is_some() {
            seed::seed_twilio_credentials(&app).await?;
        }
        let functions = registry(&app);

        let (router, routes) = http_router(&provisioned, &functions)?;
        let router = routes::with_openapi_document(router);
        let workers = queue_workers(&provisioned)?;
        let schedules = schedules(&provisioned)?;

        let (shutdown, shutdown_rx) = watch::channel(false);
        let mut tasks = JoinSet::new();
        let mut server_shutdown = shutdown_rx.clone();
        tasks.spawn(async move {
            let served = axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    let _ = server_shutdown.wait_for(|stop| *stop).await;
                })
                .await;
            if let Err(error) = served {
                tracing::error!(%error, "local HTTP server stopped: {error}");
            }
        });
        for worker in workers.iter().filter(|_| options.background) {
            let invoke = invoker_of(&functions, &worker.function)?;
            tasks.spawn(poll_queue(
                app.sqs.clone(),
                worker.clone(),
                invoke,
                shutdown_rx.clone(),
            ));
        }
        for schedule in schedules.iter().filter(|_| options.background) {
            let invoke = invoker_of(&functions, &schedule.function)?;
            tasks.spawn(fire_schedule(schedule.clone(), invoke, shutdown_rx.clone()));
        }

        Ok(Self {
            address,
            app,
            whop,
            google,
            gumroad,
            paypal,
            stripe,
            mail,
            messaging,
            ga4,
            provisioned,
            routes,
            workers,
            schedules,
            environment,
            shutdown,
            tasks,
        })
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Stops the server, pollers and schedules, waiting for in-flight work to finish.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        while self.tasks.join_next().await.is_some() {}
    }
}

/// Google sign-in for the stack at `address`: the running stack gets the stand-in Google unless
/// `GoogleClientId` names another client; whichever it is, an empty `GoogleRedirectUri` becomes
/// this stack's own `/auth/google/callback`.
async fn google_sign_in(
    parameters: &mut BTreeMap<String, String>,
    background: bool,
    address: SocketAddr,
) -> anyhow::Result<Option<FakeGoogle>> {
    let google = if background && unset(parameters, "GoogleClientId") {
        let google = FakeGoogle::start(FakeGoogleOptions::default()).await?;
        parameters.extend(google.parameters());
        Some(google)
    } else {
        None
    };
    default_redirect(
        parameters,
        ["GoogleClientId", "GoogleRedirectUri"],
        format!("http://{address}/auth/google/callback"),
    );
    Ok(google)
}

/// Gumroad connections for the stack at `address`, as [`google_sign_in`] does Google's: the
/// stand-in Gumroad unless `GumroadClientId` names another application, and an empty
/// `GumroadRedirectUri` this stack's own `/connections/gumroad/callback`.
async fn gumroad_connections(
    parameters: &mut BTreeMap<String, String>,
    background: bool,
    address: SocketAddr,
) -> anyhow::Result<Option<FakeGumroad>> {
    let gumroad = if background && unset(parameters, "GumroadClientId") {
        let gumroad = FakeGumroad::start().await?;
        parameters.extend(gumroad.parameters());
        Some(gumroad)
    } else {
        None
    };
    default_redirect(
        parameters,
        ["GumroadClientId", "GumroadRedirectUri"],
        format!("http://{address}/connections/gumroad/callback"),
    );
    Ok(gumroad)
}

fn unset(parameters: &BTreeMap<String, String>, name: &str) -> bool {
    parameters.get(name).is_none_or(String::is_empty)
}

/// Sets the redirect URI parameter to `uri` when the client id is set and the URI is not.
fn default_redirect(
    parameters: &mut BTreeMap<String, String>,
    [client_id, redirect_uri]: [&str; 2],
    uri: String,
) {
    if !unset(parameters, client_id) && unset(parameters, redirect_uri) {
        parameters.insert(redirect_uri.into(), uri);
    }
}

/// Where a running `churnsaver local` says how to reach it (read by `churnsaver webhook send`).
pub fn state_file() -> PathBuf {
    crate::moto::tools_dir().join("local-stack.json")
}

/// The `App` every local function shares, configured from the template's resolved environment,
/// and that environment.
fn app_for(
    provisioned: &Provisioned,
    sdk: &SdkConfig,
) -> anyhow::Result<(App, BTreeMap<String, String>)> {
    let mut environment = BTreeMap::new();
    for function in &provisioned.functions {
        for (name, value) in provisioned.environment(function)? {
            if let Some(previous) = environment.insert(name.clone(), value.clone())
                && previous != value
            {
                bail!(
                    "{name} differs between functions ({previous} / {value}); the local stack shares one environment"
                );
            }
        }
    }
    let config = Config::from_lookup(&|var| environment.get(var).cloned())
        .map_err(|e| anyhow!("the template's environment does not validate: {e}"))?;
    Ok((App::new(config, sdk)?, environment))
}

fn invoker_of(functions: &BTreeMap<&str, LocalFunction>, handler: &str) -> anyhow::Result<Invoker> {
    functions
        .get(handler)
        .and_then(|f| f.invoke.clone())
        .ok_or_else(|| anyhow!("no event handler named {handler} is linked into the local stack"))
}
