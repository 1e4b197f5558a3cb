//! `churnsaver webhook sign | verify | send`: signature debugging for operators, with the same
//! verifier the webhooks function runs.

use std::path::Path;

use anyhow::{Context, anyhow, bail};
use base64::Engine;
use http::{HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;
use shared::domain::webhooks::Source;
use shared::domain::webhooks::verify::{DEFAULT_TOLERANCE_SECS, SigningSecret, VerifyOptions};
use shared::providers::{self, whop};

/// Which of Whop's schemes to sign with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum WhopScheme {
    /// Standard Webhooks headers (API v1, the current scheme).
    Standard,
    /// `x-whop-signature: t=…,v1=…` (API v5).
    Legacy,
    /// `x-whop-signature: <hex>` with `x-whop-timestamp`.
    Bare,
}

pub fn parse_source(name: &str) -> anyhow::Result<Source> {
    Source::parse(name)
        .ok_or_else(|| anyhow!("unknown provider `{name}`: use whop, stripe, standard or paypal"))
}

/// The headers a real sender sends for `body`, one `(name, value)` each.
pub fn sign_headers(
    source: Source,
    secret: &str,
    body: &[u8],
    message_id: &str,
    timestamp: i64,
    whop_scheme: WhopScheme,
) -> anyhow::Result<Vec<(&'static str, String)>> {
    let secret =
        SigningSecret::parse(source, secret).map_err(|e| anyhow!("the secret is unusable: {e}"))?;
    Ok(match (source, whop_scheme) {
        (Source::Whop, WhopScheme::Legacy) => {
            whop::verify::sign_whop_legacy(&secret, body, timestamp)
        }
        (Source::Whop, WhopScheme::Bare) => whop::verify::sign_whop_bare(&secret, body, timestamp),
        _ => providers::sign(source, &secret, body, timestamp, message_id),
    })
}

/// PayPal's headers for `body`, signed now as the local stack's stand-in PayPal would sign them:
/// with its test key, fetched from the stand-in at the stack's `PAYPAL_API_BASE_URL`, for the
/// stack's `PAYPAL_WEBHOOK_ID`, with `transmission_id`.
pub async fn paypal_local_headers(
    environment: &std::collections::BTreeMap<String, String>,
    body: &[u8],
    transmission_id: &str,
) -> anyhow::Result<Vec<(&'static str, String)>> {
    let setting = |var: &str| {
        environment
            .get(var)
            .filter(|value| !value.is_empty())
            .ok_or_else(|| anyhow!("the local stack has no {var}: is PayPal's stand-in running?"))
    };
    let base_url = setting("PAYPAL_API_BASE_URL")?.trim_end_matches('/');
    let webhook_id = setting("PAYPAL_WEBHOOK_ID")?;
    let key: Value = reqwest::get(format!("{base_url}/local/signing-key"))
        .await
        .and_then(reqwest::Response::error_for_status)
        .with_context(|| format!("asking the PayPal stand-in at {base_url} for its test key"))?
        .json()
        .await
        .context("reading the PayPal stand-in's test key")?;
    let (Some(pkcs8), Some(cert_path)) =
        (key["leaf_key_pkcs8"].as_str(), key["cert_path"].as_str())
    else {
        bail!("the PayPal stand-in at {base_url} answered no test key");
    };
    let pkcs8 = base64::engine::general_purpose::STANDARD.decode(pkcs8)?;
    let key = aws_lc_rs::signature::RsaKeyPair::from_pkcs8(&pkcs8)
        .map_err(|e| anyhow!("the PayPal stand-in's test key is unusable: {e}"))?;
    let time = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    shared::providers::paypal::sign(
        &key,
        webhook_id,
        &format!("{base_url}{cert_path}"),
        transmission_id,
        &time,
        body,
    )
    .map_err(|_| anyhow!("signing with the PayPal stand-in's test key failed"))
}

/// `valid`, or the reason code the webhooks function would answer 401 with.
pub fn verify_delivery(
    source: Source,
    secrets: &[String],
    headers: &[String],
    body: &[u8],
    now: i64,
    accept_whop_bare: bool,
) -> anyhow::Result<Result<(), &'static str>> {
    let secrets = secrets
        .iter()
        .map(|s| SigningSecret::parse(source, s).map_err(|e| anyhow!("a secret is unusable: {e}")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut map = HeaderMap::new();
    for line in headers {
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| anyhow!("`{line}` is not `Name: value`"))?;
        map.append(
            HeaderName::try_from(name.trim())
                .with_context(|| format!("bad header name in `{line}`"))?,
            HeaderValue::try_from(value.trim())
                .with_context(|| format!("bad header value in `{line}`"))?,
        );
    }
    let options = VerifyOptions {
        tolerance_secs: DEFAULT_TOLERANCE_SECS,
        accept_whop_bare,
    };
    Ok(
        providers::verify(source, &map, body, &secrets, now, options)
            .map(drop)
            .map_err(|e| e.reason_code()),
    )
}

/// A sample to send: an API Gateway request from `events/` (its body, and the provider from its
/// path) or a raw JSON body.
pub fn load_sample(path: &Path, provider: Option<&str>) -> anyhow::Result<(Source, Vec<u8>)> {
    let text = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let json: Value =
        serde_json::from_slice(&text).with_context(|| format!("{} is not JSON", path.display()))?;
    if json.get("requestContext").is_some() {
        let body = json["body"].as_str().unwrap_or_default();
        let body = if json["isBase64Encoded"] == Value::Bool(true) {
            base64::engine::general_purpose::STANDARD.decode(body)?
        } else {
            body.as_bytes().to_vec()
        };
        let from_path = json["rawPath"]
            .as_str()
            .and_then(|p| p.strip_prefix("/webhooks/"))
            .map(str::to_owned);
        let name = provider.map(str::to_owned).or(from_path).ok_or_else(|| {
            anyhow!(
                "{} is not a webhook request; pass --provider",
                path.display()
            )
        })?;
        Ok((parse_source(&name)?, body))
    } else {
        let name = provider.ok_or_else(|| anyhow!("a raw body needs --provider"))?;
        Ok((parse_source(name)?, text))
    }
}

/// Random dev secrets in each provider's own format, for the local stack.
pub fn dev_secrets() -> Value {
    let random = || uuid::Uuid::new_v4().simple().to_string();
    let standard_key: Vec<u8> = random().bytes().take(24).collect();
    let resend_key: Vec<u8> = random().bytes().take(24).collect();
    serde_json::json!({
        "whop": [format!("ws_{}{}", random(), random())],
        "stripe": [format!("whsec_{}", random())],
        "standard": [format!("whsec_{}", base64::engine::general_purpose::STANDARD.encode(standard_key))],
        "resend": [format!("whsec_{}", base64::engine::general_purpose::STANDARD.encode(resend_key))],
    })
}

pub fn require_file(path: &Path) -> anyhow::Result<Vec<u8>> {
    if !path.exists() {
        bail!("{} does not exist", path.display());
    }
    Ok(std::fs::read(path)?)
}
