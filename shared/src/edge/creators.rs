//! The creator routes' HTTP mapping (`GET /me`, `GET /me/companies`): [`CreatorError`] and a
//! refused tier-limited action ([`PlanRequired`]) as [`ApiError`].

use crate::domain::creators::CreatorError;
use crate::domain::creators::plan::PlanRequired;
use crate::edge::error::ApiError;

impl From<CreatorError> for ApiError {
    fn from(error: CreatorError) -> Self {
        match error {
            CreatorError::Unavailable => Self::DependencyUnavailable {
                dependency: "state table",
            },
        }
    }
}

/// 402 `plan_required`, the message naming the plan that would allow it.
impl From<PlanRequired> for ApiError {
    fn from(refused: PlanRequired) -> Self {
        Self::PaymentRequired {
            code: "plan_required",
            message: refused.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::creators::plan::Tier;

    #[test]
    fn a_refused_plan_is_402_plan_required_naming_the_plan_needed() {
        let error = ApiError::from(PlanRequired {
            what: "member messages",
            tier: Tier::Free,
            needed: Tier::Starter,
        });
        assert_eq!(error.status().as_u16(), 402);
        assert_eq!(error.code(), "plan_required");
        assert_eq!(
            error.to_string(),
            "member messages needs the starter plan or higher; this creator's plan is free"
        );
    }
}
