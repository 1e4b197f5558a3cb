//! The template's HTTP API routes, each served through its function's own router, with the
//! HttpApi's Lambda authorizers run in front of the routes that name one.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::Arc;

use anyhow::{anyhow, bail};
use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter};
use http::StatusCode;
use serde_json::{Value, json};
use tower::ServiceExt;

use super::invoker_of;
use super::provision::{ACCOUNT_ID, Provisioned, REGION};
use crate::functions::{Invoker, LocalFunction};
use crate::template::{EventDef, HttpRoute};

/// A served route: the template's route and the handler serving it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ServedRoute {
    pub route: HttpRoute,
    pub handler: String,
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
    for (function, event) in provisioned.events() {
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
                    "accountId": ACCOUNT_ID, "apiId": "local", "domainName": "localhost",
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
                            internal_server_error()
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
                    internal_server_error()
                }
            };
            Ok::<_, Infallible>(response)
        }
    })
}

/// API Gateway's answer when the authorizer fails: a 500 `{"message":"Internal Server Error"}`.
fn internal_server_error() -> Response {
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        axum::Json(json!({"message": "Internal Server Error"})),
    )
        .into_response()
}

/// The API's OpenAPI document (`docs/openapi.yaml`), as the local stack serves it at
/// [`OPENAPI_PATH`]. Local only: the deployed API serves the template's routes and no more.
pub const OPENAPI_DOCUMENT: &str = include_str!("../../../../docs/openapi.yaml");

/// Where the local stack serves [`OPENAPI_DOCUMENT`].
pub const OPENAPI_PATH: &str = "/openapi.yaml";

/// `router` with [`OPENAPI_DOCUMENT`] at [`OPENAPI_PATH`].
pub fn with_openapi_document(router: Router) -> Router {
    router.route(
        OPENAPI_PATH,
        axum::routing::get(|| async {
            (
                [(http::header::CONTENT_TYPE, "application/yaml")],
                OPENAPI_DOCUMENT,
            )
        }),
    )
}
