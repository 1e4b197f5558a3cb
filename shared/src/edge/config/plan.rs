//! The creator plan's variables (`docs/architecture.md`, "Creators"): `CHURNSAVER_PRODUCT_ID`,
//! Churn Saver's own Whop product, and `CHURNSAVER_TIER_PLANS`, which of its plans give which tier
//! (`plan_x:pro,plan_y:starter`); every problem reported.

use std::collections::BTreeMap;

use super::reader::Reader;
use crate::domain::creators::plan::{PlanSettings, Tier};
use crate::providers::whop::ids::is_whop_id;

const PLANS_FIX: &str = "write plan_id:tier pairs separated by commas, e.g. plan_x:pro,plan_y:starter (tiers: free, starter, pro)";

/// The plan settings: every creator on the free tier when neither variable is set.
pub(super) fn read<F: Fn(&str) -> Option<String>>(env: &mut Reader<'_, F>) -> PlanSettings {
    let product_id = env.optional("CHURNSAVER_PRODUCT_ID");
    if let Some(product) = &product_id
        && !is_whop_id(product, "prod_")
    {
        env.problem(
            "CHURNSAVER_PRODUCT_ID",
            format!("`{product}` is not a Whop product id"),
            "copy Churn Saver's own product id (it starts with `prod_`) from the Whop dashboard, or unset it to keep every creator on the free tier",
        );
    }
    let mut tiers = BTreeMap::new();
    if let Some(text) = env.optional("CHURNSAVER_TIER_PLANS") {
        if product_id.is_none() {
            env.problem(
                "CHURNSAVER_TIER_PLANS",
                "is set but CHURNSAVER_PRODUCT_ID is not",
                "set CHURNSAVER_PRODUCT_ID to the product these plans belong to, or unset CHURNSAVER_TIER_PLANS",
            );
        }
        for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let parsed = pair.split_once(':').and_then(|(plan, tier)| {
                let plan = plan.trim();
                Some((plan, Tier::parse(tier.trim())?)).filter(|_| is_whop_id(plan, "plan_"))
            });
            match parsed {
                Some((plan, tier)) => {
                    if tiers.insert(plan.to_owned(), tier).is_some() {
                        env.problem(
                            "CHURNSAVER_TIER_PLANS",
                            format!("plan `{plan}` is listed twice"),
                            "give each plan one tier",
                        );
                    }
                }
                None => env.problem(
                    "CHURNSAVER_TIER_PLANS",
                    format!("`{pair}` is not a plan_id:tier pair"),
                    PLANS_FIX,
                ),
            }
        }
    }
    PlanSettings { product_id, tiers }
}
