//! Authentication: the keys that sign session tokens (read from Secrets Manager, rotated by its
//! four-step protocol) and the verification of the tokens that establish a session.

pub mod keys;
pub mod limits;
pub mod rotation;
