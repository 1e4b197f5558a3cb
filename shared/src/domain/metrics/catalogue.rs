//! Every metric the backend emits: its name, unit and the dimension sets it is published under.
//! A [`MetricName`] can only be made here, so an emitter cannot name a metric this list lacks;
//! [`undeclared`] checks an emitted EMF document against the list, and the template test
//! (`tests/it/metrics.rs`) checks every dashboard widget and alarm of `infra/template.yaml`
//! against it (`docs/architecture.md`, "Metrics").

use serde_json::Value;

use super::{MetricName, NAMESPACE, Unit};

/// One metric of the catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub name: MetricName,
    pub unit: Unit,
    /// The dimension sets it is published under (each a set of dimension names).
    pub dimensions: &'static [&'static [&'static str]],
}

impl Entry {
    /// Whether it is published under exactly the dimension names `names` (in any order).
    pub fn has_dimensions(&self, names: &[&str]) -> bool {
        self.dimensions.iter().any(|set| same_names(set, names))
    }
}

fn same_names(a: &[&str], b: &[&str]) -> bool {
    let mut a = a.to_vec();
    let mut b = b.to_vec();
    a.sort_unstable();
    b.sort_unstable();
    a == b
}

/// The catalogue entry of the metric called `name`.
pub fn entry(name: &str) -> Option<&'static Entry> {
    CATALOGUE.iter().find(|entry| entry.name.as_str() == name)
}

/// What in an EMF document the catalogue does not declare: a metric it does not list, one under
/// a dimension set or with a unit it does not give, another namespace. Empty when it all is.
pub fn undeclared(emf: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let directives = emf
        .pointer("/_aws/CloudWatchMetrics")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    if directives.is_empty() {
        problems.push("no CloudWatchMetrics directive".to_owned());
    }
    for directive in directives {
        if directive.get("Namespace").and_then(Value::as_str) != Some(NAMESPACE) {
            problems.push(format!("namespace of {directive}"));
        }
        let sets: Vec<Vec<&str>> = directive
            .get("Dimensions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|set| {
                set.as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect()
            })
            .collect();
        let metrics = directive
            .get("Metrics")
            .and_then(Value::as_array)
            .into_iter()
            .flatten();
        for metric in metrics {
            let name = metric.get("Name").and_then(Value::as_str).unwrap_or("");
            let Some(entry) = entry(name) else {
                problems.push(format!("`{name}` is not in the catalogue"));
                continue;
            };
            if metric.get("Unit").and_then(Value::as_str) != Some(entry.unit.as_str()) {
                problems.push(format!("`{name}` has another unit than {:?}", entry.unit));
            }
            for set in &sets {
                if !entry.has_dimensions(set) {
                    problems.push(format!("`{name}` is not declared under {set:?}"));
                }
                for dimension in set {
                    if emf.get(*dimension).and_then(Value::as_str).is_none() {
                        problems.push(format!("dimension `{dimension}` has no value"));
                    }
                }
            }
            if emf.get(name).is_none() {
                problems.push(format!("`{name}` has no value"));
            }
        }
    }
    problems
}

/// Declares the metric constants and [`CATALOGUE`], which lists them all.
macro_rules! catalogue {
    ($($(#[$doc:meta])* $constant:ident = $name:literal, $unit:ident, [$([$($dimension:literal),+]),+];)*) => {
        $($(#[$doc])* pub const $constant: MetricName = MetricName($name);)*

        /// Every metric the backend emits.
        pub const CATALOGUE: &[Entry] = &[$(Entry {
            name: $constant,
            unit: Unit::$unit,
            dimensions: &[$(&[$($dimension),+]),+],
        }),*];
    };
}

catalogue! {
    // The resilient client (`providers::client`), one document per provider call (and per key-set
    // or certificate fetch, `providers::client::emit_fetch_metrics`); `function` is
    // `provider_client`, `provider` the service (`whop`, `stripe`, `gumroad`, `paypal`,
    // `resend`, …), `endpoint` the method and the path with id-like segments as `{id}`,
    // `status_class` that of the call's last attempt (`2xx`, `4xx`, `5xx`, `timeout`,
    // `unreachable`, or `refused`: not sent), `outcome` `ok` or the call's error code.
    /// Calls (one per call, retries included).
    PROVIDER_REQUESTS = "provider_requests", Count,
        [["function", "provider"], ["function", "provider", "endpoint", "status_class"], ["function", "provider", "outcome"]];
    /// Attempts of a call (the first included).
    PROVIDER_ATTEMPTS = "provider_attempts", Count, [["function", "provider"]];
    /// Attempts after the first.
    PROVIDER_RETRIES = "provider_retries", Count, [["function", "provider"]];
    /// Per attempt sent, 1 when the provider answered 5xx, else 0: the sum counts them, the
    /// average is the 5xx rate.
    PROVIDER_RESPONSES_5XX = "provider_responses_5xx", Count, [["function", "provider"]];
    /// Per attempt sent, 1 when the provider answered 429, else 0 (sum: 429s; average: their rate).
    PROVIDER_RESPONSES_429 = "provider_responses_429", Count, [["function", "provider"]];
    /// Time waited for a 429's `Retry-After` before the next attempt.
    PROVIDER_RATE_LIMIT_WAIT = "provider_rate_limit_wait", Milliseconds, [["function", "provider"]];
    /// Time of each attempt the provider was asked, from sending to the whole body read (one value per attempt).
    PROVIDER_LATENCY = "provider_latency", Milliseconds, [["function", "provider"]];
    /// Requests left in the shared rate limit's window when the call was admitted.
    PROVIDER_RATE_LIMIT_TOKENS_LEFT = "provider_rate_limit_tokens_left", Count, [["function", "provider"]];
    /// The provider's own `x-ratelimit-remaining` on the call's last answer.
    PROVIDER_RATELIMIT_REMAINING = "provider_ratelimit_remaining", Count, [["function", "provider"]];

    // The shared circuit breaker (`domain::breaker`); `function` is `provider_client`.
    /// A breaker opened (once per opening).
    BREAKER_OPENED = "breaker_opened", Count, [["function", "breaker"]];
    /// A breaker changed state; `to` is `closed`, `open` or `half_open`.
    BREAKER_TRANSITIONS = "breaker_transitions", Count, [["function", "breaker", "to"]];

    // Authentication (`domain::auth`); `function` is `auth`.
    /// Credentials presented (a Whop user token or a session).
    AUTH_ATTEMPTS = "auth_attempts", Count, [["function"]];
    /// Credentials admitted.
    AUTH_SUCCESSES = "auth_successes", Count, [["function"]];
    /// Credentials refused; `reason` is the refusal's stable code (or `throttled`).
    AUTH_FAILURES = "auth_failures", Count, [["function"], ["function", "reason"]];
    /// Time to verify a credential.
    AUTH_VERIFY_TIME = "auth_verify_time", Milliseconds, [["function"]];
    /// Sessions opened.
    SESSIONS_CREATED = "sessions_created", Count, [["function"]];
    /// Sessions revoked (one by one or all of a user's).
    SESSIONS_REVOKED = "sessions_revoked", Count, [["function"]];

    // The processor (`domain::state::process`); `function` is `processor`, `kind` the event's
    // known kind or `other`.
    /// Events processed, whatever the outcome.
    EVENTS_PROCESSED = "events_processed", Count, [["function"], ["function", "kind"]];
    /// Events that failed (permanently or to be retried).
    EVENTS_FAILED = "events_failed", Count, [["function"], ["function", "kind"]];
    /// From an event's receipt to its processing (one value per event).
    EVENT_PROCESSING_LATENCY = "event_processing_latency", Milliseconds, [["function"], ["function", "kind"]];
    EVENTS_APPLIED = "events_applied", Count, [["function"]];
    EVENTS_DUPLICATE = "events_duplicate", Count, [["function"]];
    EVENTS_STALE = "events_stale", Count, [["function"]];
    EVENTS_IGNORED = "events_ignored", Count, [["function"]];
    EVENTS_CONTRADICTED = "events_contradicted", Count, [["function"]];
    EVENTS_FAILED_PERMANENT = "events_failed_permanent", Count, [["function"]];
    EVENTS_FAILED_RETRYABLE = "events_failed_retryable", Count, [["function"]];
    SIGNAL_AT_RISK_OPENED = "signal_at_risk_opened", Count, [["function"]];
    SIGNAL_CANCEL_SCHEDULED_OPENED = "signal_cancel_scheduled_opened", Count, [["function"]];
    SIGNAL_CHURNED_OPENED = "signal_churned_opened", Count, [["function"]];
    SIGNAL_RECOVERED_OPENED = "signal_recovered_opened", Count, [["function"]];

    // The webhooks function; `provider` is the route's sender.
    WEBHOOK_ENQUEUED = "webhook_enqueued", Count, [["function", "provider"]];
    WEBHOOK_UNKNOWN_KIND = "webhook_unknown_kind", Count, [["function", "provider"]];
    WEBHOOK_CLAIM_TAKEN_OVER = "webhook_claim_taken_over", Count, [["function", "provider"]];
    WEBHOOK_DUPLICATE = "webhook_duplicate", Count, [["function", "provider"]];
    WEBHOOK_REJECTED = "webhook_rejected", Count, [["function", "provider"]];
    SUPPRESSIONS_RECORDED = "suppressions_recorded", Count, [["function", "provider"]];

    // The notify function.
    MESSAGES_SENT = "messages_sent", Count, [["function"]];
    MESSAGES_REFUSED = "messages_refused", Count, [["function"]];
    MESSAGES_SUPPRESSED = "messages_suppressed", Count, [["function"]];
    MESSAGES_ALREADY_DONE = "messages_already_done", Count, [["function"]];
    MESSAGES_PLAN_REQUIRED = "messages_plan_required", Count, [["function"]];
    /// GA4 batches the Measurement Protocol took (`domain::analytics`).
    ANALYTICS_SENT = "analytics_sent", Count, [["function"]];
    JOBS_FAILED_PERMANENT = "jobs_failed_permanent", Count, [["function"]];
    JOBS_FAILED_RETRYABLE = "jobs_failed_retryable", Count, [["function"]];

    // The sync worker, per page; `provider` is the scope's provider.
    SYNC_PAGES = "sync_pages", Count, [["function", "provider"]];
    SYNC_SEEN = "sync_seen", Count, [["function", "provider"]];
    SYNC_UNCHANGED = "sync_unchanged", Count, [["function", "provider"]];
    SYNC_DRIFT = "sync_drift", Count, [["function", "provider"]];
    SYNC_NEWER_LOCALLY = "sync_newer_locally", Count, [["function", "provider"]];
    SYNC_SKIPPED = "sync_skipped", Count, [["function", "provider"]];
    SYNC_SALES_RECORDED = "sync_sales_recorded", Count, [["function", "provider"]];

    // The maintenance function; a task's counts have `task`, the DLQ depths `queue`, the
    // secrets' ages `secret`.
    ERRORS = "errors", Count, [["function", "task"]];
    CLAIMS_CHANGED = "claims_changed", Count, [["function", "task"]];
    CLAIMS_READ = "claims_read", Count, [["function", "task"]];
    CLAIMS_REQUEUED = "claims_requeued", Count, [["function", "task"]];
    CLAIMS_STRANDED = "claims_stranded", Count, [["function", "task"]];
    DLQ_MESSAGES = "dlq_messages", Count, [["function", "task"]];
    ITEMS_DELETED = "items_deleted", Count, [["function", "task"]];
    ITEMS_EXPIRED = "items_expired", Count, [["function", "task"]];
    ITEMS_SCANNED = "items_scanned", Count, [["function", "task"]];
    RUNS_CHANGED = "runs_changed", Count, [["function", "task"]];
    RUNS_RESUMED = "runs_resumed", Count, [["function", "task"]];
    RUNS_STALE = "runs_stale", Count, [["function", "task"]];
    RUNS_COMPLETED = "runs_completed", Count, [["function", "task"]];
    RUNS_FAILED = "runs_failed", Count, [["function", "task"]];
    SECRETS_CHECKED = "secrets_checked", Count, [["function", "task"]];
    SECRETS_OVERDUE = "secrets_overdue", Count, [["function", "task"]];
    DLQ_DEPTH = "dlq_depth", Count, [["function", "queue"]];
    SECRET_AGE_HOURS = "secret_age_hours", Count, [["function", "secret"]];

    // The ingest function.
    INGESTIONS_ENDED = "ingestions_ended", Count, [["function"]];
    UNKNOWN_UPLOADS = "unknown_uploads", Count, [["function"]];

    // The health function; `report` names the report.
    HEALTH_CHECK_FAILED = "health_check_failed", Count, [["function", "report"]];
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_every_entry_has_a_dimension_set_with_function() {
        let mut names: Vec<&str> = CATALOGUE.iter().map(|e| e.name.as_str()).collect();
        names.sort_unstable();
        let count = names.len();
        names.dedup();
        assert_eq!(names.len(), count, "a name is listed twice");
        for entry in CATALOGUE {
            assert!(
                entry.dimensions.iter().all(|set| set.contains(&"function")),
                "{entry:?}"
            );
        }
    }

    #[test]
    fn undeclared_names_a_metric_outside_the_catalogue_and_a_set_it_lacks() {
        let emf = serde_json::json!({
            "_aws": {"Timestamp": 0, "CloudWatchMetrics": [{
                "Namespace": "ChurnSaver",
                "Dimensions": [["function", "kind"]],
                "Metrics": [{"Name": "auth_attempts", "Unit": "Count"}, {"Name": "nope", "Unit": "Count"}]
            }]},
            "function": "auth", "kind": "x", "auth_attempts": 1, "nope": 1
        });
        assert_eq!(
            undeclared(&emf),
            vec![
                "`auth_attempts` is not declared under [\"function\", \"kind\"]".to_owned(),
                "`nope` is not in the catalogue".to_owned(),
            ]
        );
    }
}
