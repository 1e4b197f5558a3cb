//! Stripe reconcile's variables (README "Stripe reconcile"): all or nothing around
//! `STRIPE_SYNC_COMPANIES`, every problem reported.

use url::Url;

use super::Provider;
use super::reader::Reader;
use crate::providers::stripe::sync::DEFAULT_API_BASE_URL;

/// Which companies' Stripe accounts sync reconciles, and where their keys are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StripeSyncSettings {
    /// `STRIPE_SYNC_COMPANIES`: the companies with a Stripe account, each scheduled as its own
    /// run (one key per company in the keys secret).
    pub companies: Vec<String>,
    /// `STRIPE_API_KEYS_SECRET_ID`: `{"<company id>": "sk_…" or "rk_…", …}`.
    pub keys_secret_id: String,
    /// `STRIPE_API_BASE_URL`, or Stripe's own.
    pub api_base_url: Url,
}

impl StripeSyncSettings {
    /// Whether `company_id`'s Stripe account is reconciled.
    pub fn covers(&self, company_id: &str) -> bool {
        self.companies.iter().any(|c| c == company_id)
    }
}

/// Stripe reconcile's settings: `None` (off) without `STRIPE_SYNC_COMPANIES` (the template names
/// its keys secret either way). `STRIPE_API_BASE_URL` is already read into `base_urls`.
pub(super) fn read<F: Fn(&str) -> Option<String>>(
    env: &mut Reader<'_, F>,
    base_urls: &[(Provider, Url)],
) -> Option<StripeSyncSettings> {
    const COMPANIES: &str = "STRIPE_SYNC_COMPANIES";
    const KEYS: &str = "STRIPE_API_KEYS_SECRET_ID";
    let list = env.optional(COMPANIES)?;
    let before = env.problems.len();
    let companies: Vec<String> = list.split(',').map(|id| id.trim().to_owned()).collect();
    let valid = |id: &String| {
        !id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_graphic() && b != b'#')
    };
    if let Some(bad) = companies.iter().find(|id| !valid(id)) {
        env.problem(
            COMPANIES,
            format!("`{bad}` is not a company id"),
            "list company ids separated by commas, each 1–128 printable ASCII characters without `#`",
        );
    } else if let Some(twice) = companies
        .iter()
        .enumerate()
        .find_map(|(i, id)| companies[..i].contains(id).then_some(id))
    {
        env.problem(
            COMPANIES,
            format!("names `{twice}` twice"),
            "list each company once",
        );
    }
    let keys_secret_id = env.optional(KEYS);
    if keys_secret_id.is_none() {
        env.problem(
            KEYS,
            "is required with STRIPE_SYNC_COMPANIES",
            "set it to the Secrets Manager secret holding {\"<company id>\": \"sk_…\"} (the template's StripeApiKeys)",
        );
    }
    let api_base_url = base_urls
        .iter()
        .find(|(provider, _)| *provider == Provider::Stripe)
        .map(|(_, url)| url.clone())
        .or_else(|| Url::parse(DEFAULT_API_BASE_URL).ok());
    if env.problems.len() > before {
        return None;
    }
    Some(StripeSyncSettings {
        companies,
        keys_secret_id: keys_secret_id?,
        api_base_url: api_base_url?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_from(vars: &[(&str, &str)]) -> (Option<StripeSyncSettings>, Vec<String>) {
        super::super::reader::read_vars(vars, |env| read(env, &[]))
    }

    #[test]
    fn stripe_reconcile_is_off_without_companies_even_with_its_keys_secret() {
        assert_eq!(read_from(&[]), (None, Vec::new()));
        assert_eq!(
            read_from(&[("STRIPE_API_KEYS_SECRET_ID", "arn:keys")]),
            (None, Vec::new())
        );
    }

    #[test]
    fn companies_need_the_keys_secret_and_are_each_named_once() {
        let (settings, _) = read_from(&[
            ("STRIPE_SYNC_COMPANIES", "biz_1, biz_2"),
            ("STRIPE_API_KEYS_SECRET_ID", "arn:keys"),
        ]);
        let settings = settings.unwrap();
        assert_eq!(settings.companies, ["biz_1", "biz_2"]);
        assert!(settings.covers("biz_2") && !settings.covers("biz_3"));
        assert_eq!(settings.api_base_url.as_str(), "https://api.stripe.com/");
        let (_, problems) = read_from(&[("STRIPE_SYNC_COMPANIES", "biz_1")]);
        assert!(problems[0].contains("is required"), "{problems:?}");
        let (_, problems) = read_from(&[
            ("STRIPE_SYNC_COMPANIES", "biz_1,biz_1"),
            ("STRIPE_API_KEYS_SECRET_ID", "arn:keys"),
        ]);
        assert!(problems[0].contains("twice"), "{problems:?}");
        let (_, problems) = read_from(&[
            ("STRIPE_SYNC_COMPANIES", "biz 1"),
            ("STRIPE_API_KEYS_SECRET_ID", "arn:keys"),
        ]);
        assert!(problems[0].contains("not a company id"), "{problems:?}");
    }
}
