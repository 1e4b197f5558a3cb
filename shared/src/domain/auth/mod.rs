//! Authentication of the people who use the app: Whop user tokens ([`crate::providers::whop::user_token`]) establish
//! revocable sessions ([`sessions`]) signed with rotated keys ([`keys`], [`rotation`]); failed
//! attempts are counted per source IP ([`limits`]) under one policy ([`attempts`]). Google accounts sign
//! in through OpenID Connect ([`oidc`]) to the same sessions.

pub mod attempts;
pub mod keys;
pub mod limits;
pub mod oidc;
pub mod rotation;
pub mod sessions;
