//! The edge: configuration, the per-cold-start [`App`](app::App), the Lambda runtime glue, HTTP
//! request/response mapping ([`ApiError`](error::ApiError)) and the health report.

pub mod app;
pub mod config;
pub mod error;
pub mod health;
pub mod http;
pub mod runtime;
pub mod telemetry;
pub mod webhooks;
