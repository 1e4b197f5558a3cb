// The sync handler's future (page job → Whop API → cached key read) nests deeper than the
// default limit when its layout is computed.
#![recursion_limit = "256"]

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::edge::runtime::serve_events(sync::SyncDeps::build, sync::handle).await
}
