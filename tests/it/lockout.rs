//! The failed-authentication limit never locks out a valid session: many users share an address,
//! so a session is checked before the address's block, and only failures that look like guessing
//! count against it.

use chrono::{DateTime, Utc};
use churnsaver::local::LocalStack;
use secrecy::ExposeSecret;
use shared::domain::auth::limits::Window;
use shared::domain::auth::sessions::{Client, Sessions};
use shared::domain::ports::Clock;

use crate::helpers::{get_with_token, open_session, start_stack};

/// `GET path` with `token` as the bearer: the status and the `Retry-After` header, if any.
async fn get(stack: &LocalStack, path: &str, token: &str) -> (u16, Option<u64>) {
    let answer = get_with_token(stack, path, token).await;
    (answer.status, answer.retry_after)
}

/// `token` with its MAC's first character changed.
fn forged(token: &str) -> String {
    let (signed, mac) = token.rsplit_once('.').unwrap();
    let flipped = if mac.starts_with('A') { "B" } else { "A" };
    format!("{signed}.{flipped}{}", &mac[1..])
}

#[tokio::test]
async fn a_valid_session_keeps_access_while_its_address_sends_100_garbage_tokens() {
    let stack = start_stack().await;
    let valid = open_session(&stack, "user_nat_a").await;
    let forged = forged(&open_session(&stack, "user_nat_b").await);
    let garbage = ["garbage", forged.as_str(), "cs1.0123abcd.AAAA.AAAA"];

    // Everything comes from one address (the local stack's), as behind a NAT.
    let window_secs = stack.app.config.auth_limits.window.as_secs();
    let window_of = || Window::containing(Utc::now().timestamp(), window_secs).start;
    let mut statuses = Vec::new();
    let first_window = window_of();
    for n in 0..100 {
        let (status, retry_after) = get(&stack, "/auth/session", garbage[n % 3]).await;
        statuses.push(status);
        match status {
            401 => assert_eq!(retry_after, None, "guess {n}"),
            429 => assert!((1..=300).contains(&retry_after.unwrap()), "guess {n}"),
            other => panic!("guess {n} answered {other}"),
        }
        // The protected routes' authorizer can only deny (403), whatever the reason.
        let (status, _) = get(&stack, "/users/user_nat_b/memberships", garbage[n % 3]).await;
        assert_eq!(status, 403, "guess {n} through the authorizer");

        assert_eq!(get(&stack, "/auth/session", &valid).await, (200, None));
        let (status, _) = get(&stack, "/users/user_nat_a/memberships", &valid).await;
        assert_eq!(status, 200, "the valid session after guess {n}");
    }
    // The default limit is 20 failures per window: from the 21st on, the guesses are throttled.
    let limit = usize::try_from(stack.app.config.auth_limits.limit).unwrap();
    assert_eq!(limit, 20);
    if window_of() == first_window {
        assert!(statuses[..limit].iter().all(|s| *s == 401), "{statuses:?}");
        assert!(statuses[limit..].iter().all(|s| *s == 429), "{statuses:?}");
    } else {
        // The guesses ran into the next window, which starts a new count: each window's
        // guesses are at most `limit` refusals and then only throttles.
        let refused = statuses.iter().filter(|s| **s == 401).count();
        assert!((limit..=2 * limit).contains(&refused), "{statuses:?}");
        assert!(statuses[..limit].iter().all(|s| *s == 401), "{statuses:?}");
    }
}

/// A clock fixed a day back, to open sessions that have expired by now.
#[derive(Clone)]
struct DayAgo(DateTime<Utc>);

impl Clock for DayAgo {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}

#[tokio::test]
async fn expired_sessions_are_refused_without_counting_against_the_address() {
    let stack = start_stack().await;
    let service = shared::edge::deps::auth::session_service(&stack.app);
    let clock = DayAgo(Utc::now() - chrono::Duration::days(1));
    let past = Sessions {
        store: service.store.clone(),
        keys: shared::domain::auth::keys::SessionKeys::new(
            stack.app.secrets_manager.clone(),
            clock.clone(),
            stack.app.config.secrets.session_keys.clone().unwrap(),
            shared::domain::auth::keys::DEFAULT_TTL,
        ),
        clock,
        settings: service.settings,
    };
    let expired = past
        .create("user_stale", &Client::default())
        .await
        .unwrap()
        .token;
    let expired = expired.expose_secret().to_owned();

    for n in 0..50 {
        let answer = get_with_token(&stack, "/auth/session", &expired).await;
        assert_eq!(answer.status, 401, "presentation {n}");
        assert_eq!(
            answer.body["error"]["code"], "session_expired",
            "presentation {n}"
        );
    }
    // None of them counted: a guess from the address is still answered 401, not 429.
    assert_eq!(get(&stack, "/auth/session", "garbage").await, (401, None));
}
