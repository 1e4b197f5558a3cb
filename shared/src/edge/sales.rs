//! The sales view's HTTP mapping (`GET /companies/{company_id}/sales`): its query parameters as
//! the route reads them. Its errors are the creator view's ([`crate::edge::companies`]): a bad
//! parameter is 400 `invalid_query` with every problem.

use serde::Deserialize;

use crate::domain::sales::SalesQuery;

/// `?platform=&from=&to=&group=`; other parameters are ignored.
#[derive(Debug, Default, Deserialize)]
pub struct SalesParams {
    pub platform: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub group: Option<String>,
}

impl SalesParams {
    pub fn query(&self) -> SalesQuery<'_> {
        SalesQuery {
            platform: self.platform.as_deref(),
            from: self.from.as_deref(),
            to: self.to.as_deref(),
            group: self.group.as_deref(),
        }
    }
}
