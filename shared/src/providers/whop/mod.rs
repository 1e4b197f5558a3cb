//! Whop: its user tokens ([`user_token`]) and its v1 API client ([`api`]).

pub mod api;
pub mod user_token;
