//! The state function's dependencies: the state table it reads, the emergency switches that mark
//! its answers stale (and stop its calls to the provider), and for the creator routes the company
//! listings, the company items (settings, cached access answers) and the cached Whop access check,
//! and the `notifications` queue a settings save puts its confirmation on.

use std::sync::{Arc, OnceLock};

use crate::App;
use crate::aws::company_items::DynamoCompanyItems;
use crate::aws::emergency::DynamoEmergencies;
use crate::aws::state::DynamoState;
use crate::domain::companies::access::{ACCESS_TTL, CachedCompanyAccess};
use crate::domain::companies::known::RememberOnce;
use crate::domain::creators::plan::Plans;
use crate::domain::emergency::EmergencySwitch;
use crate::domain::ports::{AccessCheckError, AccessLevel, CompanyAccess, SystemClock};
use crate::edge::config::Provider;
use crate::edge::deps::sync::{AppAdmission, provider_client, provider_guard};
use crate::providers::client::{EmergencyGate, RetryPolicy};
use crate::providers::whop::api::{SecretKey, WhopApi};

/// Whop's API as the state function calls it.
pub type AppWhopApi = WhopApi<AppAdmission, SecretKey<aws_sdk_secretsmanager::Client, SystemClock>>;

/// The access check the creator routes ask: Whop's, cached in the state table; the companies its
/// admins are found in made known there.
pub type AppAccess = CachedCompanyAccess<
    LazyWhopAccess,
    DynamoCompanyItems,
    SystemClock,
    RememberOnce<DynamoCompanyItems>,
>;

/// Built once per cold start: the switches' cache lives as long as the warm function.
pub struct StateDeps {
    pub store: DynamoState,
    pub emergency: Arc<EmergencySwitch<DynamoEmergencies, SystemClock>>,
    pub companies: DynamoCompanyItems,
    pub access: AppAccess,
    /// The creators' plans (`CHURNSAVER_PRODUCT_ID`, `CHURNSAVER_TIER_PLANS`), read from the
    /// same table.
    pub plans: Plans<DynamoState>,
    /// Gumroad connections (`/connections/gumroad/…`).
    pub gumroad: super::gumroad::GumroadDeps,
    /// The creator routes' per-user limit (`CREATOR_RATE_LIMIT_*`).
    pub creator_limiter: crate::edge::deps::auth::Limiter,
    /// `NOTIFICATIONS_QUEUE_URL`'s queue; none enqueues nothing.
    pub notifications: Option<crate::aws::notify::SqsNotifications>,
    /// The sales events the sales view reads (`GET /companies/{company_id}/sales`).
    pub sales: crate::aws::sales::DynamoSales,
    /// The data key GA4 API secrets are sealed with (`/companies/{company_id}/analytics`);
    /// none without `DATA_KEY_SECRET_ID`.
    pub analytics_keys: Option<super::notify::AppDataKeys>,
}

impl StateDeps {
    pub fn build(app: Arc<App>) -> Self {
        let companies = DynamoCompanyItems::of(&app);
        let sales = crate::aws::sales::DynamoSales::of(&app);
        let notifications = super::processor::notification_queue(&app);
        // One switch (one cache) for the stale marking and the access check's calls.
        let emergency = Arc::new(super::sync::emergency_switch(&app));
        let plans = Plans {
            store: DynamoState::of(&app),
            settings: app.config.creator_plan.clone(),
        };
        Self {
            gumroad: super::gumroad::GumroadDeps::build(Arc::clone(&app)),
            analytics_keys: super::notify::data_keys(&app),
            creator_limiter: crate::domain::auth::limits::AuthLimiter::new(
                crate::aws::limits::DynamoFailureCounter::of(&app),
                SystemClock,
                app.config.creator_limits,
            ),
            store: DynamoState::of(&app),
            emergency: Arc::clone(&emergency),
            companies,
            access: company_access(app, emergency),
            plans,
            notifications,
            sales,
        }
    }
}

/// The cached Whop access check of the creator routes, over `emergency`'s switches.
pub fn company_access(
    app: Arc<App>,
    emergency: Arc<EmergencySwitch<DynamoEmergencies, SystemClock>>,
) -> AppAccess {
    let companies = DynamoCompanyItems::of(&app);
    CachedCompanyAccess::new(
        LazyWhopAccess::new(app, emergency),
        companies.clone(),
        SystemClock,
        ACCESS_TTL,
    )
    .with_known_companies(RememberOnce::new(companies))
}

/// The access check's retries: one short retry, so a request waits at most a few seconds for Whop
/// before answering 503.
pub fn access_retry_policy() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 2,
        budget: std::time::Duration::from_secs(4),
        attempt_timeout: std::time::Duration::from_secs(2),
        ..RetryPolicy::default()
    }
}

/// Whop's client for the access check, built on first use (its HTTP client loads the trust store,
/// cold-start time the membership routes never need) and kept, so its rate limit and key cache
/// live as long as the warm function.
pub struct LazyWhopAccess {
    app: Arc<App>,
    emergency: Arc<EmergencySwitch<DynamoEmergencies, SystemClock>>,
    api: OnceLock<Result<AppWhopApi, String>>,
}

impl LazyWhopAccess {
    pub fn new(
        app: Arc<App>,
        emergency: Arc<EmergencySwitch<DynamoEmergencies, SystemClock>>,
    ) -> Self {
        Self {
            app,
            emergency,
            api: OnceLock::new(),
        }
    }

    fn api(&self) -> Result<&AppWhopApi, AccessCheckError> {
        self.api
            .get_or_init(|| whop_api(&self.app, Arc::clone(&self.emergency)))
            .as_ref()
            .map_err(|reason| {
                tracing::error!(%reason, "the Whop access check cannot run: {reason}");
                AccessCheckError::Unavailable("the Whop API is not configured".to_owned())
            })
    }
}

/// Whop's API over the process's provider client (behind the emergency switches, so no request
/// leaves while Whop's is on), with the app API key.
fn whop_api(
    app: &App,
    emergency: Arc<EmergencySwitch<DynamoEmergencies, SystemClock>>,
) -> Result<AppWhopApi, String> {
    let config = &app.config;
    let key_secret = config
        .secrets
        .whop_api_key
        .clone()
        .ok_or("WHOP_API_KEY_SECRET_ID is not set")?;
    let admission = EmergencyGate::new(provider_guard(app), emergency);
    let client = provider_client(app, Provider::Whop, access_retry_policy(), admission)
        .map_err(|e| e.to_string())?;
    let key = SecretKey::new(app.secrets_manager.clone(), SystemClock, key_secret);
    Ok(WhopApi::new(client, config.whop_api_base_url(), key).with_app_id(&config.whop_app_id))
}

impl CompanyAccess for LazyWhopAccess {
    async fn access_level(
        &self,
        user_id: &str,
        company_id: &str,
    ) -> Result<AccessLevel, AccessCheckError> {
        self.api()?.access_level(user_id, company_id).await
    }
}
