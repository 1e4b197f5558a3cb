//! Logging setup.
//!
//! `lambda_runtime`'s subscriber honours Lambda's advanced logging controls: with the template's
//! `LoggingConfig: {LogFormat: JSON}` every line is JSON, and the runtime's per-invocation span puts
//! the Lambda `requestId` on each of them. `AWS_LAMBDA_LOG_LEVEL` wins over `RUST_LOG`.

/// Installs the global subscriber; call once, first thing in `main`.
pub fn init() {
    lambda_runtime::tracing::init_default_subscriber();
}

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
