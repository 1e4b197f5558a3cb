#![recursion_limit = "256"]

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::edge::runtime::serve_events(
        shared::edge::deps::notify::NotifyDeps::build,
        notify::handle,
    )
    .await
}
