//! The operator CLI's library: the local stack (emulator, provisioning from the SAM template,
//! routes, queue workers, schedules) and the ops commands. The integration tests use it too.

pub mod breaker;
pub mod creator;
pub mod dlq;
pub mod fake_ga4;
pub mod fake_google;
pub mod fake_gumroad;
pub mod fake_mail;
pub mod fake_messaging;
pub mod fake_paypal;
// Error reporting's sinks (README "Error reporting").
pub mod fake_sinks;
pub mod fake_stripe;
pub mod fake_whop;
pub mod functions;
pub mod gumroad;
pub mod kdp;
pub mod local;
pub mod moto;
pub mod runs;
pub mod standin;
pub mod target;
pub mod template;
pub mod webhook;

pub mod verify;

use std::path::{Path, PathBuf};

/// The workspace root (where `infra/template.yaml` and `.tools/` live).
pub fn workspace_root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("..");
    root.canonicalize().unwrap_or(root)
}

/// The SAM template every local resource comes from.
pub fn template_path() -> PathBuf {
    workspace_root().join("infra").join("template.yaml")
}
