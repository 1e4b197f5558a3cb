//! Sessions against the emulator: the real sessions table, signing keys in Secrets Manager, and
//! the rotation steps.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use secrecy::ExposeSecret;
use shared::App;
use shared::aws::sessions::DynamoSessions;
use shared::domain::auth::keys::{DEFAULT_TTL, SessionKeys};
use shared::domain::auth::sessions::{Client, SessionError, SessionSettings, Sessions};
use shared::domain::ports::Clock;

use crate::helpers::{RequestLog, start_stack};

/// A clock the test moves.
#[derive(Debug, Clone)]
struct TestClock(Arc<Mutex<DateTime<Utc>>>);

impl TestClock {
    fn new() -> Self {
        Self(Arc::new(Mutex::new(Utc::now())))
    }

    fn advance(&self, seconds: i64) {
        *self.0.lock().unwrap() += chrono::Duration::seconds(seconds);
    }
}

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

type TestSessions = Sessions<DynamoSessions, aws_sdk_secretsmanager::Client, TestClock>;

fn sessions(app: &App, clock: &TestClock, settings: SessionSettings) -> TestSessions {
    Sessions {
        store: DynamoSessions::of(app),
        keys: SessionKeys::new(
            app.secrets_manager.clone(),
            clock.clone(),
            app.config.secrets.session_keys.clone().unwrap(),
            DEFAULT_TTL,
        ),
        clock: clock.clone(),
        settings,
    }
}

const HOUR: Duration = Duration::from_secs(3600);

fn settings(lifetime: Duration, max_per_user: usize) -> SessionSettings {
    SessionSettings {
        lifetime,
        max_per_user,
        ..SessionSettings::default()
    }
}

async fn open(sessions: &TestSessions, user: &str) -> String {
    let client = Client {
        ip: Some("203.0.113.7".into()),
        user_agent: Some("test".into()),
    };
    let issued = sessions.create(user, &client).await.unwrap();
    issued.token.expose_secret().to_owned()
}

#[tokio::test]
async fn a_session_lives_is_listed_and_is_revoked() {
    let stack = start_stack().await;
    let clock = TestClock::new();
    let sessions = sessions(&stack.app, &clock, settings(2 * HOUR, 10));
    let token = open(&sessions, "user_life").await;

    let validated = sessions.validate(&token).await.unwrap();
    assert_eq!(validated.record.user_id, "user_life");
    assert!(!validated.renewed);
    assert_eq!(validated.record.ip.as_deref(), Some("203.0.113.7"));

    let other = open(&sessions, "user_life").await;
    let (user, listed) = sessions.list(&token).await.unwrap();
    assert_eq!(user, "user_life");
    assert_eq!(listed.len(), 2);
    assert_eq!(listed.iter().filter(|s| s.current).count(), 1);

    sessions.revoke(&token).await.unwrap();
    assert_eq!(sessions.validate(&token).await, Err(SessionError::Revoked));
    assert!(sessions.validate(&other).await.is_ok(), "only that one");

    // Nothing in the table is a usable token: only hashes.
    let items = stack
        .app
        .dynamodb
        .scan()
        .table_name(&stack.app.config.tables.sessions)
        .send()
        .await
        .unwrap()
        .items
        .unwrap_or_default();
    let dump = format!("{items:?}");
    let id = other.split('.').nth(2).unwrap();
    assert!(!dump.contains(id), "the session id is stored");
}

#[tokio::test]
async fn sessions_slide_past_half_their_lifetime() {
    let stack = start_stack().await;
    let clock = TestClock::new();
    let sessions = sessions(&stack.app, &clock, settings(2 * HOUR, 10));
    let token = open(&sessions, "user_slide").await;
    let first = sessions.validate(&token).await.unwrap().record.expires_at;

    clock.advance(50 * 60);
    let early = sessions.validate(&token).await.unwrap();
    assert!(!early.renewed, "before half-life");
    assert_eq!(early.record.expires_at, first);

    clock.advance(20 * 60);
    let renewed = sessions.validate(&token).await.unwrap();
    assert!(renewed.renewed);
    assert_eq!(renewed.record.expires_at, clock.now().timestamp() + 7200);

    // Used within each lifetime, it outlives its first expiry.
    clock.advance(90 * 60);
    assert!(sessions.validate(&token).await.is_ok());
}

#[tokio::test]
async fn a_session_older_than_its_maximum_age_is_refused_even_if_used_every_minute() {
    use shared::domain::ports::SessionStore;

    let stack = start_stack().await;
    let clock = TestClock::new();
    let settings = SessionSettings {
        max_age: 6 * HOUR,
        ..settings(HOUR, 10)
    };
    let sessions = sessions(&stack.app, &clock, settings);
    let token = open(&sessions, "user_forever").await;
    let created_at = clock.now().timestamp();
    let end_of_life = created_at + 6 * 3600;

    let mut renewals = 0;
    for minute in 1..6 * 60 {
        clock.advance(60);
        let validated = sessions.validate(&token).await.unwrap_or_else(|error| {
            panic!("minute {minute}: {error}");
        });
        renewals += usize::from(validated.renewed);
        assert!(
            validated.record.expires_at <= end_of_life,
            "minute {minute}"
        );
    }
    // It slid (every half hour) while it was young, and was never extended past its maximum age.
    assert!(renewals >= 10, "{renewals}");
    let stored = sessions.store.of_user("user_forever").await.unwrap();
    assert_eq!(stored[0].created_at, created_at);
    assert_eq!(stored[0].expires_at, end_of_life);

    clock.advance(60);
    assert_eq!(sessions.validate(&token).await, Err(SessionError::Expired));

    // The write's own condition refuses to extend a session created before the cut-off, so no
    // caller that skipped the check (or raced it) can extend it either.
    let pk = &stored[0].pk;
    assert!(
        !sessions
            .store
            .extend(pk, end_of_life + 3600, end_of_life, created_at)
            .await
            .unwrap()
    );
    assert!(
        sessions
            .store
            .extend(pk, end_of_life, end_of_life, created_at - 1)
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn an_expired_session_still_in_the_table_is_refused() {
    let stack = start_stack().await;
    let clock = TestClock::new();
    let sessions = sessions(&stack.app, &clock, settings(HOUR, 10));
    let token = open(&sessions, "user_expired").await;
    clock.advance(3601);
    assert_eq!(sessions.validate(&token).await, Err(SessionError::Expired));
    // The emulator never applies TTL: the item is still there.
    let items = stack
        .app
        .dynamodb
        .scan()
        .table_name(&stack.app.config.tables.sessions)
        .send()
        .await
        .unwrap()
        .count;
    assert_eq!(items, 1);
}

#[tokio::test]
async fn revoke_all_and_the_cap_per_user() {
    let stack = start_stack().await;
    let clock = TestClock::new();
    let sessions = sessions(&stack.app, &clock, settings(2 * HOUR, 3));
    let mut tokens = Vec::new();
    for _ in 0..5 {
        tokens.push(open(&sessions, "user_cap").await);
        clock.advance(1);
    }
    // The two oldest were revoked to make room.
    for (index, token) in tokens.iter().enumerate() {
        let valid = sessions.validate(token).await.is_ok();
        assert_eq!(valid, index >= 2, "session {index}");
    }
    assert_eq!(sessions.list_user("user_cap").await.unwrap().len(), 3);

    let untouched = open(&sessions, "user_other").await;
    let (_, revoked) = sessions.revoke_all(&tokens[4]).await.unwrap();
    assert_eq!(revoked, 3);
    for token in &tokens {
        assert!(sessions.validate(token).await.is_err());
    }
    assert!(sessions.validate(&untouched).await.is_ok());
}

#[tokio::test]
async fn forged_and_malformed_tokens_never_reach_dynamodb() {
    let stack = start_stack().await;
    let requests = RequestLog::default();
    let app = requests.app(&stack.app);
    let clock = TestClock::new();
    let sessions = sessions(&app, &clock, settings(2 * HOUR, 10));
    let token = open(&sessions, "user_forged").await;
    // Warm: the keys are cached, as in a warm function.
    sessions.validate(&token).await.unwrap();
    requests.take();

    let (signed, mac) = token.rsplit_once('.').unwrap();
    let flipped = if mac.starts_with('A') { "B" } else { "A" };
    let forged_mac = format!("{signed}.{flipped}{}", &mac[1..]);
    let mut id = signed.split('.').nth(2).unwrap().to_owned();
    id.replace_range(0..1, if id.starts_with('A') { "B" } else { "A" });
    let forged_id = format!("cs1.{}.{id}.{mac}", signed.split('.').nth(1).unwrap());
    for (forged, expected) in [
        (forged_mac.as_str(), SessionError::BadSignature),
        (forged_id.as_str(), SessionError::BadSignature),
        ("cs1.deadbeef.AAAA.AAAA", SessionError::Malformed),
        ("garbage", SessionError::Malformed),
    ] {
        assert_eq!(sessions.validate(forged).await, Err(expected), "{forged}");
    }
    let operations = requests.take();
    assert!(
        operations.iter().all(|op| op == "GetSecretValue"),
        "DynamoDB was called: {operations:?}"
    );
}

#[tokio::test]
async fn sessions_survive_one_rotation_and_not_two() {
    let stack = start_stack().await;
    let clock = TestClock::new();
    let secret_id = stack.app.config.secrets.session_keys.clone().unwrap();
    let before = sessions(&stack.app, &clock, settings(2 * HOUR, 10));
    let token = open(&before, "user_rotated").await;

    shared::domain::auth::rotation::rotate(
        &stack.app.secrets_manager,
        &secret_id,
        &uuid::Uuid::new_v4().to_string(),
    )
    .await
    .unwrap();
    // A fresh instance (and a warm one, through its unknown-kid refresh) still accepts it.
    let after = sessions(&stack.app, &clock, settings(2 * HOUR, 10));
    assert!(after.validate(&token).await.is_ok());
    assert!(before.validate(&token).await.is_ok());
    let newer = open(&after, "user_rotated").await;
    assert_ne!(
        newer.split('.').nth(1),
        token.split('.').nth(1),
        "signed by the new key"
    );
    assert!(
        before.validate(&newer).await.is_ok(),
        "a warm instance learns the new key"
    );

    shared::domain::auth::rotation::rotate(
        &stack.app.secrets_manager,
        &secret_id,
        &uuid::Uuid::new_v4().to_string(),
    )
    .await
    .unwrap();
    let latest = sessions(&stack.app, &clock, settings(2 * HOUR, 10));
    assert_eq!(latest.validate(&token).await, Err(SessionError::UnknownKey));
    assert!(latest.validate(&newer).await.is_ok());
}

/// Token → session → authorized read → revoke → refused, over HTTP on the running stack, with a
/// Whop user token signed by a test key that a local JWKS server publishes.
#[tokio::test]
async fn a_whop_token_becomes_a_session_that_reads_state_until_revoked() {
    use crate::whop_token::TestKey;
    use serde_json::{Value, json};

    let key = TestKey::generate("kid-e2e");
    let jwks = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::method("GET"))
        .respond_with(
            wiremock::ResponseTemplate::new(200).set_body_json(json!({"keys": [key.jwk()]})),
        )
        .mount(&jwks)
        .await;
    let parameters = [(
        "WhopUserTokenJwksUrl".to_owned(),
        format!("{}/.well-known/jwks.json", jwks.uri()),
    )]
    .into();
    let stack = crate::helpers::start_running_stack_with(parameters).await;
    let base = stack.base_url();
    let client = reqwest::Client::new();

    // State for the user, through the processor.
    let processor = shared::edge::deps::processor::processor(&stack.app);
    let event = json!({
        "provider": "whop", "event_id": "evt_auth_e2e", "kind": "membership.activated",
        "subject": {"membership_id": "mem_auth", "user_id": "user_e2e"},
        "occurred_at": "2026-11-23T10:00:00Z", "received_at": "2026-11-23T10:00:00Z",
        "raw": {"type": "membership.activated", "data": {"status": "active"}},
    });
    processor.process(&event.to_string(), 1).await.unwrap();

    // Without a session: refused.
    let unauthenticated = client
        .get(format!("{base}/memberships/mem_auth"))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthenticated.status(), 403);

    let now = Utc::now().timestamp();
    let whop_token = key.sign(&json!({
        "iss": "urn:whopcom:exp-proxy", "aud": "app_local", "sub": "user_e2e",
        "iat": now, "exp": now + 300,
    }));
    let created = client
        .post(format!("{base}/auth/session"))
        .header("x-whop-user-token", &whop_token)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    // A browser gets the token in the cookie only: no script can read it.
    let cookie = created.headers()["set-cookie"].to_str().unwrap().to_owned();
    let attributes: Vec<&str> = cookie.split("; ").skip(1).collect();
    for attribute in [
        "Path=/",
        "HttpOnly",
        "Secure",
        "SameSite=None",
        "Partitioned",
    ] {
        assert!(attributes.contains(&attribute), "{cookie}");
    }
    assert!(!cookie.contains("Domain"), "{cookie}");
    let in_cookie = cookie
        .split(';')
        .next()
        .unwrap()
        .strip_prefix("__Host-cs_session=")
        .unwrap()
        .to_owned();
    let body: Value = created.json().await.unwrap();
    assert_eq!(body["user_id"], "user_e2e");
    assert_eq!(body.get("token"), None, "{body}");
    // A client without cookies asks for it in the body.
    let created = client
        .post(format!("{base}/auth/session?token=body"))
        .header("x-whop-user-token", &whop_token)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let body: Value = created.json().await.unwrap();
    let session = body["token"].as_str().unwrap().to_owned();
    assert_ne!(session, in_cookie, "each call opens its own session");

    let read = client
        .get(format!("{base}/memberships/mem_auth"))
        .bearer_auth(&session)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);
    assert_eq!(read.json::<Value>().await.unwrap()["status"], "active");
    // The cookie alone works too, under its name and, for sessions opened before it, the old one.
    for cookie in [
        format!("__Host-cs_session={in_cookie}"),
        format!("cs_session={session}"),
    ] {
        let by_cookie = client
            .get(format!("{base}/auth/session"))
            .header("cookie", cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(by_cookie.status(), 200);
    }

    let revoked = client
        .delete(format!("{base}/auth/session"))
        .bearer_auth(&session)
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 204);
    let cleared: Vec<&str> = revoked
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert_eq!(cleared.len(), 2, "{cleared:?}");
    assert!(cleared[0].starts_with("__Host-cs_session=; Max-Age=0"));
    assert!(cleared[1].starts_with("cs_session=; Path=/; Max-Age=0"));
    let after = client
        .get(format!("{base}/auth/session"))
        .bearer_auth(&session)
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), 401);
    assert_eq!(
        after.json::<Value>().await.unwrap()["error"]["code"],
        "session_revoked"
    );
    let read = client
        .get(format!("{base}/memberships/mem_auth"))
        .bearer_auth(&session)
        .send()
        .await
        .unwrap();
    assert_eq!(
        read.status(),
        403,
        "the authorizer refuses a revoked session"
    );

    // A token for another app, and garbage, are refused with their reasons.
    let wrong_app = key.sign(&json!({
        "iss": "urn:whopcom:exp-proxy", "aud": "app_other", "sub": "user_e2e",
        "iat": now, "exp": now + 300,
    }));
    for (token, code) in [
        (wrong_app.as_str(), "wrong_audience"),
        ("garbage", "malformed"),
    ] {
        let refused = client
            .post(format!("{base}/auth/session"))
            .header("x-whop-user-token", token)
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), 401);
        assert_eq!(
            refused.json::<Value>().await.unwrap()["error"]["code"],
            code
        );
    }

    // Past the failure limit (20 per window by default; the failures above count too) the
    // caller's address is throttled for its guesses, and told how long to wait; a valid token
    // from the same address still opens a session.
    let mut statuses = Vec::new();
    for _ in 0..20 {
        let refused = client
            .post(format!("{base}/auth/session"))
            .header("x-whop-user-token", "garbage")
            .send()
            .await
            .unwrap();
        statuses.push(refused.status().as_u16());
    }
    let first_throttled = statuses.iter().position(|s| *s == 429).unwrap();
    assert!(
        statuses[..first_throttled].iter().all(|s| *s == 401),
        "{statuses:?}"
    );
    assert!(
        statuses[first_throttled..].iter().all(|s| *s == 429),
        "{statuses:?}"
    );
    let admitted = client
        .post(format!("{base}/auth/session"))
        .header("x-whop-user-token", &whop_token)
        .send()
        .await
        .unwrap();
    assert_eq!(admitted.status(), 201);
    let throttled = client
        .post(format!("{base}/auth/session"))
        .header("x-whop-user-token", "garbage")
        .send()
        .await
        .unwrap();
    assert_eq!(throttled.status(), 429);
    let retry_after: u64 = throttled.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=300).contains(&retry_after));
    stack.shutdown().await;
}
