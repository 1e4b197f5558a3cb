//! Configuration from the environment, validated once at cold start.
//!
//! The environment carries names only (tables, queues, secret ids, app id, stage); secret values come
//! from Secrets Manager. Validation reports every problem at once, each with its fix, so one deploy
//! fixes them all; `churnsaver config check` runs the same code.

use std::fmt;
use std::num::NonZeroU32;
use std::time::Duration;

use url::Url;

use crate::domain::breaker::BreakerSettings;
use crate::providers::whop::ids::is_whop_id;
use crate::providers::whop::user_token::DEFAULT_JWKS_URL;

/// The deployment stage. `local` is the stack on a developer machine against the AWS emulator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    Local,
    Dev,
    Staging,
    Prod,
}

impl Stage {
    pub const ALL: [Self; 4] = [Self::Local, Self::Dev, Self::Staging, Self::Prod];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::Dev => "dev",
            Self::Staging => "staging",
            Self::Prod => "prod",
        }
    }

    fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|stage| stage.as_str() == value)
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// DynamoDB table names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tables {
    /// `WEBHOOK_EVENTS_TABLE`: idempotency claims and the webhook log.
    pub webhook_events: String,
    /// `SESSIONS_TABLE`: sessions, keyed by the hash of the session id.
    pub sessions: String,
    /// `STATE_TABLE`: memberships, payments, breakers, sync runs, rate-limit windows.
    pub state: String,
}

impl Tables {
    /// Every table with the name the health report uses for it.
    pub fn named(&self) -> [(&'static str, &str); 3] {
        [
            ("webhook_events", &self.webhook_events),
            ("sessions", &self.sessions),
            ("state", &self.state),
        ]
    }
}

/// SQS queue URLs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queues {
    /// `EVENTS_QUEUE_URL`: verified webhook events awaiting processing.
    pub events: String,
    /// `EVENTS_DLQ_URL`: events that failed `maxReceiveCount` times.
    pub events_dlq: String,
    /// `SYNC_JOBS_QUEUE_URL`: one page of a reconcile run per message.
    pub sync_jobs: String,
    /// `SYNC_JOBS_DLQ_URL`: sync pages that kept failing.
    pub sync_jobs_dlq: String,
}

/// Secrets Manager secret ids (names or ARNs). Optional outside production.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecretIds {
    /// `WEBHOOK_SECRETS_ID`: JSON object of provider → list of active webhook secrets.
    pub webhook_secrets: Option<String>,
    /// `SESSION_KEYS_SECRET_ID`: the rotated session signing key.
    pub session_keys: Option<String>,
    /// `WHOP_API_KEY_SECRET_ID`: `{"api_key": "…"}` for Whop's REST API.
    pub whop_api_key: Option<String>,
    /// `DATA_KEY_SECRET_ID`: the data key companies' GA4 API secrets are sealed with
    /// (`domain::analytics`); analytics is off (its routes answer 503 `analytics_off`) without it.
    pub data_key: Option<String>,
}

/// A provider whose REST API this backend calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    Whop,
    Stripe,
    Gumroad,
    Paypal,
    /// Google sign-in's token endpoint (its "base URL" is `GOOGLE_TOKEN_URL`).
    Google,
    // The message providers (`docs/providers.md`, "Messages").
    Resend,
    Sendgrid,
    Twilio,
    /// Google Analytics 4's Measurement Protocol (`domain::analytics`).
    Ga4,
}

impl Provider {
    pub const ALL: [Self; 9] = [
        Self::Whop,
        Self::Stripe,
        Self::Gumroad,
        Self::Paypal,
        Self::Google,
        Self::Resend,
        Self::Sendgrid,
        Self::Twilio,
        Self::Ga4,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Whop => "whop",
            Self::Stripe => "stripe",
            Self::Gumroad => "gumroad",
            Self::Paypal => "paypal",
            Self::Google => crate::providers::google::SERVICE,
            Self::Resend => "resend",
            Self::Sendgrid => "sendgrid",
            Self::Twilio => "twilio",
            Self::Ga4 => crate::providers::ga4::SERVICE,
        }
    }

    /// The variable holding the provider API's base URL, e.g. `WHOP_API_BASE_URL`.
    pub fn base_url_var(self) -> &'static str {
        match self {
            Self::Whop => "WHOP_API_BASE_URL",
            Self::Stripe => "STRIPE_API_BASE_URL",
            Self::Gumroad => "GUMROAD_API_BASE_URL",
            Self::Paypal => "PAYPAL_API_BASE_URL",
            Self::Google => "GOOGLE_TOKEN_URL",
            Self::Resend => "RESEND_API_BASE_URL",
            Self::Sendgrid => "SENDGRID_API_BASE_URL",
            Self::Twilio => "TWILIO_API_BASE_URL",
            Self::Ga4 => "GA4_API_BASE_URL",
        }
    }
}

/// Whop's v1 API when `WHOP_API_BASE_URL` is not set.
pub const WHOP_API_DEFAULT_BASE_URL: &str = "https://api.whop.com/api/v1";

/// The variables of one provider's limits ([`ProviderLimits`]), e.g. `WHOP_MAX_CONCURRENCY`.
struct LimitVars {
    failure_threshold: &'static str,
    recovery_secs: &'static str,
    half_open_probes: &'static str,
    success_threshold: &'static str,
    requests: &'static str,
    window_secs: &'static str,
    max_concurrency: &'static str,
    cooldown_secs: &'static str,
    max_response_mib: &'static str,
}

macro_rules! limit_vars {
    ($prefix:literal) => {
        LimitVars {
            failure_threshold: concat!($prefix, "_BREAKER_FAILURE_THRESHOLD"),
            recovery_secs: concat!($prefix, "_BREAKER_RECOVERY_SECS"),
            half_open_probes: concat!($prefix, "_BREAKER_HALF_OPEN_PROBES"),
            success_threshold: concat!($prefix, "_BREAKER_SUCCESS_THRESHOLD"),
            requests: concat!($prefix, "_RATE_LIMIT_REQUESTS"),
            window_secs: concat!($prefix, "_RATE_LIMIT_WINDOW_SECS"),
            max_concurrency: concat!($prefix, "_MAX_CONCURRENCY"),
            cooldown_secs: concat!($prefix, "_RATE_LIMIT_COOLDOWN_SECS"),
            max_response_mib: concat!($prefix, "_MAX_RESPONSE_MIB"),
        }
    };
}

impl Provider {
    /// The provider by its [`as_str`](Self::as_str) name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == name)
    }

    fn limit_vars(self) -> LimitVars {
        match self {
            Self::Whop => limit_vars!("WHOP"),
            Self::Stripe => limit_vars!("STRIPE"),
            Self::Gumroad => limit_vars!("GUMROAD"),
            Self::Paypal => limit_vars!("PAYPAL"),
            Self::Google => limit_vars!("GOOGLE"),
            Self::Resend => limit_vars!("RESEND"),
            Self::Sendgrid => limit_vars!("SENDGRID"),
            Self::Twilio => limit_vars!("TWILIO"),
            Self::Ga4 => limit_vars!("GA4"),
        }
    }

    /// The limits used when no variable overrides them.
    pub fn default_limits(self) -> ProviderLimits {
        let limits = |requests, window_secs, max_concurrency, cooldown_secs| ProviderLimits {
            rate_limit: RateLimit {
                requests: NonZeroU32::new(requests).unwrap_or(NonZeroU32::MIN),
                window: Duration::from_secs(window_secs),
                burst: NonZeroU32::MIN,
            },
            max_concurrency: NonZeroU32::new(max_concurrency).unwrap_or(NonZeroU32::MIN),
            cooldown: Duration::from_secs(cooldown_secs),
            ..ProviderLimits::default()
        };
        match self {
            // Whop documents 20 requests per 10 s for its v5 API and a 60 s cooldown after a 429;
            // it publishes no limit for v1, so the v5 one is the safe assumption.
            Self::Whop => limits(20, 10, 4, 60),
            // Stripe allows 25 requests per second in test mode (100 live); the lower one is safe
            // for both, and its limits reset every second.
            Self::Stripe => limits(25, 1, 4, 5),
            // Gumroad publishes no general API limit (`docs/providers.md`, "Gumroad"); 120 a
            // minute, as the product's plan sets it.
            Self::Gumroad => limits(120, 60, 2, 60),
            // PayPal publishes no number: stay well below anything it would call abuse.
            Self::Paypal => limits(10, 1, 4, 30),
            // Sign-ins are one token exchange each; Google publishes no limit for it.
            Self::Google => limits(10, 1, 4, 30),
            // Resend documents 2 requests per second per team (newer pages say 5): the lower one.
            Self::Resend => limits(2, 1, 2, 1),
            // SendGrid publishes no number for mail send; Twilio queues at about 1 message per
            // second per number: stay at its pace.
            Self::Sendgrid => limits(10, 1, 4, 5),
            Self::Twilio => limits(1, 1, 1, 5),
            // GA4 documents no request rate for the Measurement Protocol, only per-request
            // limits (25 events); one batch per signal change is far below anything it drops.
            Self::Ga4 => limits(20, 1, 4, 5),
        }
    }
}

/// A client-side rate limit: at most `requests` per `window`, spread evenly over it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub requests: NonZeroU32,
    pub window: Duration,
    /// Requests that may go at once before the spacing applies. 1 for the providers: see
    /// [`crate::providers::client::ProviderGuard`] on sliding windows.
    pub burst: NonZeroU32,
}

/// How calls to one provider are admitted ([`crate::providers::client::ProviderGuard`]). The rate and
/// concurrency limits hold per instance, while a provider counts per account: with several
/// instances running, set them with the function's reserved concurrency in mind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProviderLimits {
    /// `{PROVIDER}_BREAKER_FAILURE_THRESHOLD` (1–100), `_BREAKER_RECOVERY_SECS` (1–3600),
    /// `_BREAKER_HALF_OPEN_PROBES` (1–10), `_BREAKER_SUCCESS_THRESHOLD` (1–10); defaults from
    /// [`BreakerSettings::default`].
    pub breaker: BreakerSettings,
    /// `{PROVIDER}_RATE_LIMIT_REQUESTS` (1–10000) per `{PROVIDER}_RATE_LIMIT_WINDOW_SECS`
    /// (1–3600).
    pub rate_limit: RateLimit,
    /// `{PROVIDER}_MAX_CONCURRENCY` (1–100): calls in flight at once.
    pub max_concurrency: NonZeroU32,
    /// `{PROVIDER}_RATE_LIMIT_COOLDOWN_SECS` (1–3600): how long calls pause after a 429 that
    /// carries no `Retry-After`.
    pub cooldown: Duration,
    /// `{PROVIDER}_MAX_RESPONSE_MIB` (1–256, default 8): the largest response body a call reads;
    /// a larger one fails with `response_too_large` instead of being buffered.
    pub max_response_bytes: usize,
}

impl Default for ProviderLimits {
    /// For a service that is not one of the [`Provider`]s: 10 calls a second, 4 at a time.
    fn default() -> Self {
        Self {
            breaker: BreakerSettings::default(),
            rate_limit: RateLimit {
                requests: NonZeroU32::new(10).unwrap_or(NonZeroU32::MIN),
                window: Duration::from_secs(1),
                burst: NonZeroU32::MIN,
            },
            max_concurrency: NonZeroU32::new(4).unwrap_or(NonZeroU32::MIN),
            cooldown: Duration::from_secs(60),
            max_response_bytes: crate::providers::client::DEFAULT_MAX_RESPONSE_BYTES,
        }
    }
}

/// Base URLs of the provider APIs that are configured; a provider without one is `unconfigured`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProviderApis {
    base_urls: Vec<(Provider, Url)>,
}

impl ProviderApis {
    pub fn base_url(&self, provider: Provider) -> Option<&Url> {
        self.base_urls
            .iter()
            .find(|(p, _)| *p == provider)
            .map(|(_, url)| url)
    }
}

/// Webhook ingest settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WebhookSettings {
    /// `WEBHOOK_ACCEPT_WHOP_BARE_SIGNATURES`: accept Whop's older `x-whop-signature: <hex>` form,
    /// whose timestamp is not signed (default false).
    pub accept_whop_bare_signatures: bool,
    /// `WEBHOOK_SECRETS_TTL_SECS`: how long a read of the webhook secrets is reused (1–300, default
    /// 60): a newly added secret is honoured within this time.
    pub secrets_ttl: std::time::Duration,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            accept_whop_bare_signatures: false,
            secrets_ttl: std::time::Duration::from_secs(60),
        }
    }
}

pub use crate::domain::auth::limits::AuthLimits;

/// The validated configuration of every function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `STAGE`: local, dev, staging or prod.
    pub stage: Stage,
    /// `WHOP_APP_ID`: our Whop app id (`app_…`), the audience of Whop user tokens.
    pub whop_app_id: String,
    /// `WHOP_COMPANY_ID`: the company (`biz_…`) whose memberships sync reads; sync is off without it.
    pub whop_company_id: Option<String>,
    pub tables: Tables,
    pub queues: Queues,
    pub secrets: SecretIds,
    /// `<PROVIDER>_API_BASE_URL`: each provider API this deployment talks to.
    pub provider_apis: ProviderApis,
    /// `WHOP_USER_TOKEN_JWKS_URL`: where Whop publishes the keys that sign user tokens (default
    /// [`DEFAULT_JWKS_URL`]; the local stack points it at a stub).
    pub whop_user_token_jwks_url: Url,
    pub webhooks: WebhookSettings,
    pub auth_limits: AuthLimits,
    /// `SESSION_LIFETIME_SECS`, `SESSION_MAX_PER_USER`, `SESSION_MAX_AGE_DAYS`.
    pub sessions: crate::domain::auth::sessions::SessionSettings,
    /// `WHOP_USER_TOKEN_LEEWAY_SECS`: clock skew tolerated on a Whop token's `exp`/`nbf`.
    pub whop_token_leeway: std::time::Duration,
    /// `EMERGENCY_CACHE_SECS` (0–300, default 30): how long a read of a provider's emergency
    /// switch is reused, so switching it on or off takes effect within this time.
    pub emergency_cache_ttl: std::time::Duration,
    /// Every provider's limits; read them with [`Config::provider_limits`].
    limits: Vec<(Provider, ProviderLimits)>,
    /// `MAINTENANCE_MAX_ITEMS`, `SECRET_MAX_AGE_DAYS`, `SESSION_KEY_ROTATION_DAYS`.
    pub maintenance: crate::domain::maintenance::MaintenanceSettings,
    /// `GOOGLE_*`: Google sign-in, off (its routes answer 503 `google_sign_in_off`) without
    /// `GOOGLE_CLIENT_ID` (read in `edge/config/google.rs`).
    pub google: Option<crate::providers::google::GoogleSettings>,
    /// `CHURNSAVER_PRODUCT_ID`, `CHURNSAVER_TIER_PLANS`: the creators' own plan (read in
    /// `edge/config/plan.rs`).
    pub creator_plan: crate::domain::creators::plan::PlanSettings,
    /// `GUMROAD_*`: Gumroad connections, off (their routes answer 503 `gumroad_off`) without
    /// `GUMROAD_CLIENT_ID` (read in `edge/config/gumroad.rs`).
    pub gumroad: Option<crate::providers::gumroad::GumroadSettings>,
    /// `OPERATOR_USER_IDS` (comma-separated, default none): the users whose sessions the
    /// authorizer admits as the operator principal, which the detailed health routes require.
    pub operator_user_ids: Vec<String>,
    /// `CREATOR_RATE_LIMIT_REQUESTS` (1–10,000, default 60) per `CREATOR_RATE_LIMIT_WINDOW_SECS`
    /// (1–3600, default 60): the requests one user may make to the creator routes.
    pub creator_limits: AuthLimits,
    /// `WHOP_ACCEPT_KEYLESS_TOKENS` (default true, false in `prod`): accept a Whop user token
    /// without a `kid`, checked against the legacy key embedded in Whop's old SDK.
    pub whop_accept_keyless_tokens: bool,
    /// `NOTIFICATIONS_QUEUE_URL`, `NOTIFICATIONS_DLQ_URL`, `FROM_EMAIL`, `FROM_NAME` (see
    /// [`NotifySettings`]).
    pub notify: NotifySettings,
    /// `EMAIL_PROVIDER`, `RESEND_API_KEY_SECRET_ID`, `SENDGRID_API_KEY_SECRET_ID`,
    /// `TWILIO_FROM_NUMBER`, `TWILIO_CREDENTIALS_SECRET_ID`.
    pub messaging: MessagingSettings,
    /// `UNSUBSCRIBE_KEY_SECRET_ID`, `SUPPRESSION_KEY_SECRET_ID`, `PUBLIC_API_URL`,
    /// `UNSUBSCRIBE_TOKEN_DAYS`.
    pub unsubscribe: UnsubscribeSettings,
    /// `PAYPAL_WEBHOOK_ID`, `PAYPAL_COMPANY_ID`, `PAYPAL_TEST_ROOT_PEM`,
    /// `PAYPAL_ALLOW_LOOPBACK_CERT_URLS`, `PAYPAL_TOLERANCE_SECS`, `PAYPAL_CLIENT_ID`,
    /// `PAYPAL_CLIENT_SECRET_ID`, `PAYPAL_VERIFICATION`: PayPal's webhooks, off without `PAYPAL_WEBHOOK_ID` (read
    /// in `edge/config/paypal.rs`).
    pub paypal: Option<crate::providers::paypal::PayPalSettings>,
    /// `STRIPE_SYNC_COMPANIES`, `STRIPE_API_KEYS_SECRET_ID`: Stripe reconcile, off without
    /// companies (read in `edge/config/stripe.rs`).
    pub stripe_sync: Option<StripeSyncSettings>,
    /// `INGESTIONS_BUCKET`, `INGEST_MAX_UPLOAD_BYTES`: KDP report uploads (read in
    /// `edge/config/ingest.rs`).
    pub ingest: ingest::IngestSettings,
    /// `SENTRY_DSN_SECRET_ARN`, `OTLP_ENDPOINT`, `OTLP_HEADERS_SECRET_ARN`: error reporting, off
    /// unless set (read in `edge/config/reporting.rs`).
    pub reporting: ReportingSettings,
}

/// One thing wrong with the environment, and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    pub var: &'static str,
    pub problem: String,
    pub fix: String,
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} (fix: {})", self.var, self.problem, self.fix)
    }
}

/// Every problem found in the environment.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    pub problems: Vec<ConfigProblem>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} configuration problem(s): ", self.problems.len())?;
        for (i, problem) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{problem}")?;
        }
        Ok(())
    }
}

/// The one-click unsubscribe and the suppression list (`domain::notify`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsubscribeSettings {
    /// `UNSUBSCRIBE_KEY_SECRET_ID`: the key unsubscribe links are signed with (`AWSCURRENT` signs;
    /// `AWSCURRENT` and `AWSPREVIOUS` verify). Required in prod.
    pub key_secret: Option<String>,
    /// `SUPPRESSION_KEY_SECRET_ID`: the never-rotated key of the suppression list's address hashes.
    /// Required in prod.
    pub suppression_key_secret: Option<String>,
    /// `PUBLIC_API_URL`: the HTTP API's public URL, under which links point at `/unsubscribe`.
    pub public_api_url: Option<Url>,
    /// `UNSUBSCRIBE_TOKEN_DAYS` (1–730, default 180): how long a link stays valid.
    pub token_lifetime: std::time::Duration,
}

impl UnsubscribeSettings {
    fn read<F: Fn(&str) -> Option<String>>(env: &mut Reader<'_, F>, stage: Stage) -> Self {
        let settings = Self {
            key_secret: env.optional("UNSUBSCRIBE_KEY_SECRET_ID"),
            suppression_key_secret: env.optional("SUPPRESSION_KEY_SECRET_ID"),
            public_api_url: env.optional("PUBLIC_API_URL").and_then(|value| {
                env.http_url("PUBLIC_API_URL", &value, stage, "https://api.example.com")
            }),
            token_lifetime: env.days_in(
                "UNSUBSCRIBE_TOKEN_DAYS",
                1..=730,
                crate::domain::notify::unsubscribe::DEFAULT_LIFETIME,
                "set how long an unsubscribe link stays valid, in days from 1 to 730, or unset it for 180",
            ),
        };
        require_secrets_in_prod(
            env,
            stage,
            [
                ("UNSUBSCRIBE_KEY_SECRET_ID", &settings.key_secret),
                (
                    "SUPPRESSION_KEY_SECRET_ID",
                    &settings.suppression_key_secret,
                ),
            ],
        );
        settings
    }
}

/// A problem for each secret id `vars` lacks, in prod.
fn require_secrets_in_prod<F: Fn(&str) -> Option<String>, const N: usize>(
    env: &mut Reader<'_, F>,
    stage: Stage,
    vars: [(&'static str, &Option<String>); N],
) {
    if stage != Stage::Prod {
        return;
    }
    for (var, value) in vars {
        if value.is_none() {
            env.problem(
                var,
                "is required in prod",
                format!("set {var} to the Secrets Manager secret's ARN or name"),
            );
        }
    }
}

impl Config {
    /// Reads and validates the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(&|var| std::env::var(var).ok())
    }

    /// Reads and validates configuration from any variable lookup (the local stack passes the
    /// template's resolved environment; tests pass a map).
    pub fn from_lookup<F: Fn(&str) -> Option<String>>(lookup: &F) -> Result<Self, ConfigError> {
        let mut env = Reader {
            lookup,
            problems: Vec::new(),
        };

        let stage = match env.optional("STAGE") {
            None => {
                env.problem(
                    "STAGE",
                    "is not set",
                    "set STAGE to one of local, dev, staging, prod",
                );
                Stage::Dev
            }
            Some(value) => Stage::parse(&value).unwrap_or_else(|| {
                env.problem(
                    "STAGE",
                    format!("`{value}` is not a stage"),
                    "set STAGE to one of local, dev, staging, prod",
                );
                Stage::Dev
            }),
        };

        let whop_app_id = env.required("WHOP_APP_ID", "your Whop app id (`app_…`)");
        if !whop_app_id.is_empty() && !is_whop_id(&whop_app_id, "app_") {
            env.problem(
                "WHOP_APP_ID",
                format!("`{whop_app_id}` is not a Whop app id"),
                "copy the app id (it starts with `app_`) from the Whop developer dashboard",
            );
        }

        let whop_company_id = env.optional("WHOP_COMPANY_ID");
        if let Some(company_id) = &whop_company_id
            && !is_whop_id(company_id, "biz_")
        {
            env.problem(
                "WHOP_COMPANY_ID",
                format!("`{company_id}` is not a Whop company id"),
                "copy the company id (it starts with `biz_`) from the Whop dashboard, or unset it to turn sync off",
            );
        }

        let tables = Tables {
            webhook_events: env.required("WEBHOOK_EVENTS_TABLE", "the webhook-events table name"),
            sessions: env.required("SESSIONS_TABLE", "the sessions table name"),
            state: env.required("STATE_TABLE", "the state table name"),
        };
        let queues = Queues {
            events: env.queue_url("EVENTS_QUEUE_URL", "the events queue URL"),
            events_dlq: env.queue_url("EVENTS_DLQ_URL", "the events dead-letter queue URL"),
            sync_jobs: env.queue_url("SYNC_JOBS_QUEUE_URL", "the sync-jobs queue URL"),
            sync_jobs_dlq: env
                .queue_url("SYNC_JOBS_DLQ_URL", "the sync-jobs dead-letter queue URL"),
        };

        let secrets = SecretIds {
            webhook_secrets: env.optional("WEBHOOK_SECRETS_ID"),
            session_keys: env.optional("SESSION_KEYS_SECRET_ID"),
            whop_api_key: env.optional("WHOP_API_KEY_SECRET_ID"),
            data_key: env.optional("DATA_KEY_SECRET_ID"),
        };
        require_secrets_in_prod(
            &mut env,
            stage,
            [
                ("WEBHOOK_SECRETS_ID", &secrets.webhook_secrets),
                ("SESSION_KEYS_SECRET_ID", &secrets.session_keys),
                ("WHOP_API_KEY_SECRET_ID", &secrets.whop_api_key),
            ],
        );

        let mut base_urls = Vec::new();
        for provider in Provider::ALL {
            let var = provider.base_url_var();
            let Some(value) = env.optional(var) else {
                continue;
            };
            if let Some(url) = env.http_url(var, &value, stage, "https://api.whop.com/api/v1") {
                base_urls.push((provider, url));
            }
        }

        let jwks_url = env
            .optional("WHOP_USER_TOKEN_JWKS_URL")
            .unwrap_or_else(|| DEFAULT_JWKS_URL.to_owned());
        let whop_user_token_jwks_url = env.http_url(
            "WHOP_USER_TOKEN_JWKS_URL",
            &jwks_url,
            stage,
            DEFAULT_JWKS_URL,
        );

        let mut webhooks = WebhookSettings {
            accept_whop_bare_signatures: env.flag("WEBHOOK_ACCEPT_WHOP_BARE_SIGNATURES", false),
            ..WebhookSettings::default()
        };
        if let Some(value) = env.optional("WEBHOOK_SECRETS_TTL_SECS") {
            match value.parse::<u64>() {
                Ok(secs @ 1..=300) => webhooks.secrets_ttl = std::time::Duration::from_secs(secs),
                _ => env.problem(
                    "WEBHOOK_SECRETS_TTL_SECS",
                    format!("`{value}` is not a number of seconds from 1 to 300"),
                    "use at most 300 so a rotated secret is picked up within five minutes",
                ),
            }
        }

        let defaults = AuthLimits::default();
        let auth_limits = AuthLimits {
            limit: env.number_in(
                "AUTH_FAILURE_LIMIT",
                1..=10_000,
                defaults.limit,
                &format!(
                    "set the failures allowed per window from 1 to 10000, or unset it for {}",
                    defaults.limit
                ),
            ),
            window: std::time::Duration::from_secs(env.number_in(
                "AUTH_FAILURE_WINDOW_SECS",
                10..=86_400,
                defaults.window.as_secs(),
                &format!(
                    "set the window in seconds from 10 to 86400 (a day), or unset it for {}",
                    defaults.window.as_secs()
                ),
            )),
        };

        let session_defaults = crate::domain::auth::sessions::SessionSettings::default();
        let sessions = crate::domain::auth::sessions::SessionSettings {
            lifetime: std::time::Duration::from_secs(env.number_in(
                "SESSION_LIFETIME_SECS",
                300..=30 * 86_400,
                session_defaults.lifetime.as_secs(),
                "set a lifetime in seconds from 300 to 2592000 (30 days), or unset it for 7200",
            )),
            max_per_user: usize::try_from(env.number_in(
                "SESSION_MAX_PER_USER",
                1..=100,
                session_defaults.max_per_user as u64,
                "set how many sessions one user may hold, from 1 to 100, or unset it for 10",
            ))
            .unwrap_or(session_defaults.max_per_user),
            max_age: env.days_in(
                "SESSION_MAX_AGE_DAYS",
                1..=365,
                session_defaults.max_age,
                "set the most days a session lives from its creation, from 1 to 365, or unset it for 30",
            ),
        };

        let whop_token_leeway = std::time::Duration::from_secs(env.number_in(
            "WHOP_USER_TOKEN_LEEWAY_SECS",
            0..=60,
            crate::providers::whop::user_token::DEFAULT_LEEWAY.as_secs(),
            "set the tolerated clock skew in seconds from 0 to 60, or unset it for 5",
        ));

        let limits = Provider::ALL
            .into_iter()
            .map(|provider| (provider, env.provider_limits(provider)))
            .collect();

        let emergency_cache_ttl = std::time::Duration::from_secs(env.number_in(
            "EMERGENCY_CACHE_SECS",
            0..=300,
            crate::domain::emergency::DEFAULT_CACHE_TTL.as_secs(),
            "set how long a read of the emergency switch is reused, in seconds from 0 to 300, or unset it for 30",
        ));
        let maintenance_defaults = crate::domain::maintenance::MaintenanceSettings::default();
        let maintenance = crate::domain::maintenance::MaintenanceSettings {
            max_items: env.number_in(
                "MAINTENANCE_MAX_ITEMS",
                100..=1_000_000,
                maintenance_defaults.max_items,
                "set the items a maintenance task reads per run, from 100 to 1000000, or unset it for 20000",
            ),
            secret_max_age: env.days_in(
                "SECRET_MAX_AGE_DAYS",
                1..=365,
                maintenance_defaults.secret_max_age,
                "set the rotation period of the secrets in days, from 1 to 365, or unset it for 7",
            ),
            session_key_rotation: env.days_in(
                "SESSION_KEY_ROTATION_DAYS",
                2..=365,
                maintenance_defaults.session_key_rotation,
                "set the session signing key's rotation schedule in days, from 2 to 365, as the template's SessionKeyRotationDays, or unset it for 30",
            ),
        };

        let google = google::read(&mut env, stage, &base_urls);
        let creator_plan = plan::read(&mut env);
        let gumroad = gumroad::read(&mut env, stage, &base_urls);
        let operator_user_ids = env.id_list(
            "OPERATOR_USER_IDS",
            "list the operators' user ids separated by commas, each 1–128 printable ASCII characters without `#`, or unset it for none",
        );
        // Whop's tokens name their key (`kid`) since the JWKS; a token without one is checked
        // against a key embedded in Whop's old SDK that cannot be rotated or revoked, so production
        // refuses them unless told otherwise.
        let whop_accept_keyless_tokens =
            env.flag("WHOP_ACCEPT_KEYLESS_TOKENS", stage != Stage::Prod);
        let creator_limits = AuthLimits {
            limit: env.number_in(
                "CREATOR_RATE_LIMIT_REQUESTS",
                1..=10_000,
                60,
                "set the creator-route requests one user may make per window, from 1 to 10000, or unset it for 60",
            ),
            window: env.seconds_in(
                "CREATOR_RATE_LIMIT_WINDOW_SECS",
                1..=3600,
                std::time::Duration::from_secs(60),
                "the creator routes' per-user window",
            ),
        };
        let notify = env.notify_settings(stage);
        let messaging = messaging::read(&mut env, stage);
        let unsubscribe = UnsubscribeSettings::read(&mut env, stage);
        let paypal = paypal::read(&mut env, stage, &base_urls);
        let stripe_sync = stripe::read(&mut env, &base_urls);
        let ingest = ingest::read(&mut env);
        let reporting = reporting::read(&mut env, stage);

        match whop_user_token_jwks_url {
            Some(whop_user_token_jwks_url) if env.problems.is_empty() => Ok(Self {
                stage,
                whop_app_id,
                whop_company_id,
                tables,
                queues,
                secrets,
                provider_apis: ProviderApis { base_urls },
                whop_user_token_jwks_url,
                webhooks,
                auth_limits,
                sessions,
                whop_token_leeway,
                emergency_cache_ttl,
                limits,
                maintenance,
                google,
                creator_plan,
                gumroad,
                operator_user_ids,
                creator_limits,
                whop_accept_keyless_tokens,
                notify,
                messaging,
                unsubscribe,
                paypal,
                stripe_sync,
                ingest,
                reporting,
            }),
            _ => Err(ConfigError {
                problems: env.problems,
            }),
        }
    }
}

impl Config {
    /// Whop's v1 API: `WHOP_API_BASE_URL`, or Whop's own.
    pub fn whop_api_base_url(&self) -> Url {
        self.provider_apis
            .base_url(Provider::Whop)
            .cloned()
            .or_else(|| Url::parse(WHOP_API_DEFAULT_BASE_URL).ok())
            .unwrap_or_else(|| unreachable!("the default Whop API URL parses"))
    }

    /// How calls to `provider` are admitted.
    pub fn provider_limits(&self, provider: Provider) -> ProviderLimits {
        self.limits
            .iter()
            .find(|(p, _)| *p == provider)
            .map_or_else(|| provider.default_limits(), |(_, limits)| *limits)
    }
}

mod google;
mod gumroad;
// KDP report uploads.
mod ingest;
mod messaging;
mod notify;
mod paypal;
mod plan;
mod reader;
mod reporting;
mod stripe;
#[cfg(test)]
mod tests;

pub use messaging::{EmailProvider, MessagingSettings};
pub use notify::NotifySettings;
pub use reporting::{OtlpSettings, ReportingSettings};
pub use stripe::StripeSyncSettings;

use reader::Reader;
