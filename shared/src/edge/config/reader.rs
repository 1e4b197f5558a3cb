//! Reading the environment: every problem collected, so all are reported together.

use std::num::NonZeroU32;
use std::ops::RangeInclusive;
use std::time::Duration;

use url::Url;

use super::{ConfigProblem, Provider, ProviderLimits, RateLimit, Stage};
use crate::domain::breaker::BreakerSettings;

/// Collects problems while reading variables, so all are reported together.
pub(super) struct Reader<'a, F> {
    pub(super) lookup: &'a F,
    pub(super) problems: Vec<ConfigProblem>,
}

impl<F: Fn(&str) -> Option<String>> Reader<'_, F> {
    /// The variable's value, `None` when unset or blank.
    pub(super) fn optional(&self, var: &str) -> Option<String> {
        (self.lookup)(var)
            .map(|value| value.trim().to_owned())
            .filter(|value| !value.is_empty())
    }

    /// A boolean (`true`/`1`/`yes`, `false`/`0`/`no`); `default` when unset.
    pub(super) fn flag(&mut self, var: &'static str, default: bool) -> bool {
        let Some(value) = self.optional(var) else {
            return default;
        };
        match value.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => true,
            "false" | "0" | "no" => false,
            _ => {
                self.problem(
                    var,
                    format!("`{value}` is not a boolean"),
                    "set it to true or false",
                );
                default
            }
        }
    }

    /// A comma-separated list of ids (user ids: 1–128 printable ASCII characters without `#`);
    /// empty when unset.
    pub(super) fn id_list(&mut self, var: &'static str, fix: &str) -> Vec<String> {
        let Some(value) = self.optional(var) else {
            return Vec::new();
        };
        let ids: Vec<String> = value.split(',').map(|id| id.trim().to_owned()).collect();
        let valid = |id: &String| {
            !id.is_empty()
                && id.len() <= 128
                && id.bytes().all(|b| b.is_ascii_graphic() && b != b'#')
        };
        if let Some(bad) = ids.iter().find(|id| !valid(id)) {
            self.problem(var, format!("`{bad}` is not a user id"), fix);
            return Vec::new();
        }
        ids
    }

    pub(super) fn required(&mut self, var: &'static str, what: &str) -> String {
        self.optional(var).unwrap_or_else(|| {
            self.problem(
                var,
                "is not set",
                format!("set {var} to {what} (the SAM template sets it for every function)"),
            );
            String::new()
        })
    }

    pub(super) fn problem(
        &mut self,
        var: &'static str,
        problem: impl Into<String>,
        fix: impl Into<String>,
    ) {
        self.problems.push(ConfigProblem {
            var,
            problem: problem.into(),
            fix: fix.into(),
        });
    }

    /// A whole number in `range`; `default` when unset.
    pub(super) fn number_in(
        &mut self,
        var: &'static str,
        range: RangeInclusive<u64>,
        default: u64,
        fix: &str,
    ) -> u64 {
        let Some(value) = self.optional(var) else {
            return default;
        };
        match value.parse() {
            Ok(number) if range.contains(&number) => number,
            _ => {
                let (low, high) = range.into_inner();
                self.problem(
                    var,
                    format!("`{value}` is not a whole number from {low} to {high}"),
                    fix,
                );
                default
            }
        }
    }

    /// A whole number of days in `range`, as a duration; `default` when unset.
    pub(super) fn days_in(
        &mut self,
        var: &'static str,
        range: RangeInclusive<u64>,
        default: std::time::Duration,
        fix: &str,
    ) -> std::time::Duration {
        const DAY: u64 = 86_400;
        std::time::Duration::from_secs(
            DAY * self.number_in(var, range, default.as_secs() / DAY, fix),
        )
    }

    /// A count in `range` (which must lie within `u32`); `default` when unset.
    pub(super) fn count_in(
        &mut self,
        var: &'static str,
        range: RangeInclusive<u32>,
        default: u32,
        what: &str,
    ) -> u32 {
        let (low, high) = (*range.start(), *range.end());
        let fix = format!("set {what} from {low} to {high}, or unset it for {default}");
        let value = self.number_in(var, u64::from(low)..=u64::from(high), default.into(), &fix);
        u32::try_from(value).unwrap_or(default)
    }

    /// A count in `range`, which starts at 1.
    pub(super) fn nonzero_in(
        &mut self,
        var: &'static str,
        range: RangeInclusive<u32>,
        default: NonZeroU32,
        what: &str,
    ) -> NonZeroU32 {
        NonZeroU32::new(self.count_in(var, range, default.get(), what)).unwrap_or(default)
    }

    /// Whole seconds in `range`; `default` when unset.
    pub(super) fn seconds_in(
        &mut self,
        var: &'static str,
        range: RangeInclusive<u64>,
        default: Duration,
        what: &str,
    ) -> Duration {
        let (low, high) = (*range.start(), *range.end());
        let default = default.as_secs();
        let fix = format!("set {what} in seconds from {low} to {high}, or unset it for {default}");
        Duration::from_secs(self.number_in(var, range, default, &fix))
    }

    /// `provider`'s limits, each variable defaulting to [`Provider::default_limits`].
    pub(super) fn provider_limits(&mut self, provider: Provider) -> ProviderLimits {
        let vars = provider.limit_vars();
        let defaults = provider.default_limits();
        let name = provider.as_str();
        ProviderLimits {
            breaker: BreakerSettings {
                failure_threshold: self.count_in(
                    vars.failure_threshold,
                    1..=100,
                    defaults.breaker.failure_threshold,
                    &format!("the consecutive failures that open {name}'s circuit breaker"),
                ),
                recovery_timeout: self.seconds_in(
                    vars.recovery_secs,
                    1..=3600,
                    defaults.breaker.recovery_timeout,
                    &format!("how long {name}'s open breaker rejects calls before probing"),
                ),
                half_open_probes: self.count_in(
                    vars.half_open_probes,
                    1..=10,
                    defaults.breaker.half_open_probes,
                    &format!("the probes {name}'s half-open breaker lets through at once"),
                ),
                success_threshold: self.count_in(
                    vars.success_threshold,
                    1..=10,
                    defaults.breaker.success_threshold,
                    &format!("the successful probes that close {name}'s breaker"),
                ),
            },
            rate_limit: RateLimit {
                requests: self.nonzero_in(
                    vars.requests,
                    1..=10_000,
                    defaults.rate_limit.requests,
                    &format!("the calls to {name} allowed per rate-limit window"),
                ),
                window: self.seconds_in(
                    vars.window_secs,
                    1..=3600,
                    defaults.rate_limit.window,
                    &format!("{name}'s rate-limit window"),
                ),
                burst: defaults.rate_limit.burst,
            },
            max_concurrency: self.nonzero_in(
                vars.max_concurrency,
                1..=100,
                defaults.max_concurrency,
                &format!("the calls to {name} in flight at once"),
            ),
            cooldown: self.seconds_in(
                vars.cooldown_secs,
                1..=3600,
                defaults.cooldown,
                &format!("how long calls to {name} pause after a 429 without Retry-After"),
            ),
            max_response_bytes: {
                const MIB: u64 = 1024 * 1024;
                let default = defaults.max_response_bytes as u64 / MIB;
                let mib = self.number_in(
                    vars.max_response_mib,
                    1..=256,
                    default,
                    &format!(
                        "set the largest response body read from {name} in MiB from 1 to 256, or unset it for {default}"
                    ),
                );
                usize::try_from(mib * MIB).unwrap_or(defaults.max_response_bytes)
            },
        }
    }

    pub(super) fn queue_url(&mut self, var: &'static str, what: &str) -> String {
        let value = self.required(var, what);
        if !value.is_empty() && Url::parse(&value).is_err() {
            self.problem(
                var,
                format!("`{value}` is not a URL"),
                "use the queue URL (`!Ref` of the queue), not its name or ARN",
            );
        }
        value
    }

    /// `value` as an absolute URL; plain http is refused only in prod, so other stages can point
    /// at stubs on loopback. Every `None` has recorded a problem.
    pub(super) fn http_url(
        &mut self,
        var: &'static str,
        value: &str,
        stage: Stage,
        example: &str,
    ) -> Option<Url> {
        match Url::parse(value) {
            Ok(url)
                if url.scheme() == "https" || (stage != Stage::Prod && url.scheme() == "http") =>
            {
                Some(url)
            }
            Ok(_) => {
                self.problem(
                    var,
                    format!("`{value}` must use https in {stage}"),
                    format!("use an https URL such as {example}"),
                );
                None
            }
            Err(_) => {
                self.problem(
                    var,
                    format!("`{value}` is not a URL"),
                    format!("use an absolute URL such as {example}, or unset it"),
                );
                None
            }
        }
    }
}

/// What `read` makes of `vars`, and the problems it found (the sub-readers' tests).
#[cfg(test)]
pub(super) fn read_vars<T>(
    vars: &[(&str, &str)],
    read: impl FnOnce(&mut Reader<'_, &dyn Fn(&str) -> Option<String>>) -> T,
) -> (T, Vec<String>) {
    let lookup = |name: &str| {
        vars.iter()
            .find(|(var, _)| *var == name)
            .map(|(_, value)| (*value).to_owned())
    };
    let lookup: &dyn Fn(&str) -> Option<String> = &lookup;
    let mut env = Reader {
        lookup: &lookup,
        problems: Vec::new(),
    };
    let value = read(&mut env);
    (
        value,
        env.problems.iter().map(ToString::to_string).collect(),
    )
}
