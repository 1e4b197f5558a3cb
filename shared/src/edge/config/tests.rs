use std::collections::HashMap;

use super::*;

/// [`valid_env`] on the `prod` stage with every secret production requires.
/// The production stage with the core secret ids but none of the notify settings.
fn prod_core_env() -> HashMap<&'static str, String> {
    let mut env = valid_env();
    env.insert("STAGE", "prod".into());
    for var in [
        "WEBHOOK_SECRETS_ID",
        "SESSION_KEYS_SECRET_ID",
        "WHOP_API_KEY_SECRET_ID",
    ] {
        env.insert(var, "secret".into());
    }
    env
}

/// The production stage with every required setting.
fn prod_env() -> HashMap<&'static str, String> {
    let mut env = prod_core_env();
    with_prod_notify(&mut env);
    env
}

fn valid_env() -> HashMap<&'static str, String> {
    [
        ("STAGE", "dev"),
        ("WHOP_APP_ID", "app_abc123"),
        ("WEBHOOK_EVENTS_TABLE", "webhook-events"),
        ("SESSIONS_TABLE", "sessions"),
        ("STATE_TABLE", "state"),
        (
            "EVENTS_QUEUE_URL",
            "http://127.0.0.1:5000/123456789012/events",
        ),
        (
            "EVENTS_DLQ_URL",
            "http://127.0.0.1:5000/123456789012/events-dlq",
        ),
        (
            "SYNC_JOBS_QUEUE_URL",
            "http://127.0.0.1:5000/123456789012/sync-jobs",
        ),
        (
            "SYNC_JOBS_DLQ_URL",
            "http://127.0.0.1:5000/123456789012/sync-jobs-dlq",
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k, v.to_owned()))
    .collect()
}

/// What prod requires for notifications and unsubscribe besides the secrets the tests name.
fn with_prod_notify(env: &mut HashMap<&'static str, String>) {
    env.insert(
        "NOTIFICATIONS_QUEUE_URL",
        "https://sqs.us-east-1.amazonaws.com/1/notifications".into(),
    );
    env.insert("FROM_EMAIL", "alerts@example.com".into());
    env.insert("RESEND_API_KEY_SECRET_ID", "secret".into());
    env.insert("UNSUBSCRIBE_KEY_SECRET_ID", "secret".into());
    env.insert("SUPPRESSION_KEY_SECRET_ID", "secret".into());
}

fn load(env: &HashMap<&'static str, String>) -> Result<Config, ConfigError> {
    Config::from_lookup(&|var| env.get(var).cloned())
}

fn vars(error: &ConfigError) -> Vec<&'static str> {
    error.problems.iter().map(|p| p.var).collect()
}

#[test]
fn accepts_a_complete_environment() {
    let config = load(&valid_env()).unwrap();
    assert_eq!(config.stage, Stage::Dev);
    assert_eq!(config.whop_app_id, "app_abc123");
    assert_eq!(config.tables.state, "state");
    assert!(config.provider_apis.base_url(Provider::Whop).is_none());
}

#[test]
fn reports_every_problem_at_once() {
    let mut env = valid_env();
    env.insert("STAGE", "production".into());
    env.insert("WHOP_APP_ID", "biz_123".into());
    env.remove("STATE_TABLE");
    env.insert("EVENTS_QUEUE_URL", "events".into());
    env.insert("WHOP_API_BASE_URL", "not a url".into());

    let error = load(&env).unwrap_err();

    assert_eq!(
        vars(&error),
        [
            "STAGE",
            "WHOP_APP_ID",
            "STATE_TABLE",
            "EVENTS_QUEUE_URL",
            "WHOP_API_BASE_URL"
        ]
    );
    assert!(error.problems.iter().all(|p| !p.fix.is_empty()));
}

#[test]
fn rejects_app_ids_without_the_app_prefix() {
    for bad in ["app_", "APP_x", "app_x-y", "biz_x"] {
        let mut env = valid_env();
        env.insert("WHOP_APP_ID", bad.into());
        assert_eq!(vars(&load(&env).unwrap_err()), ["WHOP_APP_ID"], "{bad}");
    }
}

#[test]
fn production_requires_every_secret_id() {
    let mut env = valid_env();
    env.insert("STAGE", "prod".into());
    env.insert(
        "WEBHOOK_SECRETS_ID",
        "arn:aws:secretsmanager:us-east-1:1:secret:w".into(),
    );

    let error = load(&env).unwrap_err();

    assert_eq!(
        vars(&error),
        [
            "SESSION_KEYS_SECRET_ID",
            "WHOP_API_KEY_SECRET_ID",
            "NOTIFICATIONS_QUEUE_URL",
            "FROM_EMAIL",
            "RESEND_API_KEY_SECRET_ID",
            "UNSUBSCRIBE_KEY_SECRET_ID",
            "SUPPRESSION_KEY_SECRET_ID"
        ]
    );
}

#[test]
fn production_requires_https_provider_urls() {
    let mut env = prod_env();
    env.insert("WHOP_API_BASE_URL", "http://api.whop.com/api/v1".into());
    assert_eq!(vars(&load(&env).unwrap_err()), ["WHOP_API_BASE_URL"]);

    env.insert("WHOP_API_BASE_URL", "https://api.whop.com/api/v1".into());
    let config = load(&env).unwrap();
    assert_eq!(
        config
            .provider_apis
            .base_url(Provider::Whop)
            .map(Url::as_str),
        Some("https://api.whop.com/api/v1")
    );
}

#[test]
fn reads_the_webhook_settings() {
    let config = load(&valid_env()).unwrap();
    assert_eq!(config.webhooks, WebhookSettings::default());

    let mut env = valid_env();
    env.insert("WEBHOOK_ACCEPT_WHOP_BARE_SIGNATURES", "true".into());
    env.insert("WEBHOOK_SECRETS_TTL_SECS", "30".into());
    let config = load(&env).unwrap();
    assert!(config.webhooks.accept_whop_bare_signatures);
    assert_eq!(config.webhooks.secrets_ttl.as_secs(), 30);

    env.insert("WEBHOOK_ACCEPT_WHOP_BARE_SIGNATURES", "maybe".into());
    env.insert("WEBHOOK_SECRETS_TTL_SECS", "3600".into());
    assert_eq!(
        vars(&load(&env).unwrap_err()),
        [
            "WEBHOOK_ACCEPT_WHOP_BARE_SIGNATURES",
            "WEBHOOK_SECRETS_TTL_SECS"
        ]
    );
}

#[test]
fn reads_the_auth_limits_and_reports_both_out_of_range() {
    assert_eq!(
        load(&valid_env()).unwrap().auth_limits,
        AuthLimits::default()
    );

    let mut env = valid_env();
    env.insert("AUTH_FAILURE_LIMIT", "5".into());
    env.insert("AUTH_FAILURE_WINDOW_SECS", "86400".into());
    let limits = load(&env).unwrap().auth_limits;
    assert_eq!((limits.limit, limits.window.as_secs()), (5, 86_400));

    for (limit, window) in [("0", "9"), ("10001", "86401"), ("many", "-1")] {
        env.insert("AUTH_FAILURE_LIMIT", limit.into());
        env.insert("AUTH_FAILURE_WINDOW_SECS", window.into());
        assert_eq!(
            vars(&load(&env).unwrap_err()),
            ["AUTH_FAILURE_LIMIT", "AUTH_FAILURE_WINDOW_SECS"],
            "{limit} {window}"
        );
    }
}

#[test]
fn reads_the_whop_user_token_jwks_url() {
    let config = load(&valid_env()).unwrap();
    assert_eq!(config.whop_user_token_jwks_url.as_str(), DEFAULT_JWKS_URL);

    let mut env = valid_env();
    env.insert(
        "WHOP_USER_TOKEN_JWKS_URL",
        "http://127.0.0.1:8080/jwks.json".into(),
    );
    assert_eq!(
        load(&env).unwrap().whop_user_token_jwks_url.as_str(),
        "http://127.0.0.1:8080/jwks.json"
    );

    env.insert("WHOP_USER_TOKEN_JWKS_URL", "jwks.json".into());
    assert_eq!(vars(&load(&env).unwrap_err()), ["WHOP_USER_TOKEN_JWKS_URL"]);
}

#[test]
fn production_requires_an_https_jwks_url() {
    let mut env = prod_env();
    assert_eq!(
        load(&env).unwrap().whop_user_token_jwks_url.as_str(),
        DEFAULT_JWKS_URL
    );

    env.insert(
        "WHOP_USER_TOKEN_JWKS_URL",
        "http://api.whop.com/.well-known/jwks.json".into(),
    );
    let error = load(&env).unwrap_err();
    assert_eq!(vars(&error), ["WHOP_USER_TOKEN_JWKS_URL"]);
    assert!(error.problems[0].fix.contains(DEFAULT_JWKS_URL));
}

#[test]
fn reads_the_session_settings_and_the_token_leeway() {
    let config = load(&valid_env()).unwrap();
    assert_eq!(
        config.sessions,
        crate::domain::auth::sessions::SessionSettings::default()
    );
    assert_eq!(config.whop_token_leeway.as_secs(), 5);

    let mut env = valid_env();
    env.insert("SESSION_LIFETIME_SECS", "3600".into());
    env.insert("SESSION_MAX_PER_USER", "3".into());
    env.insert("SESSION_MAX_AGE_DAYS", "7".into());
    env.insert("WHOP_USER_TOKEN_LEEWAY_SECS", "0".into());
    let config = load(&env).unwrap();
    assert_eq!(
        (
            config.sessions.lifetime.as_secs(),
            config.sessions.max_per_user,
            config.sessions.max_age.as_secs()
        ),
        (3600, 3, 7 * 86_400)
    );
    assert_eq!(config.whop_token_leeway.as_secs(), 0);

    env.insert("SESSION_LIFETIME_SECS", "60".into());
    env.insert("SESSION_MAX_PER_USER", "0".into());
    env.insert("SESSION_MAX_AGE_DAYS", "366".into());
    env.insert("WHOP_USER_TOKEN_LEEWAY_SECS", "61".into());
    assert_eq!(
        vars(&load(&env).unwrap_err()),
        [
            "SESSION_LIFETIME_SECS",
            "SESSION_MAX_PER_USER",
            "SESSION_MAX_AGE_DAYS",
            "WHOP_USER_TOKEN_LEEWAY_SECS"
        ]
    );
}

#[test]
fn provider_limits_default_per_provider() {
    let config = load(&valid_env()).unwrap();

    let whop = config.provider_limits(Provider::Whop);
    assert_eq!(whop.breaker, BreakerSettings::default());
    assert_eq!(
        (
            whop.rate_limit.requests.get(),
            whop.rate_limit.window.as_secs(),
            whop.max_concurrency.get(),
            whop.cooldown.as_secs(),
            whop.max_response_bytes
        ),
        (20, 10, 4, 60, 8 * 1024 * 1024)
    );
    for provider in Provider::ALL {
        assert_eq!(
            config.provider_limits(provider),
            provider.default_limits(),
            "{provider:?}"
        );
    }
}

#[test]
fn reads_every_provider_limit_variable() {
    let mut env = valid_env();
    for (var, value) in [
        ("STRIPE_BREAKER_FAILURE_THRESHOLD", "3"),
        ("STRIPE_BREAKER_RECOVERY_SECS", "90"),
        ("STRIPE_BREAKER_HALF_OPEN_PROBES", "2"),
        ("STRIPE_BREAKER_SUCCESS_THRESHOLD", "4"),
        ("STRIPE_RATE_LIMIT_REQUESTS", "100"),
        ("STRIPE_RATE_LIMIT_WINDOW_SECS", "60"),
        ("STRIPE_MAX_CONCURRENCY", "8"),
        ("STRIPE_RATE_LIMIT_COOLDOWN_SECS", "15"),
        ("STRIPE_MAX_RESPONSE_MIB", "2"),
    ] {
        env.insert(var, value.into());
    }

    let config = load(&env).unwrap();

    let stripe = config.provider_limits(Provider::Stripe);
    assert_eq!(
        stripe.breaker,
        BreakerSettings {
            failure_threshold: 3,
            recovery_timeout: Duration::from_secs(90),
            half_open_probes: 2,
            success_threshold: 4,
        }
    );
    assert_eq!(
        (
            stripe.rate_limit.requests.get(),
            stripe.rate_limit.window.as_secs(),
            stripe.max_concurrency.get(),
            stripe.cooldown.as_secs(),
            stripe.max_response_bytes
        ),
        (100, 60, 8, 15, 2 * 1024 * 1024)
    );
    // The others keep their defaults.
    assert_eq!(
        config.provider_limits(Provider::Whop),
        Provider::Whop.default_limits()
    );
}

#[test]
fn reports_every_out_of_range_provider_limit() {
    let mut env = valid_env();
    let bad = [
        ("WHOP_BREAKER_FAILURE_THRESHOLD", "0"),
        ("WHOP_BREAKER_RECOVERY_SECS", "3601"),
        ("WHOP_BREAKER_HALF_OPEN_PROBES", "11"),
        ("WHOP_BREAKER_SUCCESS_THRESHOLD", "-1"),
        ("WHOP_RATE_LIMIT_REQUESTS", "10001"),
        ("WHOP_RATE_LIMIT_WINDOW_SECS", "0"),
        ("WHOP_MAX_CONCURRENCY", "many"),
        ("WHOP_MAX_RESPONSE_MIB", "257"),
        ("PAYPAL_RATE_LIMIT_COOLDOWN_SECS", "1.5"),
    ];
    for (var, value) in bad {
        env.insert(var, value.into());
    }

    let error = load(&env).unwrap_err();

    assert_eq!(vars(&error), bad.map(|(var, _)| var));
    let cooldown = &error.problems[8];
    assert_eq!(
        cooldown.problem,
        "`1.5` is not a whole number from 1 to 3600"
    );
    assert!(
        cooldown.fix.contains("paypal") && cooldown.fix.ends_with("or unset it for 30"),
        "{}",
        cooldown.fix
    );
}

#[test]
fn providers_parse_from_their_names() {
    for provider in Provider::ALL {
        assert_eq!(Provider::parse(provider.as_str()), Some(provider));
    }
    assert_eq!(Provider::parse("Whop"), None);
    assert_eq!(Provider::parse("whop-jwks"), None);
}

#[test]
fn blank_values_count_as_unset() {
    let mut env = valid_env();
    env.insert("WHOP_API_BASE_URL", "  ".into());
    env.insert("SESSIONS_TABLE", "".into());
    let error = load(&env).unwrap_err();
    assert_eq!(vars(&error), ["SESSIONS_TABLE"]);
}

#[test]
fn reads_the_maintenance_settings_and_reports_every_one_out_of_range() {
    let defaults = crate::domain::maintenance::MaintenanceSettings::default();
    assert_eq!(load(&valid_env()).unwrap().maintenance, defaults);
    assert_eq!(
        (
            defaults.max_items,
            defaults.secret_max_age.as_secs(),
            defaults.session_key_rotation.as_secs()
        ),
        (20_000, 7 * 86_400, 30 * 86_400)
    );

    let mut env = valid_env();
    env.insert("MAINTENANCE_MAX_ITEMS", "500".into());
    env.insert("SECRET_MAX_AGE_DAYS", "30".into());
    env.insert("SESSION_KEY_ROTATION_DAYS", "14".into());
    let config = load(&env).unwrap();
    assert_eq!(
        (
            config.maintenance.max_items,
            config.maintenance.secret_max_age.as_secs(),
            config.maintenance.session_key_rotation.as_secs()
        ),
        (500, 30 * 86_400, 14 * 86_400)
    );

    env.insert("MAINTENANCE_MAX_ITEMS", "99".into());
    env.insert("SECRET_MAX_AGE_DAYS", "0".into());
    env.insert("SESSION_KEY_ROTATION_DAYS", "1".into());
    assert_eq!(
        vars(&load(&env).unwrap_err()),
        [
            "MAINTENANCE_MAX_ITEMS",
            "SECRET_MAX_AGE_DAYS",
            "SESSION_KEY_ROTATION_DAYS"
        ]
    );
}

// The message providers' settings.

#[test]
fn messaging_defaults_to_resend_with_texts_off() {
    let config = load(&valid_env()).unwrap();
    assert_eq!(config.messaging, MessagingSettings::default());
    assert_eq!(config.messaging.email_provider, EmailProvider::Resend);
    assert_eq!(config.provider_apis.base_url(Provider::Sendgrid), None);
}

#[test]
fn reads_sendgrid_and_twilio_settings() {
    let mut env = valid_env();
    for (var, value) in [
        ("EMAIL_PROVIDER", "sendgrid"),
        ("SENDGRID_API_KEY_SECRET_ID", "sendgrid-key"),
        ("SENDGRID_API_BASE_URL", "https://api.eu.sendgrid.com"),
        ("TWILIO_API_BASE_URL", "https://api.twilio.com"),
        ("TWILIO_FROM_NUMBER", "+14155550123"),
        ("TWILIO_CREDENTIALS_SECRET_ID", "twilio-credentials"),
        ("TWILIO_RATE_LIMIT_REQUESTS", "3"),
    ] {
        env.insert(var, value.into());
    }
    let config = load(&env).unwrap();
    assert_eq!(
        config.messaging,
        MessagingSettings {
            email_provider: EmailProvider::Sendgrid,
            resend_api_key: None,
            sendgrid_api_key: Some("sendgrid-key".into()),
            twilio_from: Some("+14155550123".into()),
            twilio_credentials: Some("twilio-credentials".into()),
        }
    );
    assert_eq!(
        config
            .provider_apis
            .base_url(Provider::Sendgrid)
            .map(Url::as_str),
        Some("https://api.eu.sendgrid.com/")
    );
    assert!(config.provider_apis.base_url(Provider::Twilio).is_some());
    assert_eq!(
        config
            .provider_limits(Provider::Twilio)
            .rate_limit
            .requests
            .get(),
        3
    );
}

#[test]
fn reports_every_messaging_problem_at_once() {
    let mut env = prod_core_env();
    env.insert("EMAIL_PROVIDER", "sendgrid".into());
    env.insert("TWILIO_FROM_NUMBER", "0415 555".into());
    env.insert("SENDGRID_API_BASE_URL", "not a url".into());
    let problems = vars(&load(&env).unwrap_err());
    for var in [
        "SENDGRID_API_BASE_URL",
        "TWILIO_FROM_NUMBER",
        "SENDGRID_API_KEY_SECRET_ID",
        "TWILIO_CREDENTIALS_SECRET_ID",
    ] {
        assert!(problems.contains(&var), "{var} missing from {problems:?}");
    }

    let mut env = valid_env();
    env.insert("EMAIL_PROVIDER", "mailgun".into());
    assert_eq!(vars(&load(&env).unwrap_err()), ["EMAIL_PROVIDER"]);
}

#[test]
fn prod_with_sendgrid_requires_the_sendgrid_key_and_not_resends() {
    let mut env = prod_env();
    env.remove("RESEND_API_KEY_SECRET_ID");
    env.insert("EMAIL_PROVIDER", "sendgrid".into());
    assert_eq!(
        vars(&load(&env).unwrap_err()),
        ["SENDGRID_API_KEY_SECRET_ID"]
    );
    env.insert("SENDGRID_API_KEY_SECRET_ID", "sendgrid-key".into());
    let config = load(&env).unwrap();
    assert_eq!(config.messaging.resend_api_key, None);
}

#[test]
fn prod_with_resend_requires_the_resend_key_and_not_sendgrids() {
    let mut env = prod_env();
    env.remove("RESEND_API_KEY_SECRET_ID");
    assert_eq!(vars(&load(&env).unwrap_err()), ["RESEND_API_KEY_SECRET_ID"]);
    env.insert("RESEND_API_KEY_SECRET_ID", "resend-key".into());
    let config = load(&env).unwrap();
    assert_eq!(config.messaging.sendgrid_api_key, None);
    assert_eq!(
        config.messaging.resend_api_key.as_deref(),
        Some("resend-key")
    );
}

#[test]
fn the_resend_base_url_is_read_with_the_other_provider_apis() {
    let mut env = valid_env();
    env.insert("RESEND_API_BASE_URL", "http://127.0.0.1:4010".into());
    let config = load(&env).unwrap();
    assert_eq!(
        config
            .provider_apis
            .base_url(Provider::Resend)
            .map(Url::as_str),
        Some("http://127.0.0.1:4010/")
    );
    env.insert("RESEND_API_BASE_URL", "not a url".into());
    assert_eq!(vars(&load(&env).unwrap_err()), ["RESEND_API_BASE_URL"]);
}

#[test]
fn a_messaging_service_sid_is_a_sender() {
    let mut env = valid_env();
    env.insert("TWILIO_FROM_NUMBER", format!("MG{}", "a".repeat(32)));
    assert!(load(&env).is_ok());
}

#[test]
fn reads_the_operators_user_ids() {
    assert!(load(&valid_env()).unwrap().operator_user_ids.is_empty());
    let mut env = valid_env();
    env.insert("OPERATOR_USER_IDS", " op_cli, user_abc ".into());
    assert_eq!(
        load(&env).unwrap().operator_user_ids,
        ["op_cli", "user_abc"]
    );
    let limits = load(&valid_env()).unwrap().creator_limits;
    assert_eq!((limits.limit, limits.window.as_secs()), (60, 60));
    for bad in ["op_cli,,user_abc", "op#1", "a b"] {
        env.insert("OPERATOR_USER_IDS", bad.into());
        assert_eq!(
            vars(&load(&env).unwrap_err()),
            ["OPERATOR_USER_IDS"],
            "{bad}"
        );
    }
}

#[test]
fn keyless_whop_tokens_are_accepted_except_in_prod_unless_set() {
    assert!(load(&valid_env()).unwrap().whop_accept_keyless_tokens);
    assert!(!load(&prod_env()).unwrap().whop_accept_keyless_tokens);
    let mut env = prod_env();
    env.insert("WHOP_ACCEPT_KEYLESS_TOKENS", "true".into());
    assert!(load(&env).unwrap().whop_accept_keyless_tokens);
    let mut env = valid_env();
    env.insert("WHOP_ACCEPT_KEYLESS_TOKENS", "no".into());
    assert!(!load(&env).unwrap().whop_accept_keyless_tokens);
    env.insert("WHOP_ACCEPT_KEYLESS_TOKENS", "maybe".into());
    assert_eq!(
        vars(&load(&env).unwrap_err()),
        ["WHOP_ACCEPT_KEYLESS_TOKENS"]
    );
}

#[test]
fn google_sign_in_is_off_without_a_client_id_and_complete_with_one() {
    let config = load(&valid_env()).unwrap();
    assert_eq!(config.google, None);

    let mut env = valid_env();
    env.insert(
        "GOOGLE_CLIENT_ID",
        "client-1.apps.googleusercontent.com".into(),
    );
    env.insert(
        "GOOGLE_REDIRECT_URI",
        "http://127.0.0.1:3000/auth/google/callback".into(),
    );
    env.insert("GOOGLE_CLIENT_SECRET_ID", "google-client".into());
    env.insert("GOOGLE_HOSTED_DOMAIN", "example.com".into());
    let google = load(&env).unwrap().google.unwrap();
    assert_eq!(google.client_id, "client-1.apps.googleusercontent.com");
    assert_eq!(google.hosted_domain.as_deref(), Some("example.com"));
    assert_eq!(
        google.token_url.as_str(),
        crate::providers::google::DEFAULT_TOKEN_URL
    );
    assert_eq!(
        google.jwks_url.as_str(),
        crate::providers::google::DEFAULT_JWKS_URL
    );
}

#[test]
fn google_sign_in_reports_every_problem_at_once() {
    let mut env = prod_env();
    env.insert("GOOGLE_CLIENT_ID", "client-1".into());
    env.insert(
        "GOOGLE_REDIRECT_URI",
        "https://api.example.com/elsewhere".into(),
    );
    env.insert("GOOGLE_HOSTED_DOMAIN", "not a domain".into());
    env.insert("GOOGLE_JWKS_URL", "http://127.0.0.1:9/certs".into());
    let error = load(&env).unwrap_err();
    assert_eq!(
        vars(&error),
        [
            "GOOGLE_REDIRECT_URI",
            "GOOGLE_CLIENT_SECRET_ID",
            "GOOGLE_HOSTED_DOMAIN",
            "GOOGLE_JWKS_URL"
        ]
    );

    let mut env = valid_env();
    env.insert(
        "GOOGLE_REDIRECT_URI",
        "https://api.example.com/auth/google/callback".into(),
    );
    env.insert("GOOGLE_CLIENT_SECRET_ID", "set by the template".into());
    assert_eq!(vars(&load(&env).unwrap_err()), ["GOOGLE_REDIRECT_URI"]);
}

#[test]
fn paypal_test_trust_and_loopback_cert_urls_are_refused_in_prod_and_read_elsewhere() {
    let mut env = prod_env();
    env.insert("PAYPAL_WEBHOOK_ID", "9XL90610J3647323C".into());
    env.insert("PAYPAL_TEST_ROOT_PEM", "-----BEGIN CERTIFICATE-----".into());
    env.insert("PAYPAL_ALLOW_LOOPBACK_CERT_URLS", "true".into());
    let refused = vars(&load(&env).unwrap_err());
    assert!(
        refused.contains(&"PAYPAL_ALLOW_LOOPBACK_CERT_URLS"),
        "{refused:?}"
    );
    assert_eq!(
        refused
            .iter()
            .filter(|v| **v == "PAYPAL_TEST_ROOT_PEM")
            .count(),
        2,
        "refused in prod, and not a certificate: {refused:?}"
    );

    let mut env = valid_env();
    env.insert("PAYPAL_WEBHOOK_ID", "9XL90610J3647323C".into());
    env.insert("PAYPAL_COMPANY_ID", "biz_paypal".into());
    env.insert("PAYPAL_ALLOW_LOOPBACK_CERT_URLS", "true".into());
    let paypal = load(&env).unwrap().paypal.unwrap();
    assert_eq!(paypal.webhook_id, "9XL90610J3647323C");
    assert_eq!(paypal.company_id.as_deref(), Some("biz_paypal"));
    assert!(paypal.allow_loopback_cert_urls);

    env.insert("PAYPAL_WEBHOOK_ID", "not-an-id!".into());
    assert_eq!(vars(&load(&env).unwrap_err()), ["PAYPAL_WEBHOOK_ID"]);
}

#[test]
fn paypal_off_as_the_template_sets_it_loads_and_its_settings_are_read_with_each_problem_named() {
    use crate::providers::paypal::Verification;
    let mut env = valid_env();
    // As the template sets them with PayPal off.
    env.insert("PAYPAL_ALLOW_LOOPBACK_CERT_URLS", "false".into());
    env.insert("PAYPAL_TOLERANCE_SECS", "300".into());
    env.insert("PAYPAL_VERIFICATION", "offline".into());
    env.insert("PAYPAL_CLIENT_SECRET_ID", "paypal-client-secret".into());
    assert_eq!(load(&env).unwrap().paypal, None);

    env.insert("PAYPAL_WEBHOOK_ID", "9XL90610J3647323C".into());
    env.remove("PAYPAL_CLIENT_SECRET_ID");
    let paypal = load(&env).unwrap().paypal.unwrap();
    assert_eq!(paypal.tolerance_secs, 300);
    assert_eq!(paypal.api, None);

    env.insert("PAYPAL_TOLERANCE_SECS", "5".into());
    env.insert("PAYPAL_CLIENT_ID", "AbC-123".into());
    assert_eq!(
        vars(&load(&env).unwrap_err()),
        [
            "PAYPAL_TOLERANCE_SECS",
            "PAYPAL_CLIENT_SECRET_ID",
            "PAYPAL_API_BASE_URL"
        ]
    );

    env.insert("PAYPAL_TOLERANCE_SECS", "600".into());
    env.insert("PAYPAL_CLIENT_SECRET_ID", "paypal-client-secret".into());
    env.insert(
        "PAYPAL_API_BASE_URL",
        "https://api-m.sandbox.paypal.com".into(),
    );
    let paypal = load(&env).unwrap().paypal.unwrap();
    assert_eq!(paypal.tolerance_secs, 600);
    let api = paypal.api.unwrap();
    assert_eq!(api.client_id, "AbC-123");
    assert_eq!(api.client_secret_id, "paypal-client-secret");
    assert_eq!(api.base_url.as_str(), "https://api-m.sandbox.paypal.com/");
    assert_eq!(paypal.verification, Verification::Offline);

    env.insert("PAYPAL_VERIFICATION", "online".into());
    assert_eq!(
        load(&env).unwrap().paypal.unwrap().verification,
        Verification::Online
    );
    env.insert("PAYPAL_VERIFICATION", "sometimes".into());
    assert_eq!(vars(&load(&env).unwrap_err()), ["PAYPAL_VERIFICATION"]);
    env.remove("PAYPAL_CLIENT_ID");
    env.insert("PAYPAL_VERIFICATION", "online".into());
    assert_eq!(vars(&load(&env).unwrap_err()), ["PAYPAL_VERIFICATION"]);
}

#[test]
fn reads_the_creator_plan_and_reports_every_problem_with_it() {
    use crate::domain::creators::plan::Tier;
    let config = load(&valid_env()).unwrap();
    assert_eq!(config.creator_plan.product_id, None, "every creator free");
    let mut env = valid_env();
    env.insert("CHURNSAVER_PRODUCT_ID", "prod_cs1".to_owned());
    env.insert(
        "CHURNSAVER_TIER_PLANS",
        "plan_x:pro, plan_y:starter".to_owned(),
    );
    let plan = load(&env).unwrap().creator_plan;
    assert_eq!(plan.product_id.as_deref(), Some("prod_cs1"));
    assert_eq!(plan.tiers["plan_x"], Tier::Pro);
    assert_eq!(plan.tiers["plan_y"], Tier::Starter);

    env.insert("CHURNSAVER_PRODUCT_ID", "cs1".to_owned());
    env.insert(
        "CHURNSAVER_TIER_PLANS",
        "plan_x:gold,plan_y,plan_z:pro,plan_z:free".to_owned(),
    );
    let error = load(&env).unwrap_err();
    assert_eq!(
        vars(&error),
        [
            "CHURNSAVER_PRODUCT_ID",
            "CHURNSAVER_TIER_PLANS",
            "CHURNSAVER_TIER_PLANS",
            "CHURNSAVER_TIER_PLANS"
        ]
    );
    let mut env = valid_env();
    env.insert("CHURNSAVER_TIER_PLANS", "plan_x:pro".to_owned());
    assert_eq!(vars(&load(&env).unwrap_err()), ["CHURNSAVER_TIER_PLANS"]);
}
