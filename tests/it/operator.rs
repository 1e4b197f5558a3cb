//! The placeholder authorizer: protected routes admit the stack's operator token and nothing else.

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use churnsaver::functions::{LocalFunction, registry};
use churnsaver::local::{LocalStack, http_router, operator_token};
use http::Request;
use serde_json::{Value, json};
use shared::operator::{Denied, OperatorGate, TOKEN_TTL};
use shared::ports::SystemClock;
use tower::ServiceExt;

use crate::helpers::start_stack;

const PROTECTED: [(&str, &str); 3] = [
    ("GET", "/memberships/mem_x"),
    ("GET", "/users/user_x/memberships"),
    ("POST", "/sync"),
];

/// `method path` on the stack with an optional `Authorization` header: status and JSON body.
async fn call_with(
    stack: &LocalStack,
    method: &str,
    path: &str,
    authorization: Option<&str>,
) -> (u16, Value) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = reqwest::Client::new().request(method, format!("{}{path}", stack.base_url()));
    if let Some(authorization) = authorization {
        request = request.header("authorization", authorization);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn forbidden() -> (u16, Value) {
    (403, json!({"message": "Forbidden"}))
}

/// A fresh gate over the stack's secret, so a changed value is read without waiting out the TTL
/// of the stack's own authorizer.
fn fresh_gate(stack: &LocalStack) -> OperatorGate<aws_sdk_secretsmanager::Client, SystemClock> {
    OperatorGate::new(
        stack.app.secrets_manager.clone(),
        SystemClock,
        stack.app.config.secrets.operator_token.clone(),
        TOKEN_TTL,
    )
}

#[tokio::test]
async fn protected_routes_admit_only_the_operator_token() {
    let stack = start_stack().await;
    let token = operator_token(&stack.app).await.unwrap();
    assert_eq!(token.len(), 48);

    let wrong = format!("Bearer {}", "0".repeat(48));
    let right = format!("Bearer {token}");
    let lowercase = format!("bearer {token}");
    for (method, path) in PROTECTED {
        assert_eq!(
            call_with(&stack, method, path, None).await,
            forbidden(),
            "{method} {path} without a token"
        );
        for denied in [wrong.as_str(), token.as_str(), "Bearer ", "Basic b3A6b3A="] {
            assert_eq!(
                call_with(&stack, method, path, Some(denied)).await,
                forbidden(),
                "{method} {path} with {denied:?}"
            );
        }
        for admitted in [&right, &lowercase] {
            let (status, body) = call_with(&stack, method, path, Some(admitted)).await;
            assert!(
                ![401, 403, 500].contains(&status),
                "{method} {path}: {status} {body}"
            );
        }
    }
}

#[tokio::test]
async fn the_route_sees_the_authorizer_principal() {
    let stack = start_stack().await;
    let token = operator_token(&stack.app).await.unwrap();
    // The state function's routes, answered by a stand-in that reports what the authorizer passed.
    let mut functions = registry(&stack.app);
    let echo = Router::new().route(
        "/memberships/{id}",
        get(|parts: http::request::Parts| async move {
            axum::Json(json!({
                "principal": shared::http::authorizer_principal(&parts.extensions)
            }))
        }),
    );
    functions.insert(
        "state",
        LocalFunction {
            http: Some(echo),
            invoke: None,
        },
    );
    let (router, _) = http_router(&stack.provisioned, &functions).unwrap();

    let request = Request::get("/memberships/mem_x")
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    let response = router.oneshot(request).await.unwrap();
    assert_eq!(response.status(), 200);
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body, json!({"principal": "operator"}));
}

/// `GET /memberships/mem_x` through a cold authorizer: a fresh registry has an empty token cache.
async fn cold_status(stack: &LocalStack, authorization: &str) -> u16 {
    let (router, _) = http_router(&stack.provisioned, &registry(&stack.app)).unwrap();
    let request = Request::get("/memberships/mem_x")
        .header("authorization", authorization)
        .body(Body::empty())
        .unwrap();
    router.oneshot(request).await.unwrap().status().as_u16()
}

#[tokio::test]
async fn a_blanked_or_short_token_admits_no_one() {
    let stack = start_stack().await;
    let secret_id = stack.app.config.secrets.operator_token.clone().unwrap();
    let token = operator_token(&stack.app).await.unwrap();
    let bearer = format!("Bearer {token}");
    assert_eq!(fresh_gate(&stack).admit(Some(&bearer)).await, Ok(()));
    assert_ne!(cold_status(&stack, &bearer).await, 403);

    // moto refuses an empty SecretString, so "emptied" is a lone newline (blank once trimmed).
    for replacement in ["\n", &token[..31]] {
        stack
            .app
            .secrets_manager
            .put_secret_value()
            .secret_id(&secret_id)
            .secret_string(replacement)
            .send()
            .await
            .unwrap();

        assert_eq!(
            fresh_gate(&stack).admit(Some(&bearer)).await,
            Err(Denied::UnusableToken),
            "{replacement:?}"
        );
        assert_eq!(cold_status(&stack, &bearer).await, 403, "{replacement:?}");
        let short = format!("Bearer {}", replacement.trim());
        assert_eq!(cold_status(&stack, &short).await, 403, "{replacement:?}");
    }
}

#[tokio::test]
async fn an_unreadable_token_denies_rather_than_fails() {
    let stack = start_stack().await;
    let token = operator_token(&stack.app).await.unwrap();
    let gate = OperatorGate::new(
        stack.app.secrets_manager.clone(),
        SystemClock,
        Some(format!(
            "{}-missing",
            stack.app.config.secrets.operator_token.as_deref().unwrap()
        )),
        TOKEN_TTL,
    );
    assert!(matches!(
        gate.admit(Some(&format!("Bearer {token}"))).await,
        Err(Denied::Unavailable(_))
    ));
}
