//! Secrets Manager adapter: reads, the rotation calls and secret ages. Reads always name their `VersionStage`
//! (moto serves stale values otherwise); the in-process cache over any [`SecretSource`] is
//! [`crate::domain::secret::VersionedSecret`] (AWS's own caching crate pulls in the legacy hyper
//! 0.14 / rustls 0.21 stack).

use std::collections::BTreeMap;

use aws_sdk_secretsmanager::Client;
use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};

use super::dependency_error;
use crate::domain::ports::{
    DependencyError, RotationStore, SecretAges, SecretSource, SecretVersion, VersionStage,
};

impl SecretSource for Client {
    async fn secret_version(
        &self,
        secret_id: &str,
        stage: VersionStage,
    ) -> Result<Option<SecretVersion>, DependencyError> {
        let result = self
            .get_secret_value()
            .secret_id(secret_id)
            .version_stage(stage.as_str())
            .send()
            .await;
        match result {
            Ok(output) => Ok(output.secret_string().map(|value| SecretVersion {
                version_id: output.version_id().unwrap_or_default().to_owned(),
                value: value.into(),
            })),
            // A stage no version carries (e.g. AWSPREVIOUS before the first rotation).
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception())
                    && stage != VersionStage::Current =>
            {
                Ok(None)
            }
            Err(error) => Err(dependency_error(&error)),
        }
    }
}

impl RotationStore for Client {
    async fn version_stages(
        &self,
        secret_id: &str,
    ) -> Result<BTreeMap<String, Vec<String>>, DependencyError> {
        let output = describe(self, secret_id).await?;
        Ok(output
            .version_ids_to_stages()
            .map(|stages| {
                stages
                    .iter()
                    .map(|(id, labels)| (id.clone(), labels.clone()))
                    .collect()
            })
            .unwrap_or_default())
    }

    async fn secret_version_by_id(
        &self,
        secret_id: &str,
        version_id: &str,
        stage: VersionStage,
    ) -> Result<Option<SecretVersion>, DependencyError> {
        let result = self
            .get_secret_value()
            .secret_id(secret_id)
            .version_id(version_id)
            .version_stage(stage.as_str())
            .send()
            .await;
        match result {
            Ok(output) => Ok(output.secret_string().map(|value| SecretVersion {
                version_id: version_id.to_owned(),
                value: value.into(),
            })),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception()) =>
            {
                Ok(None)
            }
            Err(error) => Err(dependency_error(&error)),
        }
    }

    async fn put_pending(
        &self,
        secret_id: &str,
        version_id: &str,
        value: &SecretString,
    ) -> Result<(), DependencyError> {
        self.put_secret_value()
            .secret_id(secret_id)
            .client_request_token(version_id)
            .secret_string(value.expose_secret())
            .version_stages(VersionStage::Pending.as_str())
            .send()
            .await
            .map_err(|e| dependency_error(&e))?;
        Ok(())
    }

    async fn update_stage(
        &self,
        secret_id: &str,
        stage: VersionStage,
        move_to: Option<&str>,
        remove_from: Option<&str>,
    ) -> Result<(), DependencyError> {
        self.update_secret_version_stage()
            .secret_id(secret_id)
            .version_stage(stage.as_str())
            .set_move_to_version_id(move_to.map(str::to_owned))
            .set_remove_from_version_id(remove_from.map(str::to_owned))
            .send()
            .await
            .map_err(|e| dependency_error(&e))?;
        Ok(())
    }

    async fn random_password(&self, length: u32) -> Result<SecretString, DependencyError> {
        let output = self
            .get_random_password()
            .password_length(i64::from(length))
            .exclude_punctuation(true)
            .send()
            .await
            .map_err(|e| dependency_error(&e))?;
        output
            .random_password()
            .map(SecretString::from)
            .ok_or_else(|| DependencyError::Other("GetRandomPassword returned no password".into()))
    }
}

/// `DescribeSecret` of `secret_id`: its metadata, never its value.
async fn describe(
    client: &Client,
    secret_id: &str,
) -> Result<aws_sdk_secretsmanager::operation::describe_secret::DescribeSecretOutput, DependencyError>
{
    client
        .describe_secret()
        .secret_id(secret_id)
        .send()
        .await
        .map_err(|e| dependency_error(&e))
}

fn chrono_time(time: &aws_sdk_secretsmanager::primitives::DateTime) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(time.secs(), time.subsec_nanos())
}

impl SecretAges for Client {
    async fn last_changed(
        &self,
        secret_id: &str,
    ) -> Result<Option<DateTime<Utc>>, DependencyError> {
        let output = describe(self, secret_id).await?;
        let changed = [output.last_rotated_date(), output.last_changed_date()]
            .into_iter()
            .flatten()
            .filter_map(chrono_time)
            .max();
        Ok(changed.or_else(|| output.created_date().and_then(chrono_time)))
    }
}
