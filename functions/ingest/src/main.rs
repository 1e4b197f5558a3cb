// The handler's future (object read → report → sales writes → queue) nests deeper than the
// default limit when its layout is computed.
#![recursion_limit = "256"]

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::edge::runtime::serve_events(ingest::IngestDeps::build, ingest::handle).await
}
