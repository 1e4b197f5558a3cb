// The authorizer future nests the session, key-cache and SDK futures deeper than the default limit.
#![recursion_limit = "256"]

use std::sync::Arc;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::edge::runtime::serve_events_with(
        |app| Arc::new(auth::AuthorizerState::new(&app)),
        auth::authorize,
    )
    .await
}
