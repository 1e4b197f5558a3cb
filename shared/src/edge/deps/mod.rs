//! One composition root per function: the adapters, caches and services it runs on, built once
//! at cold start from the [`App`](crate::App) by [`crate::edge::runtime`] and handed to every
//! invocation. Each root's `build` takes the `Arc<App>`; what a function builds lazily (a
//! provider client whose TLS set-up is cold-start time it may never need) is still built at most
//! once, inside its root.

pub mod auth;
pub mod gumroad;
pub mod health;
// KDP report uploads (`functions/ingest`).
pub mod ingest;
pub mod maintenance;
pub mod notify;
pub mod processor;
pub mod rotate_secret;
pub mod state;
pub mod sync;
pub mod webhooks;
