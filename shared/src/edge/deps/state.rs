//! The state function's dependencies: the state table it reads, and for the creator routes the
//! company listings, the company items (settings, cached access answers) and the cached Whop
//! access check.

use std::sync::{Arc, OnceLock};

use crate::App;
use crate::aws::breaker::DynamoBreakers;
use crate::aws::company_items::DynamoCompanyItems;
use crate::aws::state::DynamoState;
use crate::domain::companies::access::{ACCESS_TTL, CachedCompanyAccess};
use crate::domain::ports::{AccessCheckError, AccessLevel, CompanyAccess, SystemClock};
use crate::edge::deps::sync::{provider_client, provider_guard};
use crate::providers::client::{ProviderGuard, RetryPolicy};
use crate::providers::whop::api::{SecretKey, WhopApi};

/// Whop's API as the state function calls it.
pub type AppWhopApi = WhopApi<
    ProviderGuard<DynamoBreakers, SystemClock>,
    SecretKey<aws_sdk_secretsmanager::Client, SystemClock>,
>;

/// The access check the creator routes ask: Whop's, cached in the state table.
pub type AppAccess = CachedCompanyAccess<LazyWhopAccess, DynamoCompanyItems, SystemClock>;

/// Built once per cold start.
pub struct StateDeps {
    pub store: DynamoState,
    pub companies: DynamoCompanyItems,
    pub access: AppAccess,
}

impl StateDeps {
    pub fn build(app: Arc<App>) -> Self {
        let companies = DynamoCompanyItems::of(&app);
        Self {
            store: DynamoState::of(&app),
            companies: companies.clone(),
            access: CachedCompanyAccess::new(
                LazyWhopAccess::new(app),
                companies,
                SystemClock,
                ACCESS_TTL,
            ),
        }
    }
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
    api: OnceLock<Result<AppWhopApi, String>>,
}

impl LazyWhopAccess {
    pub fn new(app: Arc<App>) -> Self {
        Self {
            app,
            api: OnceLock::new(),
        }
    }

    fn api(&self) -> Result<&AppWhopApi, AccessCheckError> {
        self.api
            .get_or_init(|| whop_api(&self.app))
            .as_ref()
            .map_err(|reason| {
                tracing::error!(%reason, "the Whop access check cannot run: {reason}");
                AccessCheckError::Unavailable("the Whop API is not configured".to_owned())
            })
    }
}

/// Whop's API over the process's provider client, with the app API key.
fn whop_api(app: &App) -> Result<AppWhopApi, String> {
    let config = &app.config;
    let key_secret = config
        .secrets
        .whop_api_key
        .clone()
        .ok_or("WHOP_API_KEY_SECRET_ID is not set")?;
    let client = provider_client(app, access_retry_policy(), provider_guard(app))
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
