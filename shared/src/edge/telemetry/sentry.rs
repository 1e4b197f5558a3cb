//! Sentry: scrubbed [`Report`]s become events of `sentry-core`'s client, whose transport only
//! queues the envelopes; [`SentrySink::send`] posts them through the project's reqwest client at
//! the end of the invocation (`docs/providers.md`, "Sentry").

use std::borrow::Cow;
use std::sync::Arc;

use reqwest::header::{CONTENT_TYPE, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use sentry_core::protocol::{Event, Level};
use sentry_core::types::Dsn;
use sentry_core::{ClientOptions, Envelope, Transport, TransportFactory, TransportOptions};

use super::report::{Report, Value};
use super::{Outbox, ReportingError, Resource};

/// Where Sentry's events go, and those waiting to.
pub(super) struct SentrySink {
    client: sentry_core::Client,
    outbox: Arc<Outbox<Envelope>>,
    url: url::Url,
    auth: HeaderValue,
}

/// The transport: envelopes wait in the outbox until the invocation ends.
struct Queue(Arc<Outbox<Envelope>>);

impl Transport for Queue {
    fn send_envelope(&self, envelope: Envelope) {
        self.0.push(envelope);
    }
}

impl TransportFactory for Queue {
    fn create_transport_with_options(&self, _options: TransportOptions) -> Arc<dyn Transport> {
        Arc::new(Self(Arc::clone(&self.0)))
    }
}

impl SentrySink {
    /// The sink for `dsn` (the secret's value).
    pub(super) fn new(dsn: &SecretString, resource: &Resource) -> Result<Self, ReportingError> {
        let dsn: Dsn = dsn.expose_secret().trim().parse().map_err(
            |error: sentry_core::types::ParseDsnError| ReportingError::Dsn(error.to_string()),
        )?;
        let agent = concat!("churnsaver/", env!("CARGO_PKG_VERSION"));
        let mut auth = HeaderValue::from_str(&dsn.to_auth(Some(agent)).to_string())
            .map_err(|_| ReportingError::Dsn("its key is not a header value".to_owned()))?;
        auth.set_sensitive(true);
        let outbox = Arc::new(Outbox::default());
        let mut options = ClientOptions::default();
        options.dsn = Some(dsn.clone());
        options.environment = Some(Cow::Owned(resource.stage.to_owned()));
        options.release = Some(Cow::Borrowed(concat!(
            "churnsaver@",
            env!("CARGO_PKG_VERSION")
        )));
        options.send_default_pii = false;
        options.default_integrations = false;
        options.transport = Some(Arc::new(Queue(Arc::clone(&outbox))));
        Ok(Self {
            client: sentry_core::Client::with_options(options),
            outbox,
            url: dsn.envelope_api_url(),
            auth,
        })
    }

    /// Queues `report` as an event.
    pub(super) fn capture(&self, report: &Report, resource: &Resource) {
        let mut event = Event {
            level: Level::Error,
            timestamp: report.time,
            logger: Some(report.target.clone()),
            message: Some(report.message.clone()),
            ..Event::default()
        };
        event
            .tags
            .insert("function".to_owned(), resource.function.clone());
        event
            .tags
            .insert("stage".to_owned(), resource.stage.to_owned());
        if let Some(code) = &report.code {
            event.tags.insert("code".to_owned(), code.clone());
        }
        for (name, value) in &report.fields {
            let value = match value {
                Value::Text(text) => text.as_str().into(),
                Value::Int(n) => (*n).into(),
                Value::Float(x) => (*x).into(),
                Value::Bool(b) => (*b).into(),
            };
            event.extra.insert(name.clone(), value);
        }
        self.client.capture_event(event, None);
    }

    /// Posts every queued envelope; a failed post is logged (at WARN, so it is not reported in
    /// turn) and dropped.
    pub(super) async fn send(&self, http: &reqwest::Client) {
        for envelope in self.outbox.take() {
            let mut body = Vec::new();
            if envelope.to_writer(&mut body).is_err() {
                continue;
            }
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
