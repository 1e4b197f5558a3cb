//! `POST /webhooks/{provider}` as a function of its inputs: verify against every active secret,
//! normalise, claim the event id (one conditional write), enqueue (one send). Two AWS requests for
//! an accepted delivery; one for a duplicate.

use crate::domain::ports::{ClaimStore, WebhookProviders};
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::claims::{ClaimOutcome, ClaimRecord, ClaimStatus, queue_attributes};
use super::event::NormaliseError;
use super::keys::{Keyring, KeyringError};
use super::verify::{CertifiedError, VerifyError, VerifyOptions};
use super::{Headers, Source, Verified};
use crate::domain::ports::{Clock, DependencyError, OutboundMessage, Publisher, SecretSource};

/// The largest body accepted (API Gateway allows 10 MB; no provider event comes near this).
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// What happened to an accepted delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Accepted {
    /// Claimed and enqueued (202). `taken_over`: a stale claim of an earlier delivery was replaced.
    Enqueued {
        event_id: String,
        kind: String,
        known_kind: bool,
        taken_over: bool,
    },
    /// Seen before and finished (200 `{"duplicate":true}`).
    Duplicate {
        event_id: String,
        status: ClaimStatus,
    },
}

/// Why a delivery was not accepted; each maps to a precise status and code.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("unknown provider {0}")]
    UnknownProvider(String),
    #[error("no connection has this webhook token")]
    UnknownWebhookToken,
    #[error("the ping's seller is not the connected account")]
    SellerMismatch,
    #[error("content type must be application/x-www-form-urlencoded")]
    NotForm,
    #[error("body larger than {MAX_BODY_BYTES} bytes")]
    TooLarge,
    #[error("content type must be application/json")]
    UnsupportedMediaType,
    #[error("signature rejected: {0}")]
    Rejected(#[from] VerifyError),
    #[error("envelope rejected: {0}")]
    Malformed(#[from] NormaliseError),
    #[error("event {event_id} is being processed by another delivery")]
    InProgress { event_id: String },
    #[error("{dependency} unavailable: {detail}")]
    Dependency {
        dependency: &'static str,
        detail: String,
    },
}

impl IngestError {
    /// A stable code for logs and metrics (the 401 and 400 ones are the reason codes).
    pub fn reason_code(&self) -> &'static str {
        match self {
            Self::UnknownProvider(_) => "unknown_provider",
            Self::UnknownWebhookToken => "unknown_webhook_token",
            Self::SellerMismatch => "seller_mismatch",
            Self::NotForm => "unsupported_media_type",
            Self::TooLarge => "payload_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::Rejected(error) => error.reason_code(),
            Self::Malformed(error) => error.reason_code(),
            Self::InProgress { .. } => "in_progress",
            Self::Dependency { .. } => "dependency_unavailable",
        }
    }
}

/// The provider named in the path: the verified ones, the ones not built yet, or unknown.
pub fn parse_provider(name: &str) -> Result<Source, IngestError> {
    match Source::parse(name) {
        // Gumroad's pings carry their connection's token: `/webhooks/gumroad/{token}`.
        Some(Source::Gumroad) => Err(IngestError::UnknownWebhookToken),
        Some(source) => Ok(source),
        None => Err(IngestError::UnknownProvider(name.to_owned())),
    }
}

/// Accepts `application/json` with any parameters (Stripe adds `; charset=utf-8`).
pub fn check_content_type(content_type: Option<&str>) -> Result<(), IngestError> {
    let essence = content_type
        .and_then(|value| value.split(';').next())
        .map(str::trim)
        .unwrap_or_default();
    if essence.eq_ignore_ascii_case("application/json") {
        Ok(())
    } else {
        Err(IngestError::UnsupportedMediaType)
    }
}

/// What ingest needs from the world.
pub struct IngestDeps<'a, S, C, K, P, W> {
    /// Every provider's schemes and envelopes.
    pub providers: &'a W,
    pub keyring: &'a Keyring<S, C>,
    pub claims: &'a K,
    pub publisher: &'a P,
    pub events_queue_url: &'a str,
    pub verify_options: VerifyOptions,
}

/// Verifies, normalises, claims and enqueues one delivery whose body is within the limit and
/// whose content type was checked.
pub async fn ingest<S, C, K, P, W, H>(
    deps: &IngestDeps<'_, S, C, K, P, W>,
    source: Source,
    headers: &H,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<Accepted, IngestError>
where
    S: SecretSource,
    C: Clock + Clone,
    K: ClaimStore,
    P: Publisher,
    W: WebhookProviders,
    H: Headers + ?Sized,
{
    let verified = verify_delivery(
        deps.providers,
        deps.keyring,
        source,
        headers,
        body,
        now.timestamp(),
        deps.verify_options,
    )
    .await?;
    let event = deps.providers.normalise(source, &verified, body, now)?;
    claim_and_enqueue(
        deps.claims,
        deps.publisher,
        deps.events_queue_url,
        event,
        body,
        now,
    )
    .await
}

/// Claims a verified, normalised event (one conditional write) and enqueues it (one send): the
/// tail of [`ingest`], and of a Gumroad ping once its token and seller are checked.
pub async fn claim_and_enqueue<K: ClaimStore, P: Publisher>(
    claims: &K,
    publisher: &P,
    events_queue_url: &str,
    event: super::event::Event<'_>,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<Accepted, IngestError> {
    let source = event.source;
    // The claim keeps the message, so maintenance can send it again if this invocation dies
    // between the claim and the send (or the send's answer is lost).
    let message_body = event.to_message();
    let record = ClaimRecord::new(
        source.as_str(),
        &event.event_id,
        event.kind.as_str(),
        hex::encode(Sha256::digest(body)),
        now,
    )
    .with_message(&message_body);
    let dynamodb_down = |error: DependencyError| IngestError::Dependency {
        dependency: "webhook-events table",
        detail: error.to_string(),
    };
    let taken_over = match claims.claim(&record, now).await.map_err(dynamodb_down)? {
        ClaimOutcome::Claimed { taken_over } => taken_over.is_some(),
        // Our own claim: the write succeeded, its answer was lost, and the SDK's retry met the
        // condition and got the item back, with the claim id this delivery just drew.
        ClaimOutcome::Exists(existing)
            if existing.status == ClaimStatus::Received && existing.claim_id == record.claim_id =>
        {
            false
        }
        ClaimOutcome::Exists(existing) => {
            return match existing.status {
                ClaimStatus::Received => Err(IngestError::InProgress {
                    event_id: event.event_id,
                }),
                status => Ok(Accepted::Duplicate {
                    event_id: event.event_id,
                    status,
                }),
            };
        }
    };

    let message = OutboundMessage {
        body: message_body,
        attributes: queue_attributes(source.as_str(), event.kind.as_str(), &event.event_id),
        delay: None,
    };
    if let Err(error) = publisher.publish(events_queue_url, &message).await {
        // Without the message the claim would block the sender's retry until the lock expires.
        if let Err(release_error) = claims.release(&record.pk, &record.claim_id).await {
            tracing::error!(webhook.id = %event.event_id, error = %release_error, "could not release claim {} after a failed enqueue; it unblocks when its lock expires", record.pk);
        }
        return Err(IngestError::Dependency {
            dependency: "events queue",
            detail: error.to_string(),
        });
    }
    Ok(Accepted::Enqueued {
        known_kind: event.kind.is_known(),
        kind: event.kind.as_str().to_owned(),
        event_id: event.event_id,
        taken_over,
    })
}

/// Verifies a delivery against every active secret of `source`; a delivery that matches none may
/// force one early re-read of the secrets (rate-limited), in case one was just added. Ingest's
/// first step, and the whole of the check for deliveries handled where they arrive.
///
/// # Errors
/// [`IngestError::Rejected`] for a signature that does not verify, [`IngestError::Dependency`]
/// when the secrets cannot be read.
pub async fn verify_delivery<'h, S, C, W, H>(
    providers: &W,
    keyring: &Keyring<S, C>,
    source: Source,
    headers: &'h H,
    body: &[u8],
    now_secs: i64,
    options: VerifyOptions,
) -> Result<Verified<'h>, IngestError>
where
    S: SecretSource,
    C: Clock,
    W: WebhookProviders,
    H: Headers + ?Sized,
{
    if let Some(outcome) = providers
        .verify_certified(source, headers, body, now_secs, options)
        .await
    {
        return outcome.map_err(|error| match error {
            CertifiedError::Rejected(error) => error.into(),
            CertifiedError::Unavailable(detail) => IngestError::Dependency {
                dependency: "signing certificate",
                detail,
            },
        });
    }
    let secrets_unavailable = |error: KeyringError| IngestError::Dependency {
        dependency: "webhook secrets",
        detail: error.to_string(),
    };
    let keys = keyring.current().await.map_err(secrets_unavailable)?;
    match providers.verify(
        source,
        headers,
        body,
        keys.for_source(source),
        now_secs,
        options,
    ) {
        Ok(verified) => Ok(verified),
        // A secret added since the last read may be the one: one early re-read, rate-limited.
        Err(missed @ (VerifyError::NoMatchingSignature | VerifyError::NoSecrets)) => {
            match keyring
                .refresh_after_miss()
                .await
                .map_err(secrets_unavailable)?
            {
                Some(fresh) => Ok(providers.verify(
                    source,
                    headers,
                    body,
                    fresh.for_source(source),
                    now_secs,
                    options,
                )?),
                None => Err(missed.into()),
            }
        }
        Err(error) => Err(error.into()),
    }
}
