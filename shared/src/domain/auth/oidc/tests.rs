use chrono::TimeZone;
use serde_json::json;

use super::*;

/// 2026-01-01T00:00:00Z.
fn now() -> DateTime<Utc> {
    Utc.timestamp_opt(1_767_225_600, 0).unwrap()
}

const CLIENT: &str = "client-1.apps.googleusercontent.com";
const NONCE: &str = "the-nonce";

fn rules() -> ClaimRules {
    ClaimRules {
        client_id: CLIENT.to_owned(),
        hosted_domain: None,
    }
}

fn good() -> Value {
    let t = now().timestamp();
    json!({
        "iss": "https://accounts.google.com",
        "aud": CLIENT,
        "sub": "1234567890",
        "iat": t - 10,
        "exp": t + 3590,
        "nonce": NONCE,
        "email": "ada@example.com",
        "email_verified": true,
    })
}

fn with(field: &str, value: Value) -> IdClaims {
    let mut claims = good();
    claims[field] = value;
    serde_json::from_value(claims).unwrap()
}

fn check(claims: &IdClaims) -> Result<GoogleIdentity, SignInError> {
    check_claims(claims, &rules(), NONCE, now())
}

#[test]
fn accepts_good_claims_from_either_issuer() {
    let identity = check(&serde_json::from_value(good()).unwrap()).unwrap();
    assert_eq!(identity.identity(), "google:1234567890");
    assert_eq!(identity.email, "ada@example.com");
    assert!(check(&with("iss", json!("accounts.google.com"))).is_ok());
}

#[test]
fn refuses_another_issuer_or_audience() {
    for iss in [
        json!("https://evil.example"),
        json!(null),
        json!(["accounts.google.com"]),
    ] {
        assert_eq!(check(&with("iss", iss)), Err(SignInError::WrongIssuer));
    }
    for aud in [json!("other"), json!([CLIENT]), json!(null)] {
        assert_eq!(check(&with("aud", aud)), Err(SignInError::WrongAudience));
    }
}

#[test]
fn applies_the_leeway_to_exp_and_iat_and_bounds_the_lifetime() {
    let t = now().timestamp();
    assert!(check(&with("exp", json!(t - 59))).is_ok());
    assert_eq!(
        check(&with("exp", json!(t - 60))),
        Err(SignInError::Expired)
    );
    assert!(check(&with("iat", json!(t + 60))).is_ok());
    assert_eq!(
        check(&with("iat", json!(t + 61))),
        Err(SignInError::IssuedInFuture)
    );
    assert!(matches!(
        check(&with("exp", json!(t + 2 * 86_400))),
        Err(SignInError::Malformed(_))
    ));
    for field in ["exp", "iat"] {
        assert!(
            matches!(
                check(&with(field, json!("soon"))),
                Err(SignInError::Malformed(_))
            ),
            "{field}"
        );
    }
}

#[test]
fn requires_the_flows_nonce() {
    for nonce in [json!("another"), json!(null), json!(7)] {
        assert_eq!(
            check(&with("nonce", nonce)),
            Err(SignInError::NonceMismatch)
        );
    }
}

#[test]
fn requires_a_verified_email() {
    for verified in [json!(false), json!(null), json!("false"), json!(1)] {
        assert_eq!(
            check(&with("email_verified", verified)),
            Err(SignInError::EmailUnverified)
        );
    }
    assert!(check(&with("email_verified", json!("true"))).is_ok());
    assert_eq!(
        check(&with("email", json!(""))),
        Err(SignInError::EmailUnverified)
    );
}

#[test]
fn requires_the_hosted_domain_claim_when_one_is_configured() {
    let rules = ClaimRules {
        hosted_domain: Some("example.com".to_owned()),
        ..rules()
    };
    let run = |claims: &IdClaims| check_claims(claims, &rules, NONCE, now());
    assert!(run(&with("hd", json!("example.com"))).is_ok());
    assert_eq!(
        run(&with("hd", json!("other.com"))),
        Err(SignInError::WrongHostedDomain)
    );
    assert_eq!(
        run(&serde_json::from_value(good()).unwrap()),
        Err(SignInError::WrongHostedDomain)
    );
}

#[test]
fn requires_a_subject() {
    for sub in [json!(""), json!(null), json!(42), json!("x".repeat(256))] {
        assert!(matches!(
            check(&with("sub", sub)),
            Err(SignInError::Malformed(_))
        ));
    }
}

#[test]
fn the_pkce_challenge_is_rfc_7636s_s256() {
    // RFC 7636, appendix B.
    assert_eq!(
        pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    );
}

fn key(value: &str) -> SigningKey {
    SigningKey::parse(value).unwrap()
}

#[test]
fn a_sealed_flow_opens_under_its_key_only_and_any_change_breaks_it() {
    let signer = key("k1-0123456789abcdef0123456789abcdef");
    let flow = Flow::new(now(), Some("user_abc".to_owned())).unwrap();
    assert_eq!(flow.state.len(), 43);
    assert_eq!(flow.verifier.len(), 43);
    assert_ne!(flow.state, flow.nonce);
    let sealed = flow.seal(&signer).unwrap();
    assert_eq!(sealed_kid(&sealed), Some(signer.kid()));
    assert_eq!(open_with(&sealed, &signer), Ok(flow));
    let other = key("k2-0123456789abcdef0123456789abcdef");
    assert_eq!(open_with(&sealed, &other), Err(SignInError::FlowInvalid));
    let mut tampered = sealed.clone().into_bytes();
    let at = sealed.len() / 2;
    tampered[at] = if tampered[at] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    assert_eq!(open_with(&tampered, &signer), Err(SignInError::FlowInvalid));
    for shape in ["", "gf1.a.b", "gf2.a.b.c", "gf1.a.b.c.d"] {
        assert_eq!(sealed_kid(shape), None, "{shape}");
    }
}

#[test]
fn flow_cookies_are_http_only_secure_lax_and_scoped_to_the_flow() {
    assert_eq!(
        flow_cookie("v"),
        "cs_google_flow=v; Path=/auth/google; Max-Age=600; HttpOnly; Secure; SameSite=Lax"
    );
    assert!(cleared_flow_cookie().contains("Max-Age=0"));
}

#[test]
fn reason_codes_are_stable() {
    let dependency = || DependencyError::Timeout;
    let codes: Vec<&str> = [
        SignInError::FlowMissing,
        SignInError::FlowInvalid,
        SignInError::FlowExpired,
        SignInError::StateMismatch,
        SignInError::StateReplayed,
        SignInError::MissingCode,
        SignInError::ProviderDenied("access_denied".into()),
        SignInError::CodeRejected,
        SignInError::Malformed("x"),
        SignInError::UnsupportedAlgorithm,
        SignInError::UnknownKey,
        SignInError::BadSignature,
        SignInError::WrongIssuer,
        SignInError::WrongAudience,
        SignInError::Expired,
        SignInError::IssuedInFuture,
        SignInError::NonceMismatch,
        SignInError::EmailUnverified,
        SignInError::WrongHostedDomain,
        SignInError::LinkSessionMissing,
        SignInError::LinkedElsewhere,
        SignInError::KeysUnavailable(dependency()),
        SignInError::ProviderUnavailable("timeout".into()),
        SignInError::Dependency(dependency()),
    ]
    .iter()
    .map(SignInError::reason_code)
    .collect();
    assert_eq!(
        codes,
        [
            "flow_missing",
            "flow_invalid",
            "flow_expired",
            "state_mismatch",
            "state_replayed",
            "missing_code",
            "provider_denied",
            "code_rejected",
            "malformed_id_token",
            "unsupported_algorithm",
            "unknown_key",
            "bad_signature",
            "wrong_issuer",
            "wrong_audience",
            "expired",
            "issued_in_future",
            "nonce_mismatch",
            "email_unverified",
            "wrong_hosted_domain",
            "link_session_missing",
            "identity_linked_elsewhere",
            "keys_unavailable",
            "provider_unavailable",
            "sign_in_unavailable",
        ]
    );
}
