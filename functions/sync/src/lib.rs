//! The sync function. One Lambda with three triggers: `POST /sync` (HTTP API), pages of a run
//! from the `sync-jobs` queue, and the periodic reconcile schedule.

use std::sync::Arc;

use aws_lambda_events::sqs::SqsEvent;
use axum::Router;
use axum::routing::post;
use lambda_http::request::LambdaRequest;
use lambda_runtime::LambdaEvent;
use serde_json::Value;
use shared::error::EventError;
use shared::{ApiError, App};

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/sync", post(start))
        .fallback(shared::http::route_not_found)
        .with_state(app)
}

async fn start() -> ApiError {
    ApiError::NotImplemented { what: "sync" }
}

/// What invoked the function, told apart by the payload's shape.
#[derive(Debug)]
pub enum Trigger {
    /// An API Gateway HTTP API request (it has a `requestContext`).
    Http(Box<LambdaRequest>),
    /// A batch from the `sync-jobs` queue (it has `Records`).
    Jobs(SqsEvent),
    /// The schedule's `Input`, delivered verbatim.
    Schedule(Value),
}

impl Trigger {
    pub fn classify(payload: Value) -> Result<Self, EventError> {
        let malformed = |e: serde_json::Error| EventError::Malformed(e.to_string());
        if payload.get("requestContext").is_some() {
            serde_json::from_value(payload)
                .map(|r| Self::Http(Box::new(r)))
                .map_err(malformed)
        } else if payload.get("Records").is_some() {
            serde_json::from_value(payload)
                .map(Self::Jobs)
                .map_err(malformed)
        } else {
            Ok(Self::Schedule(payload))
        }
    }
}

pub async fn handle(app: Arc<App>, event: LambdaEvent<Value>) -> Result<Value, EventError> {
    match Trigger::classify(event.payload)? {
        Trigger::Http(request) => {
            let response = shared::http::serve_api_gateway_event(router(app), *request).await;
            serde_json::to_value(response).map_err(|e| EventError::Malformed(e.to_string()))
        }
        Trigger::Jobs(_) => Err(EventError::NotImplemented { what: "sync jobs" }),
        Trigger::Schedule(_) => Err(EventError::NotImplemented {
            what: "scheduled reconcile",
        }),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn tells_the_three_triggers_apart() {
        let http = json!({
            "version": "2.0", "routeKey": "POST /sync", "rawPath": "/sync", "rawQueryString": "",
            "headers": {}, "isBase64Encoded": false,
            "requestContext": {"accountId": "1", "apiId": "a", "domainName": "d", "domainPrefix": "d",
                "http": {"method": "POST", "path": "/sync", "protocol": "HTTP/1.1", "sourceIp": "1.2.3.4", "userAgent": "t"},
                "requestId": "r", "routeKey": "POST /sync", "stage": "$default", "time": "t", "timeEpoch": 0}
        });
        assert!(matches!(Trigger::classify(http), Ok(Trigger::Http(_))));
        assert!(matches!(
            Trigger::classify(json!({"Records": []})),
            Ok(Trigger::Jobs(_))
        ));
        assert!(matches!(
            Trigger::classify(json!({"kind": "reconcile", "provider": "whop"})),
            Ok(Trigger::Schedule(_))
        ));
        assert!(matches!(
            Trigger::classify(json!({"Records": "not a list"})),
            Err(EventError::Malformed(_))
        ));
    }
}
