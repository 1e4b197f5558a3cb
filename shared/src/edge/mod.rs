//! The edge: configuration, the per-cold-start [`App`](app::App), one composition root per
//! function ([`deps`]), the Lambda runtime glue ([`runtime`]: SQS records become the domain's
//! messages there), HTTP request/response mapping ([`ApiError`](error::ApiError), domain errors
//! mapped in [`mapping`] and [`sync`]) and the health report.

pub mod app;
pub mod companies;
pub mod config;
pub mod connections;
pub mod creators;
pub mod deps;
pub mod error;
pub mod health;
pub mod http;
// KDP report uploads.
pub mod ingestions;
pub mod mapping;
pub mod runtime;
pub mod sales;
pub mod sync;
pub mod telemetry;
pub mod webhooks;
