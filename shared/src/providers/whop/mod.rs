//! Whop: its user tokens ([`user_token`]), its v1 API client ([`api`]), its ids ([`ids`]), and its
//! webhooks: the signature schemes ([`verify`]), the envelope ([`normalise`]) and the observations
//! ([`observe`]).

pub mod api;
pub mod ids;
pub mod normalise;
pub mod observe;
pub mod sync_source;
pub mod user_token;
pub mod verify;
