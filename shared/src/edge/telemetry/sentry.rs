//! Sentry: scrubbed [`Report`]s become events in envelopes, queued during the invocation and
//! posted through the project's reqwest client at its end (`docs/providers.md`, "Sentry").
//!
//! The envelope and the event are written here (a few fields of Sentry's documented protocol)
//! rather than with the `sentry` crates: their protocol types alone add about 570 KB to every
//! function's binary, which error reporting must not cost while it is off.

use std::time::SystemTime;

use reqwest::header::{CONTENT_TYPE, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value as Json, json};

use super::report::{Report, Value};
use super::{Outbox, ReportingError, Resource};

/// Sentry's protocol version the envelopes speak.
const PROTOCOL_VERSION: u8 = 7;
/// Who sends them.
const CLIENT: &str = concat!("churnsaver/", env!("CARGO_PKG_VERSION"));

/// Where Sentry's events go, and those waiting to (each an envelope's body).
pub(super) struct SentrySink {
    outbox: Outbox<Vec<u8>>,
    url: url::Url,
    auth: HeaderValue,
}

/// A DSN, `{scheme}://{public key}[:{secret}]@{host}[:{port}]/{path/}{project id}`: the
/// envelope endpoint `{scheme}://{host}[:{port}]/{path/}api/{project id}/envelope/` and the
/// public key.
fn parse_dsn(dsn: &str) -> Result<(url::Url, String), ReportingError> {
    let invalid = |why: &str| ReportingError::Dsn(why.to_owned());
    let parsed = url::Url::parse(dsn.trim()).map_err(|_| invalid("not a URL"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(invalid("its scheme is not http or https"));
    }
    let key = parsed.username();
    if key.is_empty() {
        return Err(invalid("it has no public key"));
    }
    let path = parsed.path().trim_end_matches('/');
    let (prefix, project) = path
        .rsplit_once('/')
        .ok_or_else(|| invalid("no project id"))?;
    if project.is_empty() || !project.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid("its project id is not a number"));
    }
    let mut url = parsed.clone();
    url.set_username("").map_err(|()| invalid("no host"))?;
    url.set_password(None).map_err(|()| invalid("no host"))?;
    url.set_query(None);
    url.set_fragment(None);
    url.set_path(&format!("{prefix}/api/{project}/envelope/"));
    Ok((url, key.to_owned()))
}

/// Seconds since the epoch, with fractions, as Sentry takes a timestamp.
fn unix_seconds(time: SystemTime) -> f64 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0.0, |since| since.as_secs_f64())
}

impl SentrySink {
    /// The sink for `dsn` (the secret's value).
    pub(super) fn new(dsn: &SecretString, _resource: &Resource) -> Result<Self, ReportingError> {
        let (url, key) = parse_dsn(dsn.expose_secret())?;
        let mut auth = HeaderValue::from_str(&format!(
            "Sentry sentry_key={key}, sentry_version={PROTOCOL_VERSION}, sentry_client={CLIENT}"
        ))
        .map_err(|_| ReportingError::Dsn("its key is not a header value".to_owned()))?;
        auth.set_sensitive(true);
        Ok(Self {
            outbox: Outbox::default(),
            url,
            auth,
        })
    }

    /// Queues `report` as an event in its envelope.
    pub(super) fn capture(&self, report: &Report, resource: &Resource) {
        let event_id = uuid::Uuid::new_v4().simple().to_string();
        let mut tags = Map::new();
        tags.insert("function".into(), resource.function.clone().into());
        tags.insert("stage".into(), resource.stage.into());
        if let Some(code) = &report.code {
            tags.insert("code".into(), code.clone().into());
        }
        let extra: Map<String, Json> = report
            .fields
            .iter()
            .map(|(name, value)| {
                let value = match value {
                    Value::Text(text) => Json::from(text.as_str()),
                    Value::Int(n) => Json::from(*n),
                    Value::Float(x) => Json::from(*x),
                    Value::Bool(b) => Json::from(*b),
                };
                (name.clone(), value)
            })
            .collect();
        let event = json!({
            "event_id": event_id,
            "timestamp": unix_seconds(report.time),
            "platform": "other",
            "level": "error",
            "logger": report.target,
            "message": report.message,
            "environment": resource.stage,
            "release": concat!("churnsaver@", env!("CARGO_PKG_VERSION")),
            "tags": tags,
            "extra": extra,
            "sdk": {"name": "churnsaver", "version": env!("CARGO_PKG_VERSION")},
        });
        let payload = event.to_string();
        let header = json!({"event_id": event_id});
        let item =
            json!({"type": "event", "length": payload.len(), "content_type": "application/json"});
        self.outbox
            .push(format!("{header}\n{item}\n{payload}\n").into_bytes());
    }

    /// Posts every queued envelope; a failed post is logged (at WARN, so it is not reported in
    /// turn) and dropped.
    pub(super) async fn send(&self, http: &reqwest::Client) {
        for body in self.outbox.take() {
            let request = http
                .post(self.url.clone())
                .header("X-Sentry-Auth", self.auth.clone())
                .header(
                    CONTENT_TYPE,
                    HeaderValue::from_static("application/x-sentry-envelope"),
                )
                .body(body);
            super::post(request, "Sentry").await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dsn_is_its_envelope_endpoint_and_public_key() {
        let cases = [
            (
                "https://abc123@o1.ingest.sentry.io/42",
                "https://o1.ingest.sentry.io/api/42/envelope/",
            ),
            (
                "http://key:secret@127.0.0.1:9000/sub/path/7",
                "http://127.0.0.1:9000/sub/path/api/7/envelope/",
            ),
        ];
        for (dsn, url) in cases {
            let (parsed, key) = parse_dsn(dsn).unwrap();
            assert_eq!(parsed.as_str(), url, "{dsn}");
            assert!(key == "abc123" || key == "key", "{dsn}");
        }
        for dsn in [
            "not a url",
            "https://o1.ingest.sentry.io/42",
            "https://abc@o1.ingest.sentry.io/",
            "https://abc@o1.ingest.sentry.io/project",
            "ftp://abc@host/1",
        ] {
            assert!(parse_dsn(dsn).is_err(), "{dsn}");
        }
    }
}
