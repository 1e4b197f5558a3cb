//! The pure core: no AWS, Lambda or HTTP types, and no import of [`crate::aws`] or
//! [`crate::edge`] (a test in `tests/layers.rs` holds this). Its errors are domain errors; the
//! edge maps them to HTTP.

pub mod analytics;
pub mod api_limit;
pub mod auth;
pub mod breaker;
pub mod cache;
pub mod companies;
pub mod connections;
pub mod creators;
pub mod emergency;
// KDP report uploads and their jobs.
pub mod ingest;
pub mod json;
pub mod maintenance;
pub mod metrics;
pub mod notify;
pub mod ports;
pub mod sales;
pub mod secret;
pub mod state;
pub mod sync;
pub mod time;
pub mod webhooks;

/// A short, stable fingerprint of a secret for logs: the first 8 hex digits of its SHA-256.
/// Never log the secret itself.
pub fn fingerprint(secret: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(secret);
    hex::encode(&digest[..4])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_is_eight_hex_digits_of_sha256() {
        // sha256("abc") = ba7816bf…
        assert_eq!(fingerprint(b"abc"), "ba7816bf");
    }
}
