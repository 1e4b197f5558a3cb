//! Test harness: one moto server per test process, and a fresh stack per test.
//!
//! Isolation comes from names rather than resets: every test provisions the template under its
//! own stack name, so tests run in parallel against one emulator without seeing each other's
//! tables, queues or secrets (a reset would wipe the stacks of tests still running).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};

use churnsaver::local::{LocalOptions, LocalStack};
use churnsaver::moto::MotoServer;

/// The process-wide emulator. It is never dropped; its launcher exits when this process does.
pub fn moto() -> &'static MotoServer {
    static MOTO: OnceLock<MotoServer> = OnceLock::new();
    MOTO.get_or_init(|| MotoServer::start().expect("starting moto"))
}

/// A unique stack name for one test.
pub fn stack_name() -> String {
    format!("t{}", &uuid::Uuid::new_v4().simple().to_string()[..12])
}

/// The local stack, provisioned from `infra/template.yaml` under a fresh name, on a free port,
/// without queue workers or schedules (the test drives those itself).
pub async fn start_stack() -> LocalStack {
    start_stack_with(BTreeMap::new()).await
}

pub async fn start_stack_with(parameters: BTreeMap<String, String>) -> LocalStack {
    start(parameters, false).await
}

/// The whole local stack as `churnsaver local` runs it: workers and schedules included.
pub async fn start_running_stack() -> LocalStack {
    start_running_stack_with(BTreeMap::new()).await
}

pub async fn start_running_stack_with(parameters: BTreeMap<String, String>) -> LocalStack {
    start(parameters, true).await
}

async fn start(parameters: BTreeMap<String, String>, background: bool) -> LocalStack {
    let endpoint = tokio::task::spawn_blocking(|| moto().endpoint())
        .await
        .unwrap();
    LocalStack::start(LocalOptions {
        template: churnsaver::template_path(),
        stack_name: stack_name(),
        bind: "127.0.0.1:0".parse().unwrap(),
        endpoint,
        parameters,
        background,
    })
    .await
    .expect("starting the local stack")
}

/// GET (or another method) on the stack, returning status and JSON body.
pub async fn call(stack: &LocalStack, method: &str, path: &str) -> (u16, serde_json::Value) {
    let url = format!("{}{path}", stack.base_url());
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let response = reqwest::Client::new()
        .request(method, &url)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or(serde_json::Value::Null);
    (status, body)
}

/// What a `GET` with a bearer token got back.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub status: u16,
    /// The `Retry-After` header, in seconds.
    pub retry_after: Option<u64>,
    /// The JSON body (`null` when there is none).
    pub body: serde_json::Value,
}

/// `GET path` on the stack with `token` as the bearer.
pub async fn get_with_token(stack: &LocalStack, path: &str, token: &str) -> Answer {
    let response = reqwest::Client::new()
        .get(format!("{}{path}", stack.base_url()))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().parse().unwrap());
    Answer {
        status: response.status().as_u16(),
        retry_after,
        body: response.json().await.unwrap_or(serde_json::Value::Null),
    }
}

/// The names of the failed checks in a health report.
pub fn failed_checks(report: &serde_json::Value) -> Vec<String> {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "failed")
        .map(|c| c["name"].as_str().unwrap().to_owned())
        .collect()
}

/// The fixture `events/<name>`.
pub fn fixture(name: &str) -> String {
    let path = churnsaver::workspace_root().join("events").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Records the operation of every request an SDK client puts on the wire (retries included), from
/// the `X-Amz-Target` header of the JSON protocols (`DynamoDB_20120810.UpdateItem`,
/// `AmazonSQS.SendMessage`, `secretsmanager.GetSecretValue`).
///
/// The adds to the provider rate limit every instance shares (`RATE#api:…` items) are left out:
/// a provider call takes one, or one more when it lands at the end of its window and waits for the
/// next, so their number depends on the clock. `tests/it/sync_companies.rs` counts the calls per
/// window instead.
#[derive(Debug, Clone, Default)]
pub struct RequestLog(Arc<Mutex<Vec<String>>>);

impl RequestLog {
    /// The operations since the last call, oldest first (`UpdateItem`, `SendMessage`, …).
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }

    /// A copy of `app` whose AWS clients record into this log.
    pub fn app(&self, app: &shared::App) -> Arc<shared::App> {
        app_with(app, self, None)
    }
}

/// A copy of `app` whose three AWS clients (DynamoDB, SQS, Secrets Manager) run `interceptor`,
/// and `retry` instead of their retry configuration when given.
pub fn app_with(
    app: &shared::App,
    interceptor: &(impl aws_sdk_dynamodb::config::Intercept + Clone + 'static),
    retry: Option<aws_sdk_dynamodb::config::retry::RetryConfig>,
) -> Arc<shared::App> {
    let mut app = app.clone();
    let mut dynamodb = app.dynamodb.config().to_builder();
    let mut sqs = app.sqs.config().to_builder();
    let mut secrets = app.secrets_manager.config().to_builder();
    if let Some(retry) = retry {
        dynamodb.set_retry_config(Some(retry.clone()));
        sqs.set_retry_config(Some(retry.clone()));
        secrets.set_retry_config(Some(retry));
    }
    app.dynamodb =
        aws_sdk_dynamodb::Client::from_conf(dynamodb.interceptor(interceptor.clone()).build());
    app.sqs = aws_sdk_sqs::Client::from_conf(sqs.interceptor(interceptor.clone()).build());
    app.secrets_manager =
        aws_sdk_secretsmanager::Client::from_conf(secrets.interceptor(interceptor.clone()).build());
    Arc::new(app)
}

impl aws_sdk_dynamodb::config::Intercept for RequestLog {
    fn name(&self) -> &'static str {
        "RequestLog"
    }

    fn read_before_transmit(
        &self,
        context: &aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef<'_>,
        _components: &aws_sdk_dynamodb::config::RuntimeComponents,
        _config: &mut aws_sdk_dynamodb::config::ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        let request = context.request();
        let shared_limit_add = request
            .body()
            .bytes()
            .is_some_and(|body| body.windows(9).any(|w| w == b"RATE#api:"));
        if !shared_limit_add {
            let operation = crate::faults::operation(request.headers());
            self.0.lock().unwrap().push(operation);
        }
        Ok(())
    }
}

/// A delivery of `body` from `source`, signed with the stack's first secret as the sender signs
/// (Whop and Standard Webhooks: `message_id` is the `webhook-id`).
pub async fn signed_webhook(
    app: &shared::App,
    source: shared::domain::webhooks::Source,
    body: &str,
    message_id: &str,
) -> http::Request<axum::body::Body> {
    let secret = churnsaver::local::webhook_secret(app, source.as_str())
        .await
        .unwrap();
    let secret = shared::domain::webhooks::verify::SigningSecret::parse(source, &secret).unwrap();
    signed_request(source, &secret, body, message_id)
}

/// A delivery of `body` from `source` signed now with `secret`.
pub fn signed_request(
    source: shared::domain::webhooks::Source,
    secret: &shared::domain::webhooks::verify::SigningSecret,
    body: &str,
    message_id: &str,
) -> http::Request<axum::body::Body> {
    let mut request = http::Request::post(format!("/webhooks/{source}"))
        .header("content-type", "application/json");
    let now = chrono::Utc::now().timestamp();
    for (name, value) in shared::providers::sign(source, secret, body.as_bytes(), now, message_id) {
        request = request.header(name, value);
    }
    request
        .body(axum::body::Body::from(body.to_owned()))
        .unwrap()
}

/// A session of `user` on the stack, as `POST /auth/session` opens one; its bearer token.
pub async fn open_session(stack: &LocalStack, user: &str) -> String {
    let issued = shared::edge::deps::auth::session_service(&stack.app)
        .create(user, &shared::domain::auth::sessions::Client::default())
        .await
        .unwrap();
    secrecy::ExposeSecret::expose_secret(&issued.token).to_owned()
}

/// Everything on the stack's events queue, with its attributes, received once (each message then
/// stays hidden for the queue's visibility timeout).
pub async fn receive_all(stack: &LocalStack) -> Vec<aws_sdk_sqs::types::Message> {
    receive_all_from(stack, &stack.app.config.queues.events).await
}

/// Everything on the queue at `queue_url`, as [`receive_all`] reads the events queue.
pub async fn receive_all_from(
    stack: &LocalStack,
    queue_url: &str,
) -> Vec<aws_sdk_sqs::types::Message> {
    let mut all = Vec::new();
    loop {
        let batch = stack
            .app
            .sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .message_attribute_names("All")
            .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
            .send()
            .await
            .unwrap()
            .messages
            .unwrap_or_default();
        if batch.is_empty() {
            return all;
        }
        all.extend(batch);
    }
}

/// Every item of the state table whose `pk` starts with `prefix` (`SUPPRESS#`, `NOTIFY#`, …).
pub async fn state_items(
    app: &shared::App,
    prefix: &str,
) -> Vec<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
    app.dynamodb
        .scan()
        .table_name(&app.config.tables.state)
        .filter_expression("begins_with(pk, :p)")
        .expression_attribute_values(
            ":p",
            aws_sdk_dynamodb::types::AttributeValue::S(prefix.to_owned()),
        )
        .send()
        .await
        .unwrap()
        .items
        .unwrap_or_default()
}
