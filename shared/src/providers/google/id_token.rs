//! Google's ID tokens: the RS256 signature against Google's published keys ([`GoogleKeys`], the
//! one JWKS cache kept by the response's `Cache-Control: max-age`). The claims are
//! [`crate::domain::auth::oidc::check_claims`]'s. Whatever can be refused without crypto or a key
//! fetch is refused first.

use std::sync::LazyLock;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::Value;

use crate::domain::auth::oidc::{IdClaims, SignInError};
use crate::providers::jwks::{JwksCache, JwksSpec, KeyError, KeySet, MaxAge};

/// Longer ID tokens are refused unread; Google's are about 1 KiB.
pub const MAX_ID_TOKEN_BYTES: usize = 16 * 1024;

/// Google's key set as [`JwksCache`] keeps it: by `Cache-Control: max-age`, RSA keys for RS256.
pub const GOOGLE_JWKS: JwksSpec = JwksSpec {
    name: "Google's ID-token keys",
    service: "google",
    max_age: MaxAge::CacheControl,
    usable: rs256_key,
    kind: "RS256",
};

/// Google's published keys.
pub type GoogleKeys<C> = JwksCache<C>;

/// An RS256 signing key (`kty` RSA, `alg` absent or RS256, `use` absent or `sig`, a `kid`, `n` and
/// `e`); any other key is skipped.
fn rs256_key(value: &Value) -> Option<(String, DecodingKey)> {
    #[derive(Deserialize)]
    struct Jwk {
        kty: String,
        kid: Option<String>,
        alg: Option<String>,
        #[serde(rename = "use")]
        usage: Option<String>,
        n: Option<String>,
        e: Option<String>,
    }
    let jwk = Jwk::deserialize(value).ok()?;
    let usable = jwk.kty == "RSA"
        && jwk.alg.as_deref().is_none_or(|alg| alg == "RS256")
        && jwk.usage.as_deref().is_none_or(|usage| usage == "sig");
    let (true, Some(kid), Some(n), Some(e)) = (usable, jwk.kid, jwk.n, jwk.e) else {
        return None;
    };
    // 2048 bits at least (Google's are 2048): 256 bytes of modulus.
    if URL_SAFE_NO_PAD.decode(&n).ok()?.len() < 256 {
        return None;
    }
    let key = DecodingKey::from_rsa_components(&n, &e).ok()?;
    Some((kid, key))
}

/// Signature only: time, issuer, audience and nonce are [`check_claims`]'s, on an injected clock.
///
/// [`check_claims`]: crate::domain::auth::oidc::check_claims
static VALIDATION: LazyLock<Validation> = LazyLock::new(|| {
    let mut validation = Validation::new(Algorithm::RS256);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation
});

/// The header fields read before any key is looked up.
#[derive(Deserialize)]
struct RawHeader {
    alg: Option<String>,
    kid: Option<String>,
    crit: Option<Value>,
}

/// Verifies the ID token's RS256 signature against the key its `kid` names in `keys` (which may
/// refetch the set for an unknown `kid`, at most once per cooldown) and returns its claims.
pub async fn verify<K: KeySet>(token: &str, keys: &K) -> Result<IdClaims, SignInError> {
    let kid = precheck(token)?;
    let key = keys.key(&kid).await.map_err(|error| match error {
        KeyError::Unknown => SignInError::UnknownKey,
        KeyError::Unavailable(error) => SignInError::KeysUnavailable(error),
    })?;
    jsonwebtoken::decode::<IdClaims>(token, &key, &VALIDATION)
        .map(|data| data.claims)
        .map_err(|e| match e.kind() {
            ErrorKind::InvalidSignature | ErrorKind::InvalidRsaKey(_) => SignInError::BadSignature,
            ErrorKind::InvalidAlgorithm | ErrorKind::MissingAlgorithm => {
                SignInError::UnsupportedAlgorithm
            }
            ErrorKind::Json(_) => SignInError::Malformed("the claims are not a JSON object"),
            _ => SignInError::Malformed("the token does not decode"),
        })
}

/// The shape and header checks: three base64url segments, `alg` RS256 (so `none`, HS256 and the
/// rest are refused before anything else), no critical extensions, a `kid`. Returns the `kid`.
fn precheck(token: &str) -> Result<String, SignInError> {
    if token.len() > MAX_ID_TOKEN_BYTES {
        return Err(SignInError::Malformed("longer than 16 KiB"));
    }
    let mut segments = token.split('.');
    let (Some(header), Some(_payload), Some(_signature), None) = (
        segments.next(),
        segments.next(),
        segments.next(),
        segments.next(),
    ) else {
        return Err(SignInError::Malformed("not three dot-separated segments"));
    };
    let header: RawHeader = URL_SAFE_NO_PAD
        .decode(header)
        .ok()
        .and_then(|json| serde_json::from_slice(&json).ok())
        .ok_or(SignInError::Malformed("the header is not a JWS header"))?;
    if header.alg.as_deref() != Some("RS256") {
        return Err(SignInError::UnsupportedAlgorithm);
    }
    if header.crit.is_some() {
        return Err(SignInError::Malformed("the header has critical extensions"));
    }
    header
        .kid
        .filter(|kid| !kid.is_empty())
        .ok_or(SignInError::Malformed("the header names no key"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segment(json: &Value) -> String {
        URL_SAFE_NO_PAD.encode(json.to_string())
    }

    fn token(header: &Value) -> String {
        format!(
            "{}.{}.c2ln",
            segment(header),
            segment(&serde_json::json!({}))
        )
    }

    #[test]
    fn only_rs256_with_a_kid_passes_the_precheck() {
        use serde_json::json;
        assert_eq!(
            precheck(&token(&json!({"alg": "RS256", "kid": "k1"}))),
            Ok("k1".to_owned())
        );
        for alg in ["HS256", "none", "ES256", "RS512", "rs256"] {
            assert_eq!(
                precheck(&token(&json!({"alg": alg, "kid": "k1"}))),
                Err(SignInError::UnsupportedAlgorithm),
                "{alg}"
            );
        }
        assert_eq!(
            precheck(&token(&json!({"kid": "k1"}))),
            Err(SignInError::UnsupportedAlgorithm)
        );
        for header in [json!({"alg": "RS256"}), json!({"alg": "RS256", "kid": ""})] {
            assert_eq!(
                precheck(&token(&header)),
                Err(SignInError::Malformed("the header names no key"))
            );
        }
        assert!(matches!(
            precheck(&token(
                &json!({"alg": "RS256", "kid": "k", "crit": ["b64"]})
            )),
            Err(SignInError::Malformed(_))
        ));
        for garbage in [
            "",
            "a.b",
            "a.b.c.d",
            "!!.b.c",
            &"a".repeat(MAX_ID_TOKEN_BYTES + 1),
        ] {
            assert!(
                matches!(precheck(garbage), Err(SignInError::Malformed(_))),
                "{garbage}"
            );
        }
    }

    #[test]
    fn the_key_set_keeps_only_rs256_signing_keys_of_2048_bits_or_more() {
        use serde_json::json;
        let n = URL_SAFE_NO_PAD.encode([0xC5u8; 256]);
        let short = URL_SAFE_NO_PAD.encode([0xC5u8; 128]);
        let rsa = |kid: &str| json!({"kty": "RSA", "kid": kid, "n": n, "e": "AQAB"});
        let mut with_alg = rsa("with-alg");
        with_alg["alg"] = json!("RS256");
        with_alg["use"] = json!("sig");
        let mut rs512 = rsa("rs512");
        rs512["alg"] = json!("RS512");
        let mut enc = rsa("enc");
        enc["use"] = json!("enc");
        let body = json!({"keys": [
            rsa("plain"),
            with_alg,
            rs512,
            enc,
            {"kty": "RSA", "kid": "short", "n": short, "e": "AQAB"},
            {"kty": "RSA", "n": n, "e": "AQAB"},
            {"kty": "EC", "kid": "ec", "crv": "P-256", "x": "AA", "y": "AA"},
        ]});
        let jwks =
            crate::providers::jwks::parse_jwks(body.to_string().as_bytes(), &GOOGLE_JWKS).unwrap();
        let mut kids: Vec<&str> = jwks.keys.keys().map(String::as_str).collect();
        kids.sort_unstable();
        assert_eq!(kids, ["plain", "with-alg"]);
        assert_eq!(jwks.skipped, 5);
    }
}
