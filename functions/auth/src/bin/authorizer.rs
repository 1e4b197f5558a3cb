use std::sync::Arc;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::runtime::serve_events_with(
        |app| Arc::new(auth::AuthorizerState::new(&app)),
        auth::authorize,
    )
    .await
}
