//! Sales events (`docs/architecture.md`, "Sales events"): one record per sale on a selling
//! platform (Gumroad's sales, read by its sync), with what royalty and revenue reports need:
//! the platform, the date, the product, the units, the amounts and the currency. A sale is
//! stored once under [`SaleEvent::key`], so reading it again (a second sync, a retried page)
//! writes nothing new.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One sale.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SaleEvent {
    /// `gumroad`.
    pub platform: String,
    /// The company the connected account sells for.
    pub company_id: String,
    /// The platform's id of the sale.
    pub sale_id: String,
    /// When the sale was made.
    pub date: DateTime<Utc>,
    pub product_id: Option<String>,
    pub product_name: Option<String>,
    /// Units sold (Gumroad's `quantity`, 1 when it says nothing).
    pub units: u32,
    /// What the buyer paid, in the currency's minor units (cents).
    pub gross_minor: i64,
    /// What the seller receives after the platform's fee, in minor units, when it says.
    pub net_minor: Option<i64>,
    /// ISO 4217, lower case.
    pub currency: String,
    /// Refunded (wholly or partly) when read.
    pub refunded: bool,
}

impl SaleEvent {
    /// The sale's identity: `<platform>#<sale id>` (unique within its company).
    pub fn key(&self) -> String {
        format!("{}#{}", self.platform, self.sale_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sale_is_keyed_by_its_platform_and_id_alone() {
        let sale = SaleEvent {
            platform: "gumroad".into(),
            company_id: "biz_1".into(),
            sale_id: "s1".into(),
            date: DateTime::UNIX_EPOCH,
            product_id: None,
            product_name: None,
            units: 1,
            gross_minor: 500,
            net_minor: None,
            currency: "usd".into(),
            refunded: false,
        };
        let refunded = SaleEvent {
            refunded: true,
            ..sale.clone()
        };
        assert_eq!(sale.key(), "gumroad#s1");
        assert_eq!(sale.key(), refunded.key());
    }
}
