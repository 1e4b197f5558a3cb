//! The rotation function's dependencies: Secrets Manager, which holds the keys it rotates.

use std::sync::Arc;

use crate::App;

/// Built once per cold start.
pub struct RotateSecretDeps {
    pub secrets: aws_sdk_secretsmanager::Client,
}

impl RotateSecretDeps {
    #[expect(
        clippy::needless_pass_by_value,
        reason = "every composition root is built from the runtime's Arc<App>"
    )]
    pub fn build(app: Arc<App>) -> Self {
        Self {
            secrets: app.secrets_manager.clone(),
        }
    }
}
