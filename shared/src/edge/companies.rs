//! The creator view's HTTP mapping: its query parameters as the routes read them, and
//! [`CompanyError`] as [`ApiError`] (status, stable code, every field problem).

use serde::Deserialize;

use crate::domain::companies::{CompanyError, MembershipsQuery, SummaryQuery};
use crate::edge::error::ApiError;

/// `?signal=&limit=&after=` of `GET /companies/{company_id}/memberships`; other parameters are
/// ignored.
#[derive(Debug, Default, Deserialize)]
pub struct MembershipsParams {
    pub signal: Option<String>,
    pub limit: Option<String>,
    pub after: Option<String>,
}

impl MembershipsParams {
    pub fn query(&self) -> MembershipsQuery<'_> {
        MembershipsQuery {
            signal: self.signal.as_deref(),
            limit: self.limit.as_deref(),
            after: self.after.as_deref(),
        }
    }
}

/// `?since=&until=` of `GET /companies/{company_id}/summary`; other parameters are ignored.
#[derive(Debug, Default, Deserialize)]
pub struct SummaryParams {
    pub since: Option<String>,
    pub until: Option<String>,
}

impl SummaryParams {
    pub fn query(&self) -> SummaryQuery<'_> {
        SummaryQuery {
            since: self.since.as_deref(),
            until: self.until.as_deref(),
        }
    }
}

impl From<CompanyError> for ApiError {
    fn from(error: CompanyError) -> Self {
        let message = error.to_string();
        match error {
            CompanyError::InvalidId(error) => error.into(),
            CompanyError::InvalidQuery(problems) => Self::Invalid {
                code: "invalid_query",
                message,
                problems,
            },
            CompanyError::InvalidSettings(problems) => Self::Invalid {
                code: "invalid_settings",
                message,
                problems,
            },
            CompanyError::InvalidAnalytics(problems) => Self::Invalid {
                code: "invalid_analytics",
                message,
                problems,
            },
            CompanyError::AnalyticsNotSet => Self::NotFound { what: "analytics" },
            CompanyError::NotCompanyAdmin => Self::Refused {
                code: "not_company_admin",
                message,
            },
            CompanyError::AccessCheckUnavailable => Self::Unavailable {
                code: "access_check_unavailable",
                message,
            },
            CompanyError::Unavailable => Self::DependencyUnavailable {
                dependency: "state table",
            },
            CompanyError::PlanRequired(refused) => refused.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::companies::FieldProblem;
    use crate::domain::state::ReadError;

    #[test]
    fn each_company_error_has_its_status_and_code() {
        let problem = || vec![FieldProblem::new("limit", "is not a number", "give 1–100")];
        let cases = [
            (
                CompanyError::InvalidId(ReadError::InvalidId { what: "company_id" }),
                400,
                "invalid_id",
            ),
            (CompanyError::InvalidQuery(problem()), 400, "invalid_query"),
            (
                CompanyError::InvalidSettings(problem()),
                400,
                "invalid_settings",
            ),
            (CompanyError::NotCompanyAdmin, 403, "not_company_admin"),
            (
                CompanyError::AccessCheckUnavailable,
                503,
                "access_check_unavailable",
            ),
            (CompanyError::Unavailable, 503, "dependency_unavailable"),
        ];
        for (error, status, code) in cases {
            let api = ApiError::from(error);
            assert_eq!(
                (api.status().as_u16(), api.code()),
                (status, code),
                "{api:?}"
            );
        }
        let api = ApiError::from(CompanyError::InvalidQuery(problem()));
        assert_eq!(
            api.to_string(),
            "1 query problem(s): limit: is not a number (fix: give 1–100)"
        );
    }
}
