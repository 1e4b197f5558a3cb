use chrono::TimeZone;
use serde_json::json;

use super::*;

const APP: &str = "app_test123";

fn now() -> DateTime<Utc> {
    Utc.timestamp_opt(1_767_225_600, 0).unwrap()
}

fn claims(value: Value) -> Claims {
    serde_json::from_value(value).unwrap()
}

fn good() -> Value {
    json!({"iss": ISSUER, "aud": APP, "sub": "user_abc123", "exp": 1_767_225_900})
}

fn with(field: &str, value: Value) -> Claims {
    let mut claims = good();
    claims[field] = value;
    self::claims(claims)
}

fn without(field: &str) -> Claims {
    let mut claims = good();
    claims.as_object_mut().unwrap().remove(field);
    self::claims(claims)
}

fn check(claims: &Claims) -> Result<WhopUser, TokenError> {
    check_claims(claims, &TokenSettings::new(APP), now())
}

fn segment(json: &Value) -> String {
    URL_SAFE_NO_PAD.encode(json.to_string())
}

fn token(header: &Value) -> String {
    format!(
        "{}.{}.{}",
        segment(header),
        segment(&good()),
        "A".repeat(86)
    )
}

#[test]
fn accepts_good_claims() {
    assert_eq!(
        check(&claims(good())),
        Ok(WhopUser {
            user_id: "user_abc123".to_owned(),
            app_id: APP.to_owned()
        })
    );
}

#[test]
fn requires_whops_issuer() {
    for iss in [json!("urn:whopcom:other"), json!([ISSUER]), Value::Null] {
        assert_eq!(check(&with("iss", iss)), Err(TokenError::WrongIssuer));
    }
    assert_eq!(check(&without("iss")), Err(TokenError::WrongIssuer));
}

#[test]
fn requires_the_audience_to_be_our_app_id_as_a_string() {
    for aud in [
        json!("app_other"),
        json!([APP]),
        json!({"id": APP}),
        json!(""),
    ] {
        assert_eq!(check(&with("aud", aud)), Err(TokenError::WrongAudience));
    }
    assert_eq!(check(&without("aud")), Err(TokenError::WrongAudience));
}

#[test]
fn applies_the_leeway_to_exp_and_nbf() {
    let at = now().timestamp();
    // Default leeway 5 s: valid while now < exp + 5.
    assert!(check(&with("exp", json!(at - 4))).is_ok());
    assert_eq!(check(&with("exp", json!(at - 5))), Err(TokenError::Expired));
    assert!(check(&with("nbf", json!(at + 5))).is_ok());
    assert_eq!(
        check(&with("nbf", json!(at + 6))),
        Err(TokenError::NotYetValid)
    );

    let strict = TokenSettings::new(APP).with_leeway(Duration::ZERO).unwrap();
    assert_eq!(
        check_claims(&with("exp", json!(at)), &strict, now()),
        Err(TokenError::Expired)
    );
    assert!(check_claims(&with("exp", json!(at as f64 + 0.5)), &strict, now()).is_ok());
}

#[test]
fn requires_a_numeric_exp() {
    assert_eq!(check(&without("exp")), Err(TokenError::MissingExpiry));
    assert_eq!(
        check(&with("exp", json!("1767225900"))),
        Err(TokenError::MissingExpiry)
    );
    assert_eq!(
        check(&with("nbf", json!("soon"))),
        Err(TokenError::Malformed("`nbf` is not a number"))
    );
}

#[test]
fn requires_a_user_id_subject() {
    for sub in [json!(""), json!(42), Value::Null] {
        assert_eq!(check(&with("sub", sub)), Err(TokenError::MissingSubject));
    }
    assert_eq!(check(&without("sub")), Err(TokenError::MissingSubject));
    for sub in ["biz_abc", "user_", "user_a b", "USER_abc"] {
        assert_eq!(
            check(&with("sub", json!(sub))),
            Err(TokenError::InvalidSubject),
            "{sub}"
        );
    }
}

#[test]
fn leeway_is_capped() {
    assert!(TokenSettings::new(APP).with_leeway(MAX_LEEWAY).is_ok());
    assert_eq!(
        TokenSettings::new(APP).with_leeway(Duration::from_secs(61)),
        Err(LeewayTooLarge(Duration::from_secs(61)))
    );
}

#[test]
fn precheck_rejects_bad_shapes_without_crypto() {
    let header = json!({"alg": "ES256", "kid": "k1"});
    assert!(precheck(&token(&header)).is_ok());
    let oversize = format!(
        "{}.{}.{}",
        segment(&header),
        "A".repeat(9000),
        "A".repeat(86)
    );
    for bad in [
        String::new(),
        "garbage".to_owned(),
        "a.b".to_owned(),
        "a.b.c.d".to_owned(),
        "..".to_owned(),
        oversize,
        format!("{}.{}.{}", segment(&header), "e30=", "A".repeat(86)),
        format!(
            "{}.{}.{}",
            segment(&header),
            segment(&good()),
            "A".repeat(85)
        ),
        format!("{}.{}.", segment(&header), segment(&good())),
        format!("{}.{}.{}", "bm90IGpzb24", segment(&good()), "A".repeat(86)),
    ] {
        assert!(
            matches!(precheck(&bad), Err(TokenError::Malformed(_))),
            "{bad:.40}"
        );
    }
}

#[test]
fn precheck_accepts_es256_only() {
    for alg in [
        "none", "None", "HS256", "HS512", "RS256", "PS256", "ES384", "ES512", "EdDSA", "ES256K", "",
    ] {
        assert_eq!(
            precheck(&token(&json!({"alg": alg, "kid": "k1"}))).map(|h| h.alg),
            Err(TokenError::UnsupportedAlgorithm),
            "{alg}"
        );
    }
    // `alg: none` is refused before the (empty) signature is even looked at.
    let none = format!("{}.{}.", segment(&json!({"alg": "none"})), segment(&good()));
    assert_eq!(
        precheck(&none).map(|h| h.alg),
        Err(TokenError::UnsupportedAlgorithm)
    );
}

#[test]
fn precheck_rejects_critical_extensions_and_empty_key_ids() {
    for header in [
        json!({"alg": "ES256", "kid": "k1", "crit": ["exp"]}),
        json!({"alg": "ES256", "kid": ""}),
    ] {
        assert!(matches!(
            precheck(&token(&header)),
            Err(TokenError::Malformed(_))
        ));
    }
    assert_eq!(
        precheck(&token(&json!({"alg": "ES256"}))).unwrap().kid,
        None
    );
}

#[test]
fn the_legacy_key_parses() {
    assert!(LEGACY_KEY.is_some());
}

#[test]
fn reason_codes_are_stable() {
    let codes: Vec<&str> = [
        TokenError::Malformed("x"),
        TokenError::UnsupportedAlgorithm,
        TokenError::UnknownKey,
        TokenError::BadSignature,
        TokenError::MissingExpiry,
        TokenError::Expired,
        TokenError::NotYetValid,
        TokenError::WrongIssuer,
        TokenError::WrongAudience,
        TokenError::MissingSubject,
        TokenError::InvalidSubject,
        TokenError::KeysUnavailable(DependencyError::Timeout),
    ]
    .iter()
    .map(TokenError::reason_code)
    .collect();
    assert_eq!(
        codes,
        [
            "malformed",
            "unsupported_algorithm",
            "unknown_key",
            "bad_signature",
            "missing_expiry",
            "expired",
            "not_yet_valid",
            "wrong_issuer",
            "wrong_audience",
            "missing_subject",
            "invalid_subject",
            "keys_unavailable"
        ]
    );
}

fn ec_key(kid: &str) -> Value {
    json!({"kty": "EC", "crv": "P-256", "kid": kid, "x": LEGACY_KEY_X, "y": LEGACY_KEY_Y})
}

#[test]
fn jwks_keeps_only_es256_signing_keys() {
    let mut with_alg = ec_key("with-alg");
    with_alg["alg"] = json!("ES256");
    with_alg["use"] = json!("sig");
    let mut for_encryption = ec_key("enc");
    for_encryption["use"] = json!("enc");
    let mut es384 = ec_key("es384");
    es384["alg"] = json!("ES384");
    let mut p384 = ec_key("p384");
    p384["crv"] = json!("P-384");
    let mut short = ec_key("short");
    short["x"] = json!("AAAA");
    let body = json!({"keys": [
        ec_key("plain"),
        with_alg,
        for_encryption,
        es384,
        p384,
        short,
        {"kty": "EC", "crv": "P-256", "x": LEGACY_KEY_X, "y": LEGACY_KEY_Y},
        {"kty": "RSA", "kid": "rsa", "n": "AQAB", "e": "AQAB"},
        {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
        "not a key",
        ec_key("plain"),
    ]});

    let jwks = parse_jwks(body.to_string().as_bytes()).unwrap();

    let mut kids: Vec<&str> = jwks.keys.keys().map(String::as_str).collect();
    kids.sort_unstable();
    assert_eq!(kids, ["plain", "with-alg"]);
    assert_eq!(jwks.skipped, 9);
}

#[test]
fn jwks_without_usable_keys_is_an_error() {
    for body in [
        "not json".to_owned(),
        json!({"keys": []}).to_string(),
        json!({"keys": [{"kty": "RSA", "kid": "r", "n": "AQAB", "e": "AQAB"}]}).to_string(),
        json!([ec_key("k")]).to_string(),
    ] {
        assert!(parse_jwks(body.as_bytes()).is_err(), "{body}");
    }
}
