//! The sync function's dependencies: the syncer over Whop's API (its membership source, see
//! [`crate::providers::whop::sync_source`]) and, when `GUMROAD_CLIENT_ID` is set, Gumroad's
//! connections ([`crate::providers::gumroad::sync`]) and, when `STRIPE_SYNC_COMPANIES` is set,
//! those companies' Stripe accounts ([`crate::providers::stripe::sync`]) and, when PayPal's REST
//! app and `PAYPAL_COMPANY_ID` are set, its stored subscriptions ([`crate::providers::paypal::sync`]),
//! the state table, the run store, the sales
//! events and the `sync-jobs` queue, with the admission (emergency switches, rate limits,
//! breakers) its calls go through.

use std::sync::{Arc, OnceLock};

use crate::App;
use crate::aws::breaker::DynamoBreakers;
use crate::aws::company_items::DynamoCompanyItems;
use crate::aws::connections::DynamoConnections;
use crate::aws::emergency::DynamoEmergencies;
use crate::aws::limits::DynamoFailureCounter;
use crate::aws::sales::DynamoSales;
use crate::aws::state::DynamoState;
use crate::aws::sync::DynamoRuns;
use crate::domain::connections::ConnectionStatus;
use crate::domain::emergency::EmergencySwitch;
use crate::domain::ports::{ConnectionStore, DependencyError, SystemClock};
use crate::domain::sync::Scope;
use crate::domain::sync::by_provider::ByProvider;
use crate::domain::sync::worker::{SyncError, Syncer};
use crate::edge::config::Provider;
use crate::edge::deps::gumroad::{AppConnector, connector_with};
use crate::providers::client::{
    Admission, EmergencyGate, ProviderGuard, ResilientClient, RetryPolicy,
};
use crate::providers::gumroad::sync::GumroadSource;
use crate::providers::paypal::PayPalApiSettings;
use crate::providers::paypal::online::PayPalApi;
use crate::providers::paypal::sync::PayPalSource;
use crate::providers::stripe::sync::{StripeKeys, StripeSource, parse_keys};
use crate::providers::whop::api::{SecretKey, WhopApi};

/// The functions' provider admission: breakers and the shared rate limits' counts in the state
/// table.
pub type AppGuard = ProviderGuard<DynamoBreakers, SystemClock, DynamoFailureCounter>;

/// Admission for provider calls with every provider's limits from the configuration, breakers in
/// the state table, and each provider's rate limit shared by every instance of every function
/// (counted in the state table: Whop limits calls per API key). Build it once per process, at
/// cold start: its token buckets, concurrency limits and pauses are in-process state.
pub fn provider_guard(app: &App) -> AppGuard {
    Provider::ALL
        .into_iter()
        .fold(
            ProviderGuard::new(DynamoBreakers::of(app), SystemClock),
            |guard, provider| {
                guard.with_limits(provider.as_str(), app.config.provider_limits(provider))
            },
        )
        .with_shared_limit(DynamoFailureCounter::of(app))
}

/// The providers' emergency switches in the state table, each read cached for
/// `EMERGENCY_CACHE_SECS` (see [`crate::domain::emergency`]).
pub fn emergency_switch(app: &App) -> EmergencySwitch<DynamoEmergencies, SystemClock> {
    EmergencySwitch::new(
        DynamoEmergencies::of(app),
        SystemClock,
        app.config.emergency_cache_ttl,
    )
}

/// The admission of the functions' provider calls: the emergency switches in front of
/// [`provider_guard`].
pub type AppAdmission = EmergencyGate<AppGuard, DynamoEmergencies, SystemClock>;

/// [`provider_guard`] behind the emergency switches; once per process, like the guard.
pub fn provider_admission(app: &App) -> AppAdmission {
    EmergencyGate::new(provider_guard(app), Arc::new(emergency_switch(app)))
}

/// The HTTP client could not be built, so no provider can be called.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the HTTP client cannot be built: {0}")]
pub struct HttpClientUnavailable(pub String);

/// The provider client over the process's pooled HTTP client, admitting through `admission`
/// (typically [`provider_guard`], or an `Arc` of it shared by several clients). Building it builds
/// the HTTP client (see [`crate::App::http`]), so call it where a provider is about to be called,
/// not at cold start of functions that may never call one.
pub fn provider_client<A: Admission>(
    app: &App,
    provider: Provider,
    policy: RetryPolicy,
    admission: A,
) -> Result<ResilientClient<A>, HttpClientUnavailable> {
    let http = app
        .http()
        .map_err(|e| HttpClientUnavailable(e.to_owned()))?;
    let limit = app.config.provider_limits(provider).max_response_bytes;
    Ok(ResilientClient::new(http.clone(), policy, admission).with_max_response_bytes(limit))
}

/// A provider's client as sync calls it: admitted under the provider's limits, retried by the
/// default policy.
fn sync_client(app: &App, provider: Provider) -> Result<ResilientClient<AppAdmission>, SyncError> {
    provider_client(
        app,
        provider,
        RetryPolicy::default(),
        provider_admission(app),
    )
    .map_err(|_| SyncError::Unconfigured("the HTTP client cannot start"))
}

/// Gumroad's listing as the sync function runs it.
pub type AppGumroadSource = GumroadSource<
    AppAdmission,
    aws_sdk_secretsmanager::Client,
    SystemClock,
    DynamoConnections,
    SystemClock,
>;

// --- Stripe reconcile (README "Stripe reconcile") ---------------------------------------------

/// Stripe's listing as the sync function runs it: its keys secret read through Secrets Manager.
pub type AppStripeSource = StripeSource<
    AppAdmission,
    SecretKey<aws_sdk_secretsmanager::Client, SystemClock, StripeKeys>,
    SystemClock,
>;

/// Stripe's listing when `STRIPE_SYNC_COMPANIES` is set: its calls admitted under Stripe's rate
/// limit and breaker (`STRIPE_*` limits), retried by the default policy with Stripe's own backoff
/// cap of 5 s.
pub fn stripe_source(app: &App) -> Result<Option<AppStripeSource>, SyncError> {
    let Some(settings) = &app.config.stripe_sync else {
        return Ok(None);
    };
    let client = sync_client(app, Provider::Stripe)?;
    Ok(Some(StripeSource {
        client,
        base_url: settings.api_base_url.clone(),
        keys: SecretKey::with_parser(
            app.secrets_manager.clone(),
            SystemClock,
            settings.keys_secret_id.clone(),
            parse_keys,
        ),
        clock: SystemClock,
    }))
}

/// The scopes of the schedule's Stripe runs: one per company of `STRIPE_SYNC_COMPANIES`.
pub fn stripe_scopes(app: &App) -> Vec<Scope> {
    app.config
        .stripe_sync
        .iter()
        .flat_map(|settings| settings.companies.iter().map(Scope::stripe))
        .collect()
}

// --- end of Stripe reconcile -------------------------------------------------------------------

// --- PayPal reconcile (README "PayPal") ----------------------------------------------------------

/// PayPal's re-reading as the sync function runs it: the company's stored subscriptions from the
/// state table, the app's token from its client secret in Secrets Manager.
pub type AppPayPalSource =
    PayPalSource<AppAdmission, aws_sdk_secretsmanager::Client, SystemClock, DynamoState>;

/// The PayPal company (`PAYPAL_COMPANY_ID`) when PayPal's REST app is configured
/// (`PAYPAL_CLIENT_ID`, `PAYPAL_CLIENT_SECRET_ID`): PayPal reconcile is on.
fn paypal_sync(app: &App) -> Option<(&str, &PayPalApiSettings)> {
    let paypal = app.config.paypal.as_ref()?;
    Some((paypal.company_id.as_deref()?, paypal.api.as_ref()?))
}

/// PayPal's re-reading when PayPal reconcile is on: its calls admitted under PayPal's rate limit
/// and breaker (`PAYPAL_*` limits), retried by the default policy.
pub fn paypal_source(app: &App) -> Result<Option<AppPayPalSource>, SyncError> {
    let Some((company_id, api)) = paypal_sync(app) else {
        return Ok(None);
    };
    let client = sync_client(app, Provider::Paypal)?;
    Ok(Some(PayPalSource {
        api: PayPalApi::new(
            api.clone(),
            client,
            app.secrets_manager.clone(),
            SystemClock,
        ),
        stored: DynamoState::of(app),
        company_id: company_id.to_owned(),
    }))
}

/// The scopes of the schedule's PayPal runs: the PayPal company's, when PayPal reconcile is on.
pub fn paypal_scopes(app: &App) -> Vec<Scope> {
    paypal_sync(app)
        .map(|(company_id, _)| Scope::paypal(company_id))
        .into_iter()
        .collect()
}

// --- end of PayPal reconcile ----------------------------------------------------------------------

/// The syncer as the sync function runs it.
pub type AppSyncer = Syncer<
    ByProvider<
        WhopApi<AppAdmission, SecretKey<aws_sdk_secretsmanager::Client, SystemClock>>,
        AppGumroadSource,
        AppStripeSource,
        AppPayPalSource,
    >,
    DynamoState,
    DynamoRuns,
    aws_sdk_sqs::Client,
    DynamoCompanyItems,
    DynamoSales,
>;

/// The scopes of the schedule's Gumroad runs: one per active connection (one Query of the list
/// of connections, one read of each).
pub async fn gumroad_scopes<T: ConnectionStore>(store: &T) -> Result<Vec<Scope>, DependencyError> {
    let mut scopes = Vec::new();
    for company_id in store.connected_companies().await? {
        match store.get(&company_id).await? {
            Some(connection) if connection.status == ConnectionStatus::Active => {
                scopes.push(Scope::gumroad(company_id, connection.seller_id));
            }
            _ => {}
        }
    }
    Ok(scopes)
}

/// Builds the syncer over the stack; once per process, so its rate limits and caches persist. It
/// reconciles the known companies (in the state table) and `WHOP_COMPANY_ID` when it is set.
pub fn syncer(app: &App) -> Result<AppSyncer, SyncError> {
    let config = &app.config;
    let key_secret = config
        .secrets
        .whop_api_key
        .clone()
        .ok_or(SyncError::Unconfigured("WHOP_API_KEY_SECRET_ID is not set"))?;
    let client = sync_client(app, Provider::Whop)?;
    let key = SecretKey::new(app.secrets_manager.clone(), SystemClock, key_secret);
    let whop =
        WhopApi::new(client, config.whop_api_base_url(), key).with_app_id(&config.whop_app_id);
    let gumroad = match &config.gumroad {
        Some(settings) => Some(GumroadSource {
            connector: sync_connector(app, settings.clone())?,
            clock: SystemClock,
        }),
        None => None,
    };
    let stripe = stripe_source(app)?;
    let paypal = paypal_source(app)?;
    Ok(Syncer {
        api: ByProvider {
            whop,
            gumroad,
            stripe,
            paypal,
        },
        state: DynamoState::of(app),
        runs: DynamoRuns::of(app),
        publisher: app.sqs.clone(),
        queue_url: config.queues.sync_jobs.clone(),
        company_id: config.whop_company_id.clone(),
        known: DynamoCompanyItems::of(app),
        notifications_queue: config.notify.queue.clone(),
        clock: Arc::new(SystemClock),
        deferral: crate::domain::sync::worker::DEFAULT_DEFERRAL,
        sales: DynamoSales::of(app),
    })
}

/// Gumroad's connector for sync: its listings retry by the default policy.
fn sync_connector(
    app: &App,
    settings: crate::providers::gumroad::GumroadSettings,
) -> Result<AppConnector, SyncError> {
    connector_with(app, settings, RetryPolicy::default()).map_err(|reason| {
        tracing::error!(%reason, "Gumroad's sync cannot start");
        SyncError::Unconfigured("the HTTP client cannot start")
    })
}

/// Built once per cold start. The syncer itself is built on first use (its HTTP client loads the
/// trust store) and kept, so its rate limits and caches live as long as the warm function.
pub struct SyncDeps {
    pub app: Arc<App>,
    syncer: OnceLock<Result<AppSyncer, String>>,
}

impl SyncDeps {
    pub fn build(app: Arc<App>) -> Self {
        Self {
            app,
            syncer: OnceLock::new(),
        }
    }

    /// The syncer, or why sync cannot run (logged; the caller sees it as unconfigured).
    pub fn syncer(&self) -> Result<&AppSyncer, SyncError> {
        self.syncer
            .get_or_init(|| syncer(&self.app).map_err(|e| e.to_string()))
            .as_ref()
            .map_err(|reason| {
                tracing::error!(%reason, "sync cannot run: {reason}");
                SyncError::Unconfigured("sync is not configured")
            })
    }
}
