//! Every trait the domain needs from the world, in one place. Adapters in [`crate::aws`] implement
//! them over AWS and HTTP; unit tests implement them in memory.

// A company's GA4 property (`domain::analytics`).
mod analytics;
mod breaker;
mod claims;
mod companies;
mod company_items;
mod confirm;
mod connections;
mod creators;
mod digest;
mod emergency;
mod inbound;
// KDP report uploads (`domain::ingest`).
mod ingest;
mod known_companies;
mod limits;
mod maintenance;
mod memberships;
mod notifications;
mod notify;
mod oidc;
mod providers;
mod sales;
mod sessions;
mod state;
mod sync;

pub use analytics::{AnalyticsSink, AnalyticsStore, NoAnalytics};
pub use breaker::BreakerStore;
pub use claims::{ClaimStore, ProcessingLog};
pub use companies::{AccessCheckError, AccessLevel, CompanyAccess, CompanyMemberships};
pub use company_items::{AccessCacheStore, CachedAccess, SettingsStore};
pub use confirm::{
    ConfirmError, Confirmation, Contradiction, ContradictionLog, EventConfirmer, NoConfirmation,
};
pub use connections::ConnectionStore;
pub use creators::{CreatorPlans, OpenSignalCounts, ProfileStore};
pub use digest::{DigestSchedule, DigestSettings, DueDigest};
pub use emergency::EmergencyStore;
pub use inbound::InboundMessage;
pub use ingest::{IngestionStore, ReportObjects, ReportReader, StoredObject, UploadUrl};
pub use known_companies::KnownCompanies;
pub use limits::FailureCounter;
pub use maintenance::{
    ExpiredItems, ExpiringTable, ReadPage, ResumeTake, ScanCursors, SecretAges, StalledRuns,
    StuckClaims, SweepCounts,
};
pub use memberships::{
    ACCESS_REVOKED, ListedMembership, MembershipPage, MembershipSource, MembershipSourceError,
    SourceFailure,
};
pub use notifications::{Claim, NotificationClaims, NotificationQueue};
pub use notify::{
    Email, Mailer, SendError, Sent, SuppressionList, SuppressionReason, TextMessage, TextSender,
};
pub use oidc::{LinkOutcome, OidcProvider, SignInStore};
pub use providers::WebhookProviders;
pub use sales::{NoSales, SalesStore};
pub use sessions::SessionStore;
pub use state::StateStore;
pub use sync::SyncStore;

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};
use url::Url;

/// The current time, injectable so that expiry and tolerance logic is testable.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// Why a dependency could not be checked or used. The message is safe to show (no secrets).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DependencyError {
    #[error("not found")]
    NotFound,
    #[error("access denied")]
    AccessDenied,
    #[error("timed out")]
    Timeout,
    #[error("unreachable: {0}")]
    Unreachable(String),
    #[error("{0}")]
    Other(String),
}

/// A DynamoDB table as the health check sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableStatus {
    /// `ACTIVE`, `CREATING`, `UPDATING`, …
    pub status: String,
}

/// Checks that a table exists and is usable.
pub trait TableProbe: Send + Sync {
    fn describe_table(
        &self,
        table: &str,
    ) -> impl Future<Output = Result<TableStatus, DependencyError>> + Send;
}

/// Approximate message counts of a queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct QueueDepth {
    pub visible: u64,
    pub in_flight: u64,
    pub delayed: u64,
}

/// Reads a queue's depth.
pub trait QueueProbe: Send + Sync {
    fn queue_depth(
        &self,
        queue_url: &str,
    ) -> impl Future<Output = Result<QueueDepth, DependencyError>> + Send;
}

/// Checks that an HTTP endpoint answers; returns its status code.
pub trait EndpointProbe: Send + Sync {
    fn probe(
        &self,
        url: &Url,
        timeout: Duration,
    ) -> impl Future<Output = Result<u16, DependencyError>> + Send;
}

/// A message for a queue, with the string attributes consumers filter or log on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundMessage {
    pub body: String,
    pub attributes: Vec<(&'static str, String)>,
    /// Held back this long before it can be received (SQS allows up to 15 minutes).
    pub delay: Option<Duration>,
}

/// Sends messages to a queue.
pub trait Publisher: Send + Sync {
    /// Sends one message; returns the queue's message id.
    fn publish(
        &self,
        queue_url: &str,
        message: &OutboundMessage,
    ) -> impl Future<Output = Result<String, DependencyError>> + Send;
}

/// A secret's staging label. Always explicit: moto (and caches) otherwise serve stale versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VersionStage {
    Current,
    Previous,
    Pending,
}

impl VersionStage {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Current => "AWSCURRENT",
            Self::Previous => "AWSPREVIOUS",
            Self::Pending => "AWSPENDING",
        }
    }
}

/// One version of a secret.
#[derive(Clone)]
pub struct SecretVersion {
    pub version_id: String,
    pub value: secrecy::SecretString,
}

impl std::fmt::Debug for SecretVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretVersion")
            .field("version_id", &self.version_id)
            .field("value", &"[redacted]")
            .finish()
    }
}

/// Reads secret values.
pub trait SecretSource: Send + Sync {
    /// The version of `secret_id` carrying `stage`; `Ok(None)` when no version carries it.
    fn secret_version(
        &self,
        secret_id: &str,
        stage: VersionStage,
    ) -> impl Future<Output = Result<Option<SecretVersion>, DependencyError>> + Send;
}

/// The Secrets Manager calls of the rotation protocol ([`crate::domain::auth::rotation`]), beyond reading
/// a stage.
pub trait RotationStore: SecretSource {
    /// Every version of `secret_id` with its staging labels (`DescribeSecret`'s
    /// `VersionIdsToStages`).
    fn version_stages(
        &self,
        secret_id: &str,
    ) -> impl Future<Output = Result<BTreeMap<String, Vec<String>>, DependencyError>> + Send;

    /// Version `version_id`, read with `stage` as well (both must match); `Ok(None)` when it does
    /// not exist or has no value yet (on AWS, `RotateSecret` creates the pending version before
    /// `createSecret` gives it one).
    fn secret_version_by_id(
        &self,
        secret_id: &str,
        version_id: &str,
        stage: VersionStage,
    ) -> impl Future<Output = Result<Option<SecretVersion>, DependencyError>> + Send;

    /// Stores `value` as version `version_id` (the `ClientRequestToken`), labelled `AWSPENDING`
    /// only.
    fn put_pending(
        &self,
        secret_id: &str,
        version_id: &str,
        value: &secrecy::SecretString,
    ) -> impl Future<Output = Result<(), DependencyError>> + Send;

    /// Moves `stage` to `move_to` and/or removes it from `remove_from` (`UpdateSecretVersionStage`).
    fn update_stage(
        &self,
        secret_id: &str,
        stage: VersionStage,
        move_to: Option<&str>,
        remove_from: Option<&str>,
    ) -> impl Future<Output = Result<(), DependencyError>> + Send;

    /// A random password of `length` letters and digits (`GetRandomPassword`).
    fn random_password(
        &self,
        length: u32,
    ) -> impl Future<Output = Result<secrecy::SecretString, DependencyError>> + Send;
}
