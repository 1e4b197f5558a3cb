//! The rotation function for the session signing keys (Secrets Manager's four steps).

use std::sync::Arc;

use aws_lambda_events::secretsmanager::SecretsManagerSecretRotationEvent;
use lambda_runtime::LambdaEvent;
use shared::App;
use shared::error::EventError;

pub async fn handle(
    _app: Arc<App>,
    _event: LambdaEvent<SecretsManagerSecretRotationEvent>,
) -> Result<(), EventError> {
    Err(EventError::NotImplemented {
        what: "secret rotation",
    })
}
