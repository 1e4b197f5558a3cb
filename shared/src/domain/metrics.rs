//! CloudWatch Embedded Metric Format: one JSON line on stdout per batch of measurements, which
//! CloudWatch Logs turns into metrics. No API call, no cost per datapoint, nothing to flush.
//!
//! Written here rather than taken from a crate: the format is one small JSON object, and the
//! crates that exist tie themselves to a specific `lambda_runtime` version through a layer.

use std::io::Write;

use serde_json::{Map, Value, json};

/// The namespace of every metric this backend emits.
pub const NAMESPACE: &str = "ChurnSaver";

/// A unit CloudWatch understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Milliseconds,
    Microseconds,
    Bytes,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Self::Count => "Count",
            Self::Milliseconds => "Milliseconds",
            Self::Microseconds => "Microseconds",
            Self::Bytes => "Bytes",
        }
    }
}

/// A set of measurements sharing one set of dimensions, emitted as one EMF line.
#[derive(Debug, Clone)]
pub struct Metrics {
    dimensions: Vec<(&'static str, String)>,
    values: Vec<(&'static str, Unit, f64)>,
}

impl Metrics {
    /// Measurements for one function; `function` becomes the `function` dimension.
    pub fn new(function: &str) -> Self {
        Self {
            dimensions: vec![("function", function.to_owned())],
            values: Vec::new(),
        }
    }

    /// Adds a dimension (keep them few and low-cardinality: each combination is a metric).
    #[must_use]
    pub fn dimension(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.dimensions.push((name, value.into()));
        self
    }

    pub fn count(&mut self, name: &'static str, value: u64) -> &mut Self {
        self.record(name, Unit::Count, value as f64)
    }

    pub fn record(&mut self, name: &'static str, unit: Unit, value: f64) -> &mut Self {
        self.values.push((name, unit, value));
        self
    }

    /// The EMF document for these measurements at `timestamp_ms`.
    pub fn to_emf(&self, timestamp_ms: i64) -> Value {
        let mut root = Map::new();
        let definitions: Vec<Value> = self
            .values
            .iter()
            .map(|(name, unit, _)| json!({"Name": name, "Unit": unit.as_str()}))
            .collect();
        let dimension_names: Vec<&str> = self.dimensions.iter().map(|(n, _)| *n).collect();
        root.insert(
            "_aws".into(),
            json!({
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": NAMESPACE,
                    "Dimensions": [dimension_names],
                    "Metrics": definitions,
                }],
            }),
        );
        for (name, value) in &self.dimensions {
            root.insert((*name).to_owned(), Value::String(value.clone()));
        }
        for (name, _, value) in &self.values {
            root.insert((*name).to_owned(), json!(value));
        }
        Value::Object(root)
    }

    /// Writes the EMF line to stdout (nothing when there are no measurements).
    pub fn emit(&self) {
        if self.values.is_empty() {
            return;
        }
        let line = self.to_emf(chrono::Utc::now().timestamp_millis());
        let mut stdout = std::io::stdout().lock();
        // A lost metric line must never fail the request it describes.
        let _ = writeln!(stdout, "{line}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_a_valid_emf_document() {
        let mut metrics = Metrics::new("webhooks").dimension("provider", "whop");
        metrics
            .count("received", 1)
            .record("latency", Unit::Milliseconds, 2.5);

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
                            {"Name": "received", "Unit": "Count"},
                            {"Name": "latency", "Unit": "Milliseconds"}
                        ]
                    }]
                },
                "function": "webhooks",
                "provider": "whop",
                "received": 1.0,
                "latency": 2.5
            })
        );
    }
}
