//! The rotation function for the session signing keys (Secrets Manager's four steps). The steps
//! themselves are in [`shared::domain::auth::rotation`]; this parses the event and maps the errors.

use std::sync::Arc;

use aws_lambda_events::secretsmanager::SecretsManagerSecretRotationEvent;
use lambda_runtime::LambdaEvent;
use shared::domain::auth::rotation::{self, RotationError, Step};
use shared::edge::deps::rotate_secret::RotateSecretDeps;
use shared::edge::error::EventError;

pub async fn handle(
    deps: Arc<RotateSecretDeps>,
    event: LambdaEvent<SecretsManagerSecretRotationEvent>,
) -> Result<(), EventError> {
    let (step, secret_id, token) = request(&event.payload)?;
    rotation::run_step(&deps.secrets, secret_id, token, step)
        .await
        .map(drop)
        .map_err(event_error)
}

/// The step, secret id and `ClientRequestToken` of a rotation event.
fn request(event: &SecretsManagerSecretRotationEvent) -> Result<(Step, &str, &str), EventError> {
    let step = Step::parse(&event.step)
        .ok_or_else(|| EventError::Malformed(format!("unknown rotation step `{}`", event.step)))?;
    if event.secret_id.is_empty() || event.client_request_token.is_empty() {
        return Err(EventError::Malformed(
            "the event lacks SecretId or ClientRequestToken".to_owned(),
        ));
    }
    Ok((step, &event.secret_id, &event.client_request_token))
}

/// Secrets Manager failures may pass on a retry; a refused step (wrong token, another rotation in
/// progress, an unusable key) will not.
fn event_error(error: RotationError) -> EventError {
    match error {
        RotationError::Dependency(cause) => EventError::Dependency {
            dependency: "secrets manager",
            detail: cause.to_string(),
        },
        refused => EventError::Malformed(refused.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use shared::domain::ports::DependencyError;

    use super::*;

    fn event(step: &str) -> SecretsManagerSecretRotationEvent {
        serde_json::from_value(serde_json::json!({
            "Step": step,
            "SecretId": "arn:aws:secretsmanager:us-east-1:1:secret:keys",
            "ClientRequestToken": "11111111-1111-4111-8111-111111111111",
        }))
        .unwrap()
    }

    #[test]
    fn reads_step_secret_and_token_from_the_event() {
        let event = event("finishSecret");
        let (step, secret_id, token) = request(&event).unwrap();
        assert_eq!(step, Step::Finish);
        assert_eq!(secret_id, "arn:aws:secretsmanager:us-east-1:1:secret:keys");
        assert_eq!(token, "11111111-1111-4111-8111-111111111111");
    }

    #[test]
    fn an_unknown_step_or_missing_token_is_malformed() {
        assert!(matches!(
            request(&event("rollbackSecret")),
            Err(EventError::Malformed(message)) if message.contains("rollbackSecret")
        ));
        let mut tokenless = event("createSecret");
        tokenless.client_request_token.clear();
        assert!(matches!(request(&tokenless), Err(EventError::Malformed(_))));
    }

    #[test]
    fn only_dependency_failures_are_retryable() {
        let diagnostic: lambda_runtime::Diagnostic =
            event_error(RotationError::Dependency(DependencyError::Timeout)).into();
        assert_eq!(diagnostic.error_type, "Retryable");
        let diagnostic: lambda_runtime::Diagnostic = event_error(RotationError::InProgress {
            version: "v2".into(),
        })
        .into();
        assert_eq!(diagnostic.error_type, "NonRetryable");
        assert!(diagnostic.error_message.contains("in progress"));
    }
}
