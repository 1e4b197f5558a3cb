//! CloudWatch Embedded Metric Format: one JSON line on stdout per batch of measurements, which
//! CloudWatch Logs turns into metrics. No API call, no cost per datapoint, nothing to flush.
//!
//! Written here rather than taken from a crate: the format is one small JSON object, and the
//! crates that exist tie themselves to a specific `lambda_runtime` version through a layer.

use std::io::Write;

use serde_json::{Map, Value, json};

/// The namespace of every metric this backend emits.
pub const NAMESPACE: &str = "ChurnSaver";

pub mod catalogue;

/// A metric's name: only [`catalogue`] makes them, so every metric emitted is in its list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MetricName(&'static str);

impl MetricName {
    pub const fn as_str(self) -> &'static str {
        self.0
    }
}

impl std::fmt::Display for MetricName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

/// A unit CloudWatch understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Milliseconds,
    Microseconds,
    Bytes,
}

impl Unit {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Count => "Count",
            Self::Milliseconds => "Milliseconds",
            Self::Microseconds => "Microseconds",
            Self::Bytes => "Bytes",
        }
    }
}

/// Where EMF documents go: stdout in a function ([`Stdout`]), a [`Captured`] list in a test.
pub trait MetricSink: Send + Sync {
    fn write(&self, emf: Value);
}

/// Writes each document as one line on stdout, which CloudWatch Logs reads.
#[derive(Debug, Clone, Copy, Default)]
pub struct Stdout;

impl MetricSink for Stdout {
    fn write(&self, emf: Value) {
        let mut stdout = std::io::stdout().lock();
        // A lost metric line must never fail the request it describes.
        let _ = writeln!(stdout, "{emf}");
    }
}

/// Keeps the documents written to it, to be read back (tests, the local stack).
#[derive(Debug, Default)]
pub struct Captured(std::sync::Mutex<Vec<Value>>);

impl Captured {
    /// The documents written so far.
    pub fn documents(&self) -> Vec<Value> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

impl MetricSink for Captured {
    fn write(&self, emf: Value) {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(emf);
    }
}

/// Some of the measurements published under more dimensions than the base set as well.
#[derive(Debug, Clone)]
struct Breakdown {
    dimensions: Vec<&'static str>,
    metrics: Vec<MetricName>,
}

/// A set of measurements sharing one set of dimensions, emitted as one EMF line. A name recorded
/// more than once is published with all its values (an EMF array), each one a datapoint.
#[derive(Debug, Clone)]
pub struct Metrics {
    /// The base dimension set's values.
    dimensions: Vec<(&'static str, String)>,
    /// The values of the breakdowns' further dimensions.
    properties: Vec<(&'static str, String)>,
    breakdowns: Vec<Breakdown>,
    values: Vec<(MetricName, Unit, f64)>,
}

impl Metrics {
    /// Measurements for one function; `function` becomes the `function` dimension.
    pub fn new(function: &str) -> Self {
        Self {
            dimensions: vec![("function", function.to_owned())],
            properties: Vec::new(),
            breakdowns: Vec::new(),
            values: Vec::new(),
        }
    }

    /// Adds a dimension (keep them few and low-cardinality: each combination is a metric).
    #[must_use]
    pub fn dimension(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.dimensions.push((name, value.into()));
        self
    }

    /// Publishes `metrics` also under the base dimensions plus `dimensions` (each combination
    /// of values is a metric of its own: keep the values few).
    #[must_use]
    pub fn breakdown<const N: usize>(
        mut self,
        dimensions: [(&'static str, String); N],
        metrics: &[MetricName],
    ) -> Self {
        let names = dimensions.iter().map(|(name, _)| *name).collect();
        for (name, value) in dimensions {
            if !self.properties.iter().any(|(n, _)| *n == name) {
                self.properties.push((name, value));
            }
        }
        self.breakdowns.push(Breakdown {
            dimensions: names,
            metrics: metrics.to_vec(),
        });
        self
    }

    pub fn count(&mut self, name: MetricName, value: u64) -> &mut Self {
        self.record(name, Unit::Count, value as f64)
    }

    pub fn record(&mut self, name: MetricName, unit: Unit, value: f64) -> &mut Self {
        self.values.push((name, unit, value));
        self
    }

    /// The names recorded, each once, in the order first recorded.
    fn names(&self) -> Vec<(MetricName, Unit)> {
        let mut names: Vec<(MetricName, Unit)> = Vec::new();
        for (name, unit, _) in &self.values {
            if !names.iter().any(|(n, _)| n == name) {
                names.push((*name, *unit));
            }
        }
        names
    }

    /// The EMF document for these measurements at `timestamp_ms`.
    pub fn to_emf(&self, timestamp_ms: i64) -> Value {
        let names = self.names();
        let definition = |(name, unit): &(MetricName, Unit)| json!({"Name": name.as_str(), "Unit": unit.as_str()});
        let base: Vec<&str> = self.dimensions.iter().map(|(n, _)| *n).collect();
        let mut directives = vec![json!({
            "Namespace": NAMESPACE,
            "Dimensions": [base],
            "Metrics": names.iter().map(definition).collect::<Vec<_>>(),
        })];
        for breakdown in &self.breakdowns {
            let metrics: Vec<Value> = names
                .iter()
                .filter(|(name, _)| breakdown.metrics.contains(name))
                .map(definition)
                .collect();
            if metrics.is_empty() {
                continue;
            }
            let mut dimensions = base.clone();
            dimensions.extend(&breakdown.dimensions);
            directives.push(json!({
                "Namespace": NAMESPACE,
                "Dimensions": [dimensions],
                "Metrics": metrics,
            }));
        }
        let mut root = Map::new();
        root.insert(
            "_aws".into(),
            json!({"Timestamp": timestamp_ms, "CloudWatchMetrics": directives}),
        );
        for (name, value) in self.dimensions.iter().chain(&self.properties) {
            root.insert((*name).to_owned(), Value::String(value.clone()));
        }
        for (name, _) in &names {
            let values: Vec<f64> = self
                .values
                .iter()
                .filter(|(n, _, _)| n == name)
                .map(|(_, _, value)| *value)
                .collect();
            let value = match values.as_slice() {
                [one] => json!(one),
                many => json!(many),
            };
            root.insert(name.as_str().to_owned(), value);
        }
        Value::Object(root)
    }

    /// Writes the EMF line to stdout (nothing when there are no measurements).
    pub fn emit(&self) {
        self.emit_to(&Stdout);
    }

    /// Writes the EMF document to `sink` (nothing when there are no measurements).
    pub fn emit_to(&self, sink: &dyn MetricSink) {
        if self.values.is_empty() {
            return;
        }
        sink.write(self.to_emf(chrono::Utc::now().timestamp_millis()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_a_valid_emf_document() {
        let mut metrics = Metrics::new("webhooks").dimension("provider", "whop");
        metrics.count(catalogue::WEBHOOK_ENQUEUED, 1).record(
            catalogue::AUTH_VERIFY_TIME,
            Unit::Milliseconds,
            2.5,
        );

        let emf = metrics.to_emf(1_700_000_000_000);

        assert_eq!(
            emf,
            json!({
                "_aws": {
                    "Timestamp": 1_700_000_000_000_i64,
                    "CloudWatchMetrics": [{
                        "Namespace": "ChurnSaver",
                        "Dimensions": [["function", "provider"]],
                        "Metrics": [
                            {"Name": "webhook_enqueued", "Unit": "Count"},
                            {"Name": "auth_verify_time", "Unit": "Milliseconds"}
                        ]
                    }]
                },
                "function": "webhooks",
                "provider": "whop",
                "webhook_enqueued": 1.0,
                "auth_verify_time": 2.5
            })
        );
    }

    #[test]
    fn a_breakdown_is_a_second_directive_and_a_repeated_name_an_array() {
        let mut metrics = Metrics::new("auth").breakdown(
            [("reason", "expired".to_owned())],
            &[catalogue::AUTH_FAILURES],
        );
        metrics
            .count(catalogue::AUTH_FAILURES, 1)
            .record(catalogue::AUTH_VERIFY_TIME, Unit::Milliseconds, 1.0)
            .record(catalogue::AUTH_VERIFY_TIME, Unit::Milliseconds, 3.0);

        let emf = metrics.to_emf(0);

        assert_eq!(
            emf["_aws"]["CloudWatchMetrics"],
            json!([
                {"Namespace": "ChurnSaver", "Dimensions": [["function"]], "Metrics": [
                    {"Name": "auth_failures", "Unit": "Count"},
                    {"Name": "auth_verify_time", "Unit": "Milliseconds"}
                ]},
                {"Namespace": "ChurnSaver", "Dimensions": [["function", "reason"]], "Metrics": [
                    {"Name": "auth_failures", "Unit": "Count"}
                ]}
            ])
        );
        assert_eq!(emf["reason"], "expired");
        assert_eq!(emf["auth_verify_time"], json!([1.0, 3.0]));
        assert!(
            catalogue::undeclared(&emf).is_empty(),
            "{:?}",
            catalogue::undeclared(&emf)
        );
    }
}
