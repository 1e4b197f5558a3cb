//! One module per provider, and the resilient HTTP client their API clients share.

pub mod client;
pub mod whop;
