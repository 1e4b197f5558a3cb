//! Integration and end-to-end tests. Everything that touches AWS runs the real SDK clients against
//! moto's server, which the harness installs (pinned, project-local venv) and starts itself.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test harness helpers: a failed step is a failed test"
)]

mod adapters;
// Companies' GA4 analytics.
mod analytics;
mod breaker;
mod chaos;
mod companies;
mod companies_index;
// The API contract (docs/openapi.yaml).
mod contract;
mod creators;
mod digest;
mod dlq;
mod emergency;
// Error reporting (README "Error reporting").
mod error_reporting;
mod events;
mod faults;
mod google;
mod gumroad;
mod gumroad_confirm;
mod gumroad_sync;
mod health;
// KDP report uploads.
mod helpers;
mod ingest;
mod limits;
mod local_stack;
mod lockout;
mod maintenance;
// The template's dashboard and alarms against the metric catalogue.
mod metrics;
mod notify;
mod oracle;
mod paypal;
mod paypal_sync;
mod per_user;
mod processor;
mod requests;
mod rotation;
mod sales;
mod sessions;
mod stripe_sync;
mod sync;
mod sync_companies;
mod unsubscribe;
mod verify;
mod webhooks;
mod whop_token;
