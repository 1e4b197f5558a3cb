//! Error reporting's variables (README "Error reporting"): Sentry and OTLP, each off unless set.

use url::Url;

use super::Stage;
use super::reader::Reader;

/// Where ERROR events are reported ([`crate::edge::telemetry`]); both off by default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportingSettings {
    /// `SENTRY_DSN_SECRET_ARN`: the secret whose value is the Sentry DSN, read once at cold start.
    pub sentry_dsn_secret: Option<String>,
    /// `OTLP_ENDPOINT`, `OTLP_HEADERS_SECRET_ARN`: an OTLP/HTTP collector.
    pub otlp: Option<OtlpSettings>,
    /// `AWS_LAMBDA_FUNCTION_NAME` (set by Lambda): the function named in every report.
    pub function: String,
}

impl ReportingSettings {
    /// Whether any sink is configured (otherwise reporting does no work at all).
    pub fn is_on(&self) -> bool {
        self.sentry_dsn_secret.is_some() || self.otlp.is_some()
    }
}

/// An OTLP/HTTP collector (New Relic's `https://otlp.nr-data.net`, or any other).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtlpSettings {
    /// `OTLP_ENDPOINT`: the collector's base URL; log records go to `{endpoint}/v1/logs`.
    pub endpoint: Url,
    /// `OTLP_HEADERS_SECRET_ARN`: a secret holding `{"<header>": "<value>", …}` sent with every
    /// export (New Relic's `api-key`), read once at cold start.
    pub headers_secret: Option<String>,
}

pub(super) fn read<F: Fn(&str) -> Option<String>>(
    env: &mut Reader<'_, F>,
    stage: Stage,
) -> ReportingSettings {
    const ENDPOINT: &str = "OTLP_ENDPOINT";
    const HEADERS: &str = "OTLP_HEADERS_SECRET_ARN";
    let headers_secret = env.optional(HEADERS);
    let otlp = match env.optional(ENDPOINT) {
        Some(value) => env
            .http_url(ENDPOINT, &value, stage, "https://otlp.nr-data.net")
            .map(|endpoint| OtlpSettings {
                endpoint,
                headers_secret,
            }),
        None => {
            if headers_secret.is_some() {
                env.problem(
                    HEADERS,
                    "is set without OTLP_ENDPOINT",
                    "set OTLP_ENDPOINT to the collector's URL, or unset OTLP_HEADERS_SECRET_ARN",
                );
            }
            None
        }
    };
    ReportingSettings {
        sentry_dsn_secret: env.optional("SENTRY_DSN_SECRET_ARN"),
        otlp,
        function: env
            .optional("AWS_LAMBDA_FUNCTION_NAME")
            .unwrap_or_else(|| "local".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_from(vars: &[(&str, &str)]) -> (ReportingSettings, Vec<String>) {
        super::super::reader::read_vars(vars, |env| read(env, Stage::Prod))
    }

    #[test]
    fn reporting_is_off_when_nothing_or_only_blanks_are_set() {
        let (settings, problems) = read_from(&[]);
        assert!(!settings.is_on() && problems.is_empty());
        let (settings, problems) =
            read_from(&[("SENTRY_DSN_SECRET_ARN", " "), ("OTLP_ENDPOINT", "")]);
        assert!(!settings.is_on() && problems.is_empty());
    }

    #[test]
    fn otlp_needs_an_https_endpoint_in_prod_and_its_headers_need_the_endpoint() {
        let (settings, problems) = read_from(&[
            ("OTLP_ENDPOINT", "https://otlp.nr-data.net"),
            ("OTLP_HEADERS_SECRET_ARN", "arn:headers"),
            ("SENTRY_DSN_SECRET_ARN", "arn:dsn"),
            ("AWS_LAMBDA_FUNCTION_NAME", "churnsaver-health"),
        ]);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(settings.sentry_dsn_secret.as_deref(), Some("arn:dsn"));
        assert_eq!(settings.function, "churnsaver-health");
        let otlp = settings.otlp.unwrap();
        assert_eq!(otlp.endpoint.as_str(), "https://otlp.nr-data.net/");
        assert_eq!(otlp.headers_secret.as_deref(), Some("arn:headers"));
        let (_, problems) = read_from(&[("OTLP_ENDPOINT", "http://collector:4318")]);
        assert!(problems[0].contains("must use https"), "{problems:?}");
        let (_, problems) = read_from(&[("OTLP_HEADERS_SECRET_ARN", "arn:headers")]);
        assert!(
            problems[0].contains("without OTLP_ENDPOINT"),
            "{problems:?}"
        );
    }
}
