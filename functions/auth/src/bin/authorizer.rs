// The authorizer future nests the session, key-cache and SDK futures deeper than the default limit.
#![recursion_limit = "256"]

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::edge::runtime::serve_events(
        shared::edge::deps::auth::AuthorizerDeps::build,
        auth::authorize,
    )
    .await
}
