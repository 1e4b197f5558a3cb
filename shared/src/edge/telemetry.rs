//! Logging setup.
//!
//! `lambda_runtime`'s subscriber honours Lambda's advanced logging controls: with the template's
//! `LoggingConfig: {LogFormat: JSON}` every line is JSON, and the runtime's per-invocation span puts
//! the Lambda `requestId` on each of them. `AWS_LAMBDA_LOG_LEVEL` wins over `RUST_LOG`.

/// Installs the global subscriber; call once, first thing in `main`.
pub fn init() {
    lambda_runtime::tracing::init_default_subscriber();
}
