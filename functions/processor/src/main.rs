#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::edge::runtime::serve_events(
        shared::edge::deps::processor::ProcessorDeps::build,
        processor::handle,
    )
    .await
}
