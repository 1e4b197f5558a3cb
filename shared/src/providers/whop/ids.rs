//! Whop's ids.

/// Whether `value` is a Whop id of the kind `prefix` names (`app_`, `user_`, …): the prefix
/// followed by at least one ASCII letter or digit, and nothing else.
pub fn is_whop_id(value: &str, prefix: &str) -> bool {
    value
        .strip_prefix(prefix)
        .is_some_and(|rest| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric()))
}
