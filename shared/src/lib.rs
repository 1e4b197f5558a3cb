//! Churn Saver's shared library: configuration, the per-cold-start [`App`] context, typed errors,
//! the ports the domain needs from the world and their AWS adapters, and the domain logic itself.
//!
//! Function crates stay thin: they parse an event, call a function in here and map the result.

pub mod adapters;
pub mod app;
pub mod auth;
pub mod breaker;
pub mod client;
pub mod config;
pub mod error;
pub mod health;
pub mod http;
pub mod metrics;
pub mod ports;
pub mod runtime;
pub mod state;
pub mod sync;
pub mod telemetry;
pub mod webhooks;
pub mod whop_api;

pub use app::App;
pub use config::Config;
pub use error::ApiError;
