//! Authentication of the people who use the app: Whop user tokens ([`crate::providers::whop::user_token`]) establish
//! revocable sessions ([`sessions`]) signed with rotated keys ([`keys`], [`rotation`]); failed
//! attempts are counted per source IP ([`limits`]) under one policy ([`attempts`]).

pub mod attempts;
pub mod keys;
pub mod limits;
pub mod rotation;
pub mod sessions;
