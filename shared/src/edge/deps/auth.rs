//! The auth function's and the authorizer's dependencies: sessions (their table and signing
//! keys), the failed-authentication limiter and, for logins, Whop's token keys and Google
//! sign-in.

use std::sync::{Arc, OnceLock};

use crate::App;
use crate::aws::limits::DynamoFailureCounter;
use crate::aws::sessions::DynamoSessions;
use crate::domain::auth::keys::SessionKeys;
use crate::domain::auth::limits::AuthLimiter;
use crate::domain::auth::sessions::Sessions;
use crate::domain::ports::SystemClock;
use crate::providers::whop::user_token::{TokenSettings, WhopKeys};

use super::sync::{AppAdmission, provider_admission, provider_client};
use crate::aws::sign_in::DynamoSignIn;
use crate::domain::auth::oidc::{ClaimRules, SignIn};
use crate::providers::google::id_token::{GOOGLE_JWKS, GoogleKeys};
use crate::providers::google::{ClientSecret, GoogleOidc, GoogleSettings, exchange_policy};

/// Sessions as the auth function and the authorizer use them.
pub type SessionService = Sessions<DynamoSessions, aws_sdk_secretsmanager::Client, SystemClock>;

/// The failed-authentication limiter over the state table.
pub type Limiter = AuthLimiter<DynamoFailureCounter, SystemClock>;

/// The stack's sessions: its table, its signing keys (`SESSION_KEYS_SECRET_ID`) and settings.
/// Without a configured key secret every session operation fails as a dependency (503), never
/// open.
pub fn session_service(app: &App) -> SessionService {
    Sessions {
        store: DynamoSessions::of(app),
        keys: session_keys(app),
        clock: SystemClock,
        settings: app.config.sessions,
    }
}

/// The stack's session signing keys (`SESSION_KEYS_SECRET_ID`), which also seal Google sign-in
/// flows.
pub fn session_keys(app: &App) -> SessionKeys<aws_sdk_secretsmanager::Client, SystemClock> {
    SessionKeys::new(
        app.secrets_manager.clone(),
        SystemClock,
        app.config.secrets.session_keys.clone().unwrap_or_default(),
        crate::domain::auth::keys::DEFAULT_TTL,
    )
}

/// The limiter over the stack's state table with the configured limits, as the auth routes and
/// the authorizer run it.
pub fn auth_limiter(app: &App) -> Limiter {
    AuthLimiter::new(
        DynamoFailureCounter::of(app),
        SystemClock,
        app.config.auth_limits,
    )
}

/// What a Whop token must say: our app id, within the configured leeway (at most 60 s, which
/// configuration already enforces).
fn token_settings(app: &App) -> TokenSettings {
    let settings = TokenSettings::new(app.config.whop_app_id.clone())
        .accepting_keyless(app.config.whop_accept_keyless_tokens);
    settings
        .clone()
        .with_leeway(app.config.whop_token_leeway)
        .unwrap_or(settings)
}

/// Built once per cold start: key caches and the blocked-IP cache live as long as the instance.
pub struct AuthDeps {
    app: Arc<App>,
    pub sessions: SessionService,
    /// Built on the first login: the HTTP client's trust-store load is cold-start time the
    /// session routes never need.
    whop_keys: OnceLock<Result<WhopKeys<SystemClock>, String>>,
    pub token_settings: TokenSettings,
    pub limiter: Limiter,
    /// Built on the first Google sign-in, like `whop_keys`; `None` inside when it is off.
    google: OnceLock<Result<Option<GoogleSignIn>, String>>,
    /// Creator profiles, written on a first sign-in (`domain::creators::record_sign_in`).
    pub profiles: crate::aws::company_items::DynamoCompanyItems,
}

impl AuthDeps {
    pub fn build(app: Arc<App>) -> Self {
        Self {
            sessions: session_service(&app),
            whop_keys: OnceLock::new(),
            token_settings: token_settings(&app),
            limiter: auth_limiter(&app),
            google: OnceLock::new(),
            profiles: crate::aws::company_items::DynamoCompanyItems::of(&app),
            app,
        }
    }

    /// Google sign-in, `Ok(None)` when it is not configured, or why it cannot be built.
    pub fn google(&self) -> Result<Option<&GoogleSignIn>, &str> {
        self.google
            .get_or_init(|| {
                self.app
                    .config
                    .google
                    .as_ref()
                    .map(|settings| google_sign_in(&self.app, settings.clone()))
                    .transpose()
            })
            .as_ref()
            .map(Option::as_ref)
            .map_err(String::as_str)
    }

    /// Whop's token keys, or why there is no HTTP client to fetch them with.
    pub fn whop_keys(&self) -> Result<&WhopKeys<SystemClock>, &str> {
        self.whop_keys
            .get_or_init(|| {
                let http = self.app.http().map_err(str::to_owned)?;
                Ok(WhopKeys::new(
                    http.clone(),
                    self.app.config.whop_user_token_jwks_url.clone(),
                    SystemClock,
                ))
            })
            .as_ref()
            .map_err(String::as_str)
    }
}

/// Built once per process: the signing-key cache and the blocked-IP cache live as long as the
/// warm authorizer.
pub struct AuthorizerDeps {
    pub sessions: SessionService,
    pub limiter: Limiter,
    /// `OPERATOR_USER_IDS`: whose sessions are admitted as the operator principal.
    pub operators: Vec<String>,
}

impl AuthorizerDeps {
    /// The principal a valid session of `user_id` is admitted as: [`OPERATOR_PRINCIPAL`] for the
    /// configured operators, else [`USER_PRINCIPAL`].
    pub fn principal(&self, user_id: &str) -> &'static str {
        if self.operators.iter().any(|operator| operator == user_id) {
            OPERATOR_PRINCIPAL
        } else {
            USER_PRINCIPAL
        }
    }
}

/// The authorizer context's `principal` for a signed-in user.
pub const USER_PRINCIPAL: &str = "user";
/// The authorizer context's `principal` for an operator (a user of `OPERATOR_USER_IDS`), which
/// the detailed health routes require.
pub const OPERATOR_PRINCIPAL: &str = "operator";

impl AuthorizerDeps {
    #[expect(
        clippy::needless_pass_by_value,
        reason = "every composition root is built from the runtime's Arc<App>"
    )]
    pub fn build(app: Arc<App>) -> Self {
        Self {
            sessions: session_service(&app),
            limiter: auth_limiter(&app),
            operators: app.config.operator_user_ids.clone(),
        }
    }
}

/// Google as the sign-in's provider: the code exchange through the `google` service's admission
/// (emergency switch, breaker, limits), the client secret from Secrets Manager, Google's keys.
pub type GoogleProvider = GoogleOidc<AppAdmission, aws_sdk_secretsmanager::Client, SystemClock>;

/// Google sign-in as the auth function runs it.
pub type GoogleSignIn =
    SignIn<GoogleProvider, DynamoSignIn, aws_sdk_secretsmanager::Client, SystemClock>;

/// Google sign-in over the stack's state table, session keys and HTTP client.
pub fn google_sign_in(app: &App, settings: GoogleSettings) -> Result<GoogleSignIn, String> {
    let client = provider_client(
        app,
        crate::edge::config::Provider::Google,
        exchange_policy(),
        provider_admission(app),
    )
    .map_err(|e| e.to_string())?;
    let keys = GoogleKeys::new(
        client.http().clone(),
        settings.jwks_url.clone(),
        SystemClock,
        GOOGLE_JWKS,
    );
    let rules = ClaimRules {
        client_id: settings.client_id.clone(),
        hosted_domain: settings.hosted_domain.clone(),
    };
    let secret = ClientSecret::new(
        app.secrets_manager.clone(),
        SystemClock,
        settings.client_secret_id.clone(),
    );
    Ok(SignIn {
        provider: GoogleOidc {
            settings,
            client,
            secret,
            keys,
        },
        store: DynamoSignIn::of(app),
        keys: session_keys(app),
        clock: SystemClock,
        rules,
    })
}
