#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::edge::runtime::serve_events(
        shared::edge::deps::maintenance::MaintenanceDeps::build,
        maintenance::handle,
    )
    .await
}
