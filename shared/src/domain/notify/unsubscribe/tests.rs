use super::*;
use crate::domain::ports::VersionStage;
use crate::domain::secret::tests::{FixedClock, Staged};

const KEY_A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const KEY_B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
const KEY_C: &str = "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc";
const DAY: i64 = 86_400;

fn tokens<'a>(
    staged: &'a Staged,
    clock: &'a FixedClock,
) -> UnsubscribeTokens<&'a Staged, &'a FixedClock> {
    UnsubscribeTokens::new(
        staged,
        clock,
        "unsubscribe",
        Duration::from_secs(60),
        Duration::from_secs(30 * 86_400),
    )
}

fn staged_with(key: &str) -> Staged {
    let staged = Staged::default();
    staged.set(VersionStage::Current, "v1", key);
    staged
}

#[tokio::test]
async fn a_signed_token_verifies_to_its_address_company_and_time() {
    let (staged, clock) = (staged_with(KEY_A), FixedClock::new());
    let tokens = tokens(&staged, &clock);
    let now = (&clock).now();
    let token = tokens.token("ann@example.com", "biz_1", now).await.unwrap();
    assert!(token.starts_with("u1."));
    let opened = tokens.verify(&token, now).await.unwrap();
    assert_eq!(opened.address, "ann@example.com");
    assert_eq!(opened.company_id, "biz_1");
    assert_eq!(opened.issued_at.timestamp(), now.timestamp());
}

#[tokio::test]
async fn a_token_past_its_lifetime_is_expired_and_one_within_it_is_not() {
    let (staged, clock) = (staged_with(KEY_A), FixedClock::new());
    let tokens = tokens(&staged, &clock);
    let issued = (&clock).now();
    let token = tokens
        .token("ann@example.com", "biz_1", issued)
        .await
        .unwrap();
    let later = |days: i64| issued + chrono::Duration::seconds(days * DAY);
    assert!(tokens.verify(&token, later(30)).await.is_ok());
    assert_eq!(
        tokens.verify(&token, later(31)).await.unwrap_err(),
        UnsubscribeError::Invalid(TokenError::Expired)
    );
    // Issued further in the future than the clocks can disagree: refused too.
    assert_eq!(
        tokens.verify(&token, later(-1)).await.unwrap_err(),
        UnsubscribeError::Invalid(TokenError::Expired)
    );
}

#[tokio::test]
async fn a_token_signed_with_the_previous_key_verifies_and_an_older_one_does_not() {
    let (staged, clock) = (staged_with(KEY_A), FixedClock::new());
    let tokens = tokens(&staged, &clock);
    let now = (&clock).now();
    let signed_with_a = tokens.token("ann@example.com", "biz_1", now).await.unwrap();

    staged.rotate_to("v2", KEY_B);
    clock.advance(120);
    let now = (&clock).now();
    assert!(tokens.verify(&signed_with_a, now).await.is_ok());
    let signed_with_b = tokens.token("ann@example.com", "biz_1", now).await.unwrap();
    assert_ne!(
        parse_token(&signed_with_b).unwrap().kid,
        parse_token(&signed_with_a).unwrap().kid
    );

    staged.rotate_to("v3", KEY_C);
    clock.advance(120);
    let now = (&clock).now();
    assert!(tokens.verify(&signed_with_b, now).await.is_ok());
    assert_eq!(
        tokens.verify(&signed_with_a, now).await.unwrap_err(),
        UnsubscribeError::Invalid(TokenError::UnknownKey)
    );
}

#[tokio::test]
async fn a_changed_payload_or_a_foreign_key_is_refused() {
    let (staged, clock) = (staged_with(KEY_A), FixedClock::new());
    let tokens = tokens(&staged, &clock);
    let now = (&clock).now();
    let token = tokens.token("ann@example.com", "biz_1", now).await.unwrap();

    // The same kid and MAC over another address's payload.
    let other = sign_token(
        &SigningKey::parse(KEY_A).unwrap(),
        &Unsubscription {
            address: "bob@example.com".to_owned(),
            company_id: "biz_1".to_owned(),
            issued_at: now,
        },
    );
    let (_, other_payload_and_mac) = other.split_at(3 + 9);
    let (own_prefix, _) = token.split_at(3 + 9);
    let own_mac = token.rsplit_once('.').unwrap().1;
    let other_payload = other_payload_and_mac.rsplit_once('.').unwrap().0;
    let spliced = format!("{own_prefix}{other_payload}.{own_mac}");
    assert_eq!(
        tokens.verify(&spliced, now).await.unwrap_err(),
        UnsubscribeError::Invalid(TokenError::BadSignature)
    );

    // Signed by a key that is not ours, under our kid.
    let forged_key = SigningKey::parse(KEY_B).unwrap();
    let forged = sign_token(
        &forged_key,
        &Unsubscription {
            address: "ann@example.com".to_owned(),
            company_id: "biz_1".to_owned(),
            issued_at: now,
        },
    )
    .replacen(forged_key.kid(), SigningKey::parse(KEY_A).unwrap().kid(), 1);
    assert_eq!(
        tokens.verify(&forged, now).await.unwrap_err(),
        UnsubscribeError::Invalid(TokenError::BadSignature)
    );
}

#[test]
fn malformed_tokens_are_refused_before_any_key_is_read() {
    let long = "u1.".repeat(400);
    for token in [
        "",
        "u1",
        "u1.abc",
        "cs1.ba7816bf.e30.AAAA",
        "u1.not-hex.e30.AAAA",
        "u1.ba7816bf..AAAA",
        "u1.ba7816bf.e30.***",
        long.as_str(),
    ] {
        assert_eq!(
            parse_token(token).unwrap_err(),
            TokenError::Malformed,
            "{token:?}"
        );
    }
}

#[test]
fn the_link_and_headers_follow_rfc_8058() {
    let base = Url::parse("https://api.example.com/prod/").unwrap();
    let url = link(&base, "u1.ab.cd.ef");
    assert_eq!(
        url.as_str(),
        "https://api.example.com/prod/unsubscribe?token=u1.ab.cd.ef"
    );
    assert_eq!(
        headers(&url),
        vec![
            (
                "List-Unsubscribe".to_owned(),
                "<https://api.example.com/prod/unsubscribe?token=u1.ab.cd.ef>".to_owned()
            ),
            (
                "List-Unsubscribe-Post".to_owned(),
                "List-Unsubscribe=One-Click".to_owned()
            ),
        ]
    );
}

#[test]
fn an_unsubscription_debug_shows_no_address() {
    let unsubscription = Unsubscription {
        address: "ann@example.com".to_owned(),
        company_id: "biz_1".to_owned(),
        issued_at: Utc::now(),
    };
    assert!(!format!("{unsubscription:?}").contains("ann"));
}
