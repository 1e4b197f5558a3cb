//! Google sign-in end to end on the local stack: the auth function's routes over HTTP, the
//! stand-in Google (`churnsaver::fake_google`) for the consent page, the token endpoint and the
//! keys, the emulator for the one-shot states, the links and the sessions.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use churnsaver::fake_google::{Account, FakeGoogle, FakeGoogleOptions, Fault, KID};
use churnsaver::local::LocalStack;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use serde_json::Value;
use shared::domain::auth::oidc::FLOW_COOKIE;
use shared::domain::auth::sessions::COOKIE_NAME;
use shared::domain::ports::Clock;
use shared::providers::google::id_token::{GOOGLE_JWKS, GoogleKeys};
use shared::providers::jwks::KeyError;

use crate::helpers::{open_session, start_stack, start_stack_with};

/// A stack whose Google sign-in is the stand-in `google`.
async fn stack_with(google: &FakeGoogle) -> LocalStack {
    start_stack_with(google.parameters().into_iter().collect::<BTreeMap<_, _>>()).await
}

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The `name=value` of the cookie `name` a response sets.
fn set_cookie(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or_default().to_owned())
        .find(|pair| pair.starts_with(&format!("{name}=")) && pair.len() > name.len() + 1)
}

/// A started sign-in: the flow cookie and the callback URL the stand-in sent the browser to.
struct Approved {
    flow_cookie: String,
    callback: String,
}

/// `/auth/google/start` (with `bearer`'s session, linking when `link`), then the stand-in's
/// consent page and its approve link, up to the redirect back to the callback.
async fn approve(stack: &LocalStack, bearer: Option<&str>, link: bool) -> Approved {
    let http = browser();
    let query = if link { "?link=1" } else { "" };
    let mut start = http.get(format!("{}/auth/google/start{query}", stack.base_url()));
    if let Some(token) = bearer {
        start = start.bearer_auth(token);
    }
    let started = start.send().await.unwrap();
    assert_eq!(started.status(), 302, "{:?}", started.text().await);
    let flow_cookie = set_cookie(&started, FLOW_COOKIE).unwrap();
    let authorize = started.headers()[LOCATION].to_str().unwrap().to_owned();
    let consent = http.get(&authorize).send().await.unwrap();
    assert_eq!(consent.status(), 200);
    let page = consent.text().await.unwrap();
    let href = page
        .split("id=\"approve\" href=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .replace("&amp;", "&");
    let base = authorize.split('?').next().unwrap();
    let approved = http.get(format!("{base}{href}")).send().await.unwrap();
    assert_eq!(approved.status(), 302);
    let callback = approved.headers()[LOCATION].to_str().unwrap().to_owned();
    assert!(callback.starts_with(&format!("{}/auth/google/callback?", stack.base_url())));
    Approved {
        flow_cookie,
        callback,
    }
}

/// The callback as the browser calls it (with the flow cookie and `bearer`'s session).
async fn callback(approved: &Approved, bearer: Option<&str>) -> reqwest::Response {
    let mut request = browser()
        .get(&approved.callback)
        .header(COOKIE, &approved.flow_cookie);
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

/// A whole sign-in: status, body and the session cookie set.
async fn sign_in(
    stack: &LocalStack,
    bearer: Option<&str>,
    link: bool,
) -> (u16, Value, Option<String>) {
    let approved = approve(stack, bearer, link).await;
    let response = callback(&approved, bearer).await;
    let status = response.status().as_u16();
    let session = set_cookie(&response, COOKIE_NAME);
    (status, response.json().await.unwrap(), session)
}

/// `GET /auth/session` with the session cookie `cookie` (`name=value`): 200 and its body.
async fn session_of(stack: &LocalStack, cookie: &str) -> Value {
    let checked = browser()
        .get(format!("{}/auth/session", stack.base_url()))
        .header(COOKIE, cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(checked.status(), 200);
    checked.json().await.unwrap()
}

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn a_google_account_signs_in_and_its_session_shows_google_sub() {
    let google = FakeGoogle::start(FakeGoogleOptions::default())
        .await
        .unwrap();
    let stack = stack_with(&google).await;

    let (status, body, session) = sign_in(&stack, None, false).await;

    assert_eq!(status, 200, "{body}");
    let identity = format!("google:{}", Account::default().sub);
    assert_eq!(body["user_id"], identity.as_str());
    assert_eq!(body["identity"], identity.as_str());
    assert_eq!(body["email"], Account::default().email.as_str());
    assert_eq!(body["linked"], false);
    let checked = session_of(&stack, &session.unwrap()).await;
    assert_eq!(checked["user_id"], identity.as_str());
    assert_eq!(checked["identity"], identity.as_str());
    assert_eq!(google.token_requests(), 1);
}

#[tokio::test]
async fn bad_id_tokens_are_refused_each_with_its_code_and_no_session() {
    let google = FakeGoogle::start(FakeGoogleOptions::default())
        .await
        .unwrap();
    let stack = stack_with(&google).await;

    // First, while no key is cached: the unknown kid makes the one fetch, which lacks it.
    google.configure(|o| o.fault = Fault::UnknownKid);
    let (status, body, session) = sign_in(&stack, None, false).await;
    assert_eq!((status, code(&body)), (401, "unknown_key"), "{body}");
    assert_eq!(session, None);
    assert_eq!(google.jwks_fetches(), 1);

    for (fault, status, expected) in [
        (Fault::WrongAudience, 401, "wrong_audience"),
        (Fault::WrongIssuer, 401, "wrong_issuer"),
        (Fault::Expired, 401, "expired"),
        (Fault::BadNonce, 401, "nonce_mismatch"),
        (Fault::EmailUnverified, 401, "email_unverified"),
        (Fault::AlgHs256, 401, "unsupported_algorithm"),
        (Fault::AlgNone, 401, "unsupported_algorithm"),
        (Fault::ServerError, 503, "provider_unavailable"),
    ] {
        google.configure(|o| o.fault = fault);
        let (got, body, session) = sign_in(&stack, None, false).await;
        assert_eq!((got, code(&body)), (status, expected), "{fault:?}: {body}");
        assert_eq!(session, None, "{fault:?}");
    }
}

#[tokio::test]
async fn a_replayed_state_is_refused_without_a_second_exchange() {
    let google = FakeGoogle::start(FakeGoogleOptions::default())
        .await
        .unwrap();
    let stack = stack_with(&google).await;
    let approved = approve(&stack, None, false).await;
    assert_eq!(callback(&approved, None).await.status(), 200);

    let replayed = callback(&approved, None).await;

    assert_eq!(replayed.status(), 400);
    assert_eq!(set_cookie(&replayed, COOKIE_NAME), None);
    let body: Value = replayed.json().await.unwrap();
    assert_eq!(code(&body), "state_replayed");
    assert_eq!(google.token_requests(), 1);
}

#[tokio::test]
async fn a_callback_without_its_flow_cookie_or_with_another_state_is_refused() {
    let google = FakeGoogle::start(FakeGoogleOptions::default())
        .await
        .unwrap();
    let stack = stack_with(&google).await;
    let approved = approve(&stack, None, false).await;

    let without = browser().get(&approved.callback).send().await.unwrap();
    let body: Value = without.json().await.unwrap();
    assert_eq!(code(&body), "flow_missing");
    let other = Approved {
        callback: approved.callback.replace("state=", "state=x"),
        flow_cookie: approved.flow_cookie.clone(),
    };
    let body: Value = callback(&other, None).await.json().await.unwrap();
    assert_eq!(code(&body), "state_mismatch");
    assert_eq!(google.token_requests(), 0);
}

#[tokio::test]
async fn a_linked_google_account_signs_in_as_its_whop_user() {
    let google = FakeGoogle::start(FakeGoogleOptions::default())
        .await
        .unwrap();
    let stack = stack_with(&google).await;
    let whop = open_session(&stack, "user_local_admin").await;
    let identity = format!("google:{}", Account::default().sub);

    // Linking needs the Whop session at the start and at the callback.
    let approved = approve(&stack, Some(&whop), true).await;
    let body: Value = callback(&approved, None).await.json().await.unwrap();
    assert_eq!(code(&body), "link_session_missing");
    let (status, body, _) = sign_in(&stack, Some(&whop), true).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (&body["user_id"], &body["linked"]),
        (&Value::from("user_local_admin"), &Value::from(true))
    );

    // Later Google sign-ins, with no Whop session, are that Whop user's.
    let (status, body, session) = sign_in(&stack, None, false).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user_id"], "user_local_admin");
    assert_eq!(body["identity"], identity.as_str());
    let checked = session_of(&stack, &session.unwrap()).await;
    assert_eq!(checked["user_id"], "user_local_admin");
    assert_eq!(checked["identity"], identity.as_str());

    // Another Whop user cannot take the link over.
    let other = open_session(&stack, "user_other_admin").await;
    let (status, body, _) = sign_in(&stack, Some(&other), true).await;
    assert_eq!((status, code(&body)), (409, "identity_linked_elsewhere"));
}

#[tokio::test]
async fn without_google_configured_the_routes_answer_google_sign_in_off() {
    let stack = start_stack().await;
    for path in ["/auth/google/start", "/auth/google/callback?state=s&code=c"] {
        let response = browser()
            .get(format!("{}{path}", stack.base_url()))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 503, "{path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(code(&body), "google_sign_in_off", "{path}");
    }
}

/// A clock the test moves.
#[derive(Clone)]
struct TestClock(Arc<Mutex<DateTime<Utc>>>);

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

#[tokio::test]
async fn an_unknown_kid_refetches_googles_keys_at_most_once_per_30_s_and_stays_unknown() {
    let google = FakeGoogle::start(FakeGoogleOptions::default())
        .await
        .unwrap();
    let clock = TestClock(Arc::new(Mutex::new(Utc::now())));
    let keys = GoogleKeys::new(
        reqwest::Client::new(),
        google.jwks_url().parse().unwrap(),
        clock.clone(),
        GOOGLE_JWKS,
    );
    assert!(keys.lookup(KID).await.is_ok());
    assert_eq!(google.jwks_fetches(), 1);

    // Within the cooldown an unknown kid is refused from the cache.
    assert_eq!(
        keys.lookup("rotated-away").await.err(),
        Some(KeyError::Unknown)
    );
    assert_eq!(google.jwks_fetches(), 1);

    // After it, one refetch, which still lacks the kid; the known key stays cached (max-age 1 h).
    *clock.0.lock().unwrap() += chrono::Duration::from_std(Duration::from_secs(31)).unwrap();
    assert_eq!(
        keys.lookup("rotated-away").await.err(),
        Some(KeyError::Unknown)
    );
    assert_eq!(google.jwks_fetches(), 2);
    assert!(keys.lookup(KID).await.is_ok());
    assert_eq!(google.jwks_fetches(), 2);
}
