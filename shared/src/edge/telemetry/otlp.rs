//! OTLP/HTTP: scrubbed [`Report`]s exported as log records in OTLP's JSON encoding, one
//! `POST {endpoint}/v1/logs` per invocation that logged an error (`docs/providers.md`, "OTLP/HTTP").

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value as Json, json};

use super::report::{Report, Value};
use super::{Outbox, ReportingError, Resource};

/// OTLP's severity number of ERROR.
const SEVERITY_ERROR: u8 = 17;

/// Where the log records go, and those waiting to.
pub(super) struct OtlpSink {
    url: url::Url,
    headers: HeaderMap,
    outbox: Outbox<Report>,
}

impl OtlpSink {
    /// The sink for `endpoint`, with the headers of the secret's `{"<header>": "<value>"}`.
    pub(super) fn new(
        endpoint: &url::Url,
        headers: Option<&SecretString>,
    ) -> Result<Self, ReportingError> {
        let mut url = endpoint.clone();
        let path = format!("{}/v1/logs", url.path().trim_end_matches('/'));
        url.set_path(&path);
        let mut map = HeaderMap::new();
        if let Some(headers) = headers {
            let pairs: serde_json::Map<String, Json> =
                serde_json::from_str(headers.expose_secret())
                    .map_err(|_| ReportingError::Headers("it is not a JSON object"))?;
            for (name, value) in pairs {
                let name = HeaderName::from_bytes(name.as_bytes())
                    .map_err(|_| ReportingError::Headers("a name is not a header name"))?;
                let mut value = value
                    .as_str()
                    .and_then(|value| HeaderValue::from_str(value).ok())
                    .ok_or(ReportingError::Headers("a value is not a header value"))?;
                value.set_sensitive(true);
                map.insert(name, value);
            }
        }
        Ok(Self {
            url,
            headers: map,
            outbox: Outbox::default(),
        })
    }

    pub(super) fn capture(&self, report: Report) {
        self.outbox.push(report);
    }

    /// Posts the queued records in one export; a failed post is logged (at WARN, so it is not
    /// reported in turn) and dropped.
    pub(super) async fn send(&self, http: &reqwest::Client, resource: &Resource) {
        let reports = self.outbox.take();
        if reports.is_empty() {
            return;
        }
        let request = http
            .post(self.url.clone())
            .headers(self.headers.clone())
            .json(&export(&reports, resource));
        super::post(request, "the OTLP collector").await;
    }
}

/// `ExportLogsServiceRequest` in OTLP's JSON mapping (64-bit integers as strings).
pub(super) fn export(reports: &[Report], resource: &Resource) -> Json {
    let records: Vec<Json> = reports.iter().map(record).collect();
    json!({
        "resourceLogs": [{
            "resource": { "attributes": [
                attribute("service.name", &Value::Text("churnsaver".to_owned())),
                attribute("faas.name", &Value::Text(resource.function.clone())),
                attribute("deployment.environment", &Value::Text(resource.stage.to_owned())),
            ]},
            "scopeLogs": [{
                "scope": { "name": "churnsaver", "version": env!("CARGO_PKG_VERSION") },
                "logRecords": records,
            }],
        }],
    })
}

fn record(report: &Report) -> Json {
    let nanos = report
        .time
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_nanos());
    let mut attributes = vec![attribute(
        "code.namespace",
        &Value::Text(report.target.clone()),
    )];
    if let Some(code) = &report.code {
        attributes.push(attribute("code", &Value::Text(code.clone())));
    }
    attributes.extend(
        report
            .fields
            .iter()
            .map(|(name, value)| attribute(name, value)),
    );
    json!({
        "timeUnixNano": nanos.to_string(),
        "observedTimeUnixNano": nanos.to_string(),
        "severityNumber": SEVERITY_ERROR,
        "severityText": "ERROR",
        "body": { "stringValue": report.message },
        "attributes": attributes,
    })
}

fn attribute(key: &str, value: &Value) -> Json {
    let value = match value {
        Value::Text(text) => json!({ "stringValue": text }),
        Value::Int(n) => json!({ "intValue": n.to_string() }),
        Value::Float(x) => json!({ "doubleValue": x }),
        Value::Bool(b) => json!({ "boolValue": b }),
    };
    json!({ "key": key, "value": value })
}
