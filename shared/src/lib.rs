//! Churn Saver's shared library, in four layers (see `docs/architecture.md`):
//!
//! - [`domain`]: the pure core. The state model and its fold, churn signals, sessions and tokens,
//!   the circuit breaker, sync planning, and every port (trait) the domain needs from the world.
//!   No AWS, Lambda or HTTP types and no import of another layer (`shared/tests/layers.rs`);
//!   errors are domain errors.
//! - [`providers`]: one module per provider (`whop`, `stripe`, `standard`), each owning its
//!   signature schemes, its envelope → [`domain::webhooks::event::Event`], its observations and,
//!   where it has one, its API client; and the resilient client those API clients share.
//! - [`aws`]: the adapters that implement the ports over DynamoDB, SQS, Secrets Manager and HTTP.
//! - [`edge`]: configuration, the per-cold-start [`App`], the Lambda runtime glue, HTTP mapping
//!   ([`ApiError`]) and one composition root per function, built once at cold start.
//!
//! Function crates stay thin: they parse an event, call into here and map the result.

pub mod aws;
pub mod domain;
pub mod edge;
pub mod providers;

pub use edge::app::App;
pub use edge::config::Config;
pub use edge::error::ApiError;
