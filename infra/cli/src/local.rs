//! `churnsaver local`: the whole stack on this machine, built from `infra/template.yaml`.
//!
//! The emulator gets the template's tables, queues and secrets; every HTTP API route of the
//! template is served through the function's own router; each SQS trigger is polled into its
//! function with the template's batch size, deleting only what the function did not report as
//! failed (so redrive to the DLQ works); each schedule fires its function with its `Input`.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::fake_whop::{self, FakeWhop, FakeWhopOptions};
use anyhow::{Context, anyhow, bail};
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage, SqsMessageAttribute};
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, MessageSystemAttributeName};
use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter};
use http::StatusCode;
use serde_json::{Value, json};
use shared::{App, Config};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tower::ServiceExt;

use crate::functions::{Invoker, LocalFunction, registry};
use crate::provision::{Provisioned, REGION, provision};
use crate::template::{EventDef, HttpRoute, Template};

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
    aws_config::defaults(BehaviorVersion::latest())
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

/// A served route: the template's route and the handler serving it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ServedRoute {
    pub route: HttpRoute,
    pub handler: String,
}

/// A queue poller: which queue feeds which function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueWorker {
    pub function: String,
    pub queue: String,
    pub queue_url: String,
    pub batch_size: i32,
    pub report_batch_item_failures: bool,
}

/// A schedule the stack fires.
#[derive(Debug, Clone, PartialEq)]
pub struct LocalSchedule {
    pub function: String,
    pub name: String,
    pub every: Duration,
    pub input: Value,
}

/// The running stack. Dropping it stops the server and workers; call [`LocalStack::shutdown`] to
/// wait for them.
pub struct LocalStack {
    pub address: SocketAddr,
    pub app: Arc<App>,
    /// The stand-in Whop API sync reads, when the stack runs without a real one.
    pub whop: Option<FakeWhop>,
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
        let provisioned = provision(&template, &sdk, &options.stack_name, &parameters).await?;
        let (app, environment) = app_for(&provisioned, &sdk)?;
        let app = Arc::new(app);
        seed_webhook_secrets(&app).await?;
        if whop.is_some() {
            seed_whop_api_key(&app).await?;
        }
        let functions = registry(&app);

        let (router, routes) = http_router(&provisioned, &functions)?;
        let workers = queue_workers(&provisioned)?;
        let schedules = schedules(&provisioned)?;

        let (shutdown, shutdown_rx) = watch::channel(false);
        let mut tasks = JoinSet::new();
        let listener = tokio::net::TcpListener::bind(options.bind)
            .await
            .with_context(|| format!("binding {}", options.bind))?;
        let address = listener.local_addr()?;
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

/// The webhook secret lists (provider → active secrets) held in `secret_id`.
pub async fn webhook_secret_lists(
    secrets: &aws_sdk_secretsmanager::Client,
    secret_id: &str,
) -> anyhow::Result<BTreeMap<String, Vec<String>>> {
    let value = secrets
        .get_secret_value()
        .secret_id(secret_id)
        .version_stage("AWSCURRENT")
        .send()
        .await?;
    Ok(serde_json::from_str(value.secret_string().unwrap_or("{}"))?)
}

/// Gives every verified provider a random dev secret when the template's lists are empty, so
/// signed webhooks work locally out of the box (`churnsaver webhook send` signs with them).
async fn seed_webhook_secrets(app: &App) -> anyhow::Result<()> {
    let Some(id) = &app.config.secrets.webhook_secrets else {
        return Ok(());
    };
    let lists = webhook_secret_lists(&app.secrets_manager, id).await?;
    if lists.values().any(|secrets| !secrets.is_empty()) {
        return Ok(());
    }
    app.secrets_manager
        .put_secret_value()
        .secret_id(id)
        .secret_string(crate::webhook::dev_secrets().to_string())
        .send()
        .await?;
    Ok(())
}

/// Memberships the local stand-in for Whop's API starts with.
pub const LOCAL_WHOP_MEMBERSHIPS: usize = 25;

/// Puts the stand-in's key in the stack's Whop API key secret.
async fn seed_whop_api_key(app: &App) -> anyhow::Result<()> {
    let Some(id) = &app.config.secrets.whop_api_key else {
        return Ok(());
    };
    app.secrets_manager
        .put_secret_value()
        .secret_id(id)
        .secret_string(serde_json::json!({ "api_key": fake_whop::LOCAL_API_KEY }).to_string())
        .send()
        .await?;
    Ok(())
}

/// The first webhook secret of `provider` in `secret_id`.
pub async fn first_webhook_secret(
    secrets: &aws_sdk_secretsmanager::Client,
    secret_id: &str,
    provider: &str,
) -> anyhow::Result<String> {
    webhook_secret_lists(secrets, secret_id)
        .await?
        .remove(provider)
        .and_then(|secrets| secrets.into_iter().next())
        .ok_or_else(|| anyhow!("the stack has no {provider} webhook secret"))
}

/// The first webhook secret of `provider` in the stack's webhook secrets.
pub async fn webhook_secret(app: &App, provider: &str) -> anyhow::Result<String> {
    let id = app
        .config
        .secrets
        .webhook_secrets
        .as_deref()
        .ok_or_else(|| anyhow!("no WEBHOOK_SECRETS_ID configured"))?;
    first_webhook_secret(&app.secrets_manager, id, provider).await
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

fn method_filter(method: &str) -> anyhow::Result<MethodFilter> {
    Ok(match method {
        "GET" => MethodFilter::GET,
        "POST" => MethodFilter::POST,
        "PUT" => MethodFilter::PUT,
        "PATCH" => MethodFilter::PATCH,
        "DELETE" => MethodFilter::DELETE,
        "HEAD" => MethodFilter::HEAD,
        "OPTIONS" => MethodFilter::OPTIONS,
        "ANY" => MethodFilter::GET
            .or(MethodFilter::POST)
            .or(MethodFilter::PUT)
            .or(MethodFilter::PATCH)
            .or(MethodFilter::DELETE)
            .or(MethodFilter::HEAD)
            .or(MethodFilter::OPTIONS),
        other => bail!("unsupported HTTP method {other}"),
    })
}

/// One router serving every HttpApi route of the template through the function that owns it.
/// Routes come from the template, so a route the template lacks is not served locally either.
pub fn http_router(
    provisioned: &Provisioned,
    functions: &BTreeMap<&str, LocalFunction>,
) -> anyhow::Result<(Router, Vec<ServedRoute>)> {
    let mut by_path: BTreeMap<String, MethodRouter> = BTreeMap::new();
    let mut served = Vec::new();
    for function in &provisioned.functions {
        for event in &function.events {
            let EventDef::Http(route) = event else {
                continue;
            };
            let target = functions
                .get(function.handler.as_str())
                .and_then(|f| f.http.clone())
                .ok_or_else(|| {
                    anyhow!(
                        "{} serves {} {} but no HTTP handler named {} is linked",
                        function.logical_id,
                        route.method,
                        route.path,
                        function.handler
                    )
                })?;
            let filter = method_filter(&route.method)?;
            let methods = by_path.remove(&route.path).unwrap_or_default();
            let methods = match &route.authorizer {
                None => methods.on_service(filter, forward(target)),
                Some(authorizer) => {
                    let handler = authorizer_handler(provisioned, authorizer)?;
                    let invoke = invoker_of(functions, &handler)?;
                    methods.on_service(filter, authorized(target, invoke))
                }
            };
            by_path.insert(route.path.clone(), methods);
            served.push(ServedRoute {
                route: route.clone(),
                handler: function.handler.clone(),
            });
        }
    }
    let router = by_path
        .into_iter()
        .fold(Router::new(), |router, (path, methods)| {
            router.route(&path, methods)
        })
        .fallback(shared::edge::http::route_not_found);
    served.sort();
    Ok((router, served))
}

/// The function's router as its own service. The request arrives as API Gateway would hand it
/// over: without the local router's extensions (its matched path parameters would otherwise be
/// seen by the function's `Path` extractor as well as its own).
fn forward(
    target: Router,
) -> impl tower::Service<Request, Response = Response, Error = Infallible, Future: Send>
+ Clone
+ Send
+ Sync
+ 'static {
    tower::service_fn(move |request: Request<Body>| {
        let target = target.clone();
        async move {
            let (mut parts, body) = request.into_parts();
            parts.extensions = http::Extensions::new();
            target.oneshot(Request::from_parts(parts, body)).await
        }
    })
}

/// The handler of the function a named HTTP API authorizer invokes, as the template says.
fn authorizer_handler(provisioned: &Provisioned, authorizer: &str) -> anyhow::Result<String> {
    let function = provisioned.authorizers.get(authorizer).ok_or_else(|| {
        anyhow!("authorizer {authorizer} is not defined on the template's HttpApi")
    })?;
    provisioned
        .functions
        .iter()
        .find(|f| &f.logical_id == function)
        .map(|f| f.handler.clone())
        .ok_or_else(|| {
            anyhow!(
                "authorizer {authorizer} names {function}, which is not a function of the template"
            )
        })
}

/// Runs the Lambda authorizer before the route, as API Gateway does with simple responses:
/// `isAuthorized: false` is a 403 `{"message":"Forbidden"}`, an authorizer error a 500.
fn authorized(
    target: Router,
    authorizer: Invoker,
) -> impl tower::Service<Request, Response = Response, Error = Infallible, Future: Send>
+ Clone
+ Send
+ Sync
+ 'static {
    /// The payload-2.0 request context a protected route receives: the authorizer's request
    /// context with the authorizer's `context` as `authorizer.lambda`.
    fn with_authorizer_context(
        request_context: Value,
        authorizer_context: Option<&Value>,
    ) -> anyhow::Result<lambda_http::request::RequestContext> {
        use aws_lambda_events::apigw::{
            ApiGatewayRequestAuthorizer, ApiGatewayV2httpRequestContext,
        };
        let mut context: ApiGatewayV2httpRequestContext = serde_json::from_value(request_context)?;
        let mut authorizer = ApiGatewayRequestAuthorizer::default();
        if let Some(Value::Object(fields)) = authorizer_context {
            authorizer.fields = fields.clone().into_iter().collect();
        }
        context.authorizer = Some(authorizer);
        Ok(lambda_http::request::RequestContext::ApiGatewayV2(context))
    }

    tower::service_fn(move |request: Request<Body>| {
        let target = target.clone();
        let authorizer = Arc::clone(&authorizer);
        async move {
            let headers: serde_json::Map<String, Value> = request
                .headers()
                .iter()
                .filter_map(|(k, v)| {
                    Some((
                        k.as_str().to_owned(),
                        Value::String(v.to_str().ok()?.to_owned()),
                    ))
                })
                .collect();
            let path = request.uri().path().to_owned();
            let event = json!({
                "version": "2.0",
                "type": "REQUEST",
                "routeArn": format!("arn:aws:execute-api:{REGION}:local:local/$default/{} {path}", request.method()),
                "identitySource": [],
                "routeKey": format!("{} {path}", request.method()),
                "rawPath": path,
                "rawQueryString": request.uri().query().unwrap_or_default(),
                "headers": headers,
                "requestContext": {
                    "accountId": crate::provision::ACCOUNT_ID, "apiId": "local", "domainName": "localhost",
                    "domainPrefix": "localhost", "requestId": uuid::Uuid::new_v4().to_string(),
                    "routeKey": format!("{} {path}", request.method()), "stage": "$default",
                    "time": "", "timeEpoch": chrono::Utc::now().timestamp_millis(),
                    "http": {"method": request.method().as_str(), "path": path, "protocol": "HTTP/1.1",
                             "sourceIp": "127.0.0.1", "userAgent": ""}
                }
            });
            let request_context = event["requestContext"].clone();
            let decision = authorizer(event).await;
            let response = match decision {
                Ok(answer) if answer.get("isAuthorized") == Some(&Value::Bool(true)) => {
                    // API Gateway hands the route the authorizer's context as
                    // `requestContext.authorizer.lambda`; lambda_http exposes the request context as
                    // an extension. Otherwise the request goes over as `forward` sends it.
                    match with_authorizer_context(request_context, answer.get("context")) {
                        Ok(context) => {
                            let (mut parts, body) = request.into_parts();
                            parts.extensions = http::Extensions::new();
                            parts.extensions.insert(context);
                            let Ok(response) =
                                target.oneshot(Request::from_parts(parts, body)).await;
                            response
                        }
                        Err(error) => {
                            tracing::error!(%error, "authorizer context unusable: {error}");
                            (
                                StatusCode::INTERNAL_SERVER_ERROR,
                                axum::Json(json!({"message": "Internal Server Error"})),
                            )
                                .into_response()
                        }
                    }
                }
                Ok(_) => (
                    StatusCode::FORBIDDEN,
                    axum::Json(json!({"message": "Forbidden"})),
                )
                    .into_response(),
                Err(error) => {
                    tracing::error!(%error, "authorizer failed: {error}");
                    (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        axum::Json(json!({"message": "Internal Server Error"})),
                    )
                        .into_response()
                }
            };
            Ok::<_, Infallible>(response)
        }
    })
}

/// The SQS triggers of the template, resolved to queue URLs.
pub fn queue_workers(provisioned: &Provisioned) -> anyhow::Result<Vec<QueueWorker>> {
    let mut workers = Vec::new();
    for function in &provisioned.functions {
        for event in &function.events {
            if let EventDef::Sqs {
                queue,
                batch_size,
                report_batch_item_failures,
                ..
            } = event
            {
                workers.push(QueueWorker {
                    function: function.handler.clone(),
                    queue: queue.clone(),
                    queue_url: provisioned.physical(queue)?.reference.clone(),
                    batch_size: *batch_size,
                    report_batch_item_failures: *report_batch_item_failures,
                });
            }
        }
    }
    Ok(workers)
}

/// The schedules of the template.
pub fn schedules(provisioned: &Provisioned) -> anyhow::Result<Vec<LocalSchedule>> {
    let mut out = Vec::new();
    for function in &provisioned.functions {
        for event in &function.events {
            if let EventDef::Schedule {
                name,
                expression,
                input,
            } = event
            {
                out.push(LocalSchedule {
                    function: function.handler.clone(),
                    name: name.clone(),
                    every: parse_rate(expression)
                        .with_context(|| format!("{}.{name}", function.logical_id))?,
                    input: input.clone(),
                });
            }
        }
    }
    Ok(out)
}

/// Parses `rate(N minute|minutes|hour|hours|day|days)`. `cron(…)` is refused by name: the local
/// stack fires rates only, and says so rather than silently never firing.
pub fn parse_rate(expression: &str) -> anyhow::Result<Duration> {
    let inner = expression
        .strip_prefix("rate(")
        .and_then(|s| s.strip_suffix(')'))
        .ok_or_else(|| anyhow!("`{expression}`: the local stack fires rate(…) schedules only"))?;
    let (count, unit) = inner
        .trim()
        .split_once(' ')
        .ok_or_else(|| anyhow!("`{expression}` is not rate(N unit)"))?;
    let count: u64 = count
        .parse()
        .with_context(|| format!("`{expression}`: bad count"))?;
    let seconds = match unit.trim() {
        "minute" | "minutes" => 60,
        "hour" | "hours" => 3600,
        "day" | "days" => 86_400,
        other => bail!("`{expression}`: unknown unit {other}"),
    };
    if count == 0 {
        bail!("`{expression}`: the rate must be positive");
    }
    Ok(Duration::from_secs(count * seconds))
}

async fn fire_schedule(
    schedule: LocalSchedule,
    invoke: Invoker,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut ticks =
        tokio::time::interval_at(tokio::time::Instant::now() + schedule.every, schedule.every);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
        match invoke(schedule.input.clone()).await {
            Ok(_) => {
                tracing::info!(schedule = %schedule.name, "schedule {} fired {}", schedule.name, schedule.function)
            }
            Err(error) => {
                tracing::warn!(schedule = %schedule.name, %error, "schedule {} failed: {error}", schedule.name)
            }
        }
    }
}

/// Polls `worker.queue_url` into its function until shutdown, as Lambda's event source mapping does.
pub async fn poll_queue(
    sqs: aws_sdk_sqs::Client,
    worker: QueueWorker,
    invoke: Invoker,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let received = tokio::select! {
            received = sqs
                .receive_message()
                .queue_url(&worker.queue_url)
                .max_number_of_messages(worker.batch_size.clamp(1, 10))
                .wait_time_seconds(1)
                .message_system_attribute_names(MessageSystemAttributeName::All)
                .message_attribute_names("All")
                .send() => received,
            _ = shutdown.wait_for(|stop| *stop) => return,
        };
        let messages = match received {
            Ok(output) => output.messages.unwrap_or_default(),
            Err(error) => {
                tracing::warn!(queue = %worker.queue, error = %aws_sdk_sqs::error::DisplayErrorContext(&error), "receiving from {} failed", worker.queue);
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if messages.is_empty() {
            continue;
        }
        if let Err(error) = deliver(&sqs, &worker, &invoke, messages).await {
            tracing::warn!(queue = %worker.queue, %error, "delivering a batch from {} failed: {error}", worker.queue);
        }
    }
}

/// Invokes the function with one batch and deletes the messages that succeeded.
pub async fn deliver(
    sqs: &aws_sdk_sqs::Client,
    worker: &QueueWorker,
    invoke: &Invoker,
    messages: Vec<aws_sdk_sqs::types::Message>,
) -> anyhow::Result<()> {
    let queue_arn = format!(
        "arn:aws:sqs:{REGION}:{}:{}",
        crate::provision::ACCOUNT_ID,
        worker.queue_url.rsplit('/').next().unwrap_or_default()
    );
    let mut event = SqsEvent::default();
    let mut handles = BTreeMap::new();
    for message in messages {
        let (Some(id), Some(handle)) = (message.message_id.clone(), message.receipt_handle.clone())
        else {
            continue;
        };
        handles.insert(id, handle);
        event.records.push(to_record(message, &queue_arn));
    }
    let outcome = invoke(serde_json::to_value(&event)?).await;
    let failed: Vec<String> = match outcome {
        // Without ReportBatchItemFailures Lambda treats any response as full success.
        Ok(_) if !worker.report_batch_item_failures => Vec::new(),
        Ok(response) => {
            let response: SqsBatchResponse = serde_json::from_value(response)
                .context("the function's response is not an SQS batch response")?;
            let ids: Vec<String> = response
                .batch_item_failures
                .into_iter()
                .map(|f| f.item_identifier)
                .collect();
            // An identifier that is not in the batch fails the whole batch, as on Lambda.
            if ids.iter().any(|id| !handles.contains_key(id)) {
                handles.keys().cloned().collect()
            } else {
                ids
            }
        }
        Err(error) => {
            tracing::warn!(function = %worker.function, %error, "{} failed the whole batch: {error}", worker.function);
            handles.keys().cloned().collect()
        }
    };
    let entries: Vec<DeleteMessageBatchRequestEntry> = handles
        .iter()
        .filter(|(id, _)| !failed.contains(id))
        .enumerate()
        .map(|(i, (_, handle))| {
            DeleteMessageBatchRequestEntry::builder()
                .id(i.to_string())
                .receipt_handle(handle)
                .build()
        })
        .collect::<Result<_, _>>()?;
    if !entries.is_empty() {
        sqs.delete_message_batch()
            .queue_url(&worker.queue_url)
            .set_entries(Some(entries))
            .send()
            .await?;
    }
    Ok(())
}

fn to_record(message: aws_sdk_sqs::types::Message, queue_arn: &str) -> SqsMessage {
    let mut record = SqsMessage::default();
    record.attributes = message
        .attributes
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k.as_str().to_owned(), v))
        .collect();
    record.message_attributes = message
        .message_attributes
        .unwrap_or_default()
        .into_iter()
        .map(|(name, value)| {
            let mut attribute = SqsMessageAttribute::default();
            attribute.string_value = value.string_value;
            attribute.data_type = Some(value.data_type);
            (name, attribute)
        })
        .collect();
    record.message_id = message.message_id;
    record.receipt_handle = message.receipt_handle;
    record.body = message.body;
    record.md5_of_body = message.md5_of_body;
    record.md5_of_message_attributes = message.md5_of_message_attributes;
    record.event_source = Some("aws:sqs".to_owned());
    record.event_source_arn = Some(queue_arn.to_owned());
    record.aws_region = Some(REGION.to_owned());
    record
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rate_expressions() {
        assert_eq!(
            parse_rate("rate(15 minutes)").unwrap(),
            Duration::from_secs(900)
        );
        assert_eq!(
            parse_rate("rate(1 hour)").unwrap(),
            Duration::from_secs(3600)
        );
        assert_eq!(
            parse_rate("rate(6 hours)").unwrap(),
            Duration::from_secs(21_600)
        );
        for bad in [
            "cron(0 12 * * ? *)",
            "rate(0 minutes)",
            "rate(5 weeks)",
            "rate(five minutes)",
        ] {
            assert!(parse_rate(bad).is_err(), "{bad}");
        }
    }
}
