#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::edge::runtime::serve_http_with(
        shared::edge::deps::webhooks::WebhooksDeps::build,
        webhooks::router,
    )
    .await
}
