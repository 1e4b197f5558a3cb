//! Whop: its user tokens ([`user_token`]), its v1 API client ([`api`]) and its ids ([`ids`]).

pub mod api;
pub mod ids;
pub mod user_token;
