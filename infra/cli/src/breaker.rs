//! `churnsaver breaker`: the circuit breakers guarding provider calls, as stored in the state
//! table. Both commands read the store directly, so a store that cannot be reached is an error
//! here rather than the in-process fallback the functions use.

use anyhow::{Context, anyhow, bail};
use shared::domain::breaker::{Breaker, BreakerView, SharedBreaker};
use shared::domain::ports::BreakerStore;
use shared::domain::ports::Clock;
use shared::edge::config::Provider;

/// A name that is no provider's, so no breaker of ours carries it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a provider; breakers are named after one of: whop, stripe, gumroad, paypal")]
pub struct UnknownProvider(pub String);

/// The provider named `name`.
pub fn provider(name: &str) -> Result<Provider, UnknownProvider> {
    Provider::parse(name).ok_or_else(|| UnknownProvider(name.to_owned()))
}

/// One breaker as a line: name, state, since, failures, open until.
pub fn line(name: &str, view: &BreakerView) -> String {
    let open_until = view
        .open_until
        .map_or_else(|| "-".to_owned(), |until| until.to_rfc3339());
    format!(
        "{name}  state={}  since={}  failures={}  open_until={open_until}",
        view.state,
        view.since.to_rfc3339(),
        view.failures
    )
}

/// Every stored breaker, one line each, or `no breakers stored`.
pub async fn status<S: BreakerStore>(store: &S) -> anyhow::Result<Vec<String>> {
    let stored = store
        .list()
        .await
        .map_err(|e| anyhow!("listing the breakers: {e}"))?;
    if stored.is_empty() {
        return Ok(vec!["no breakers stored".to_owned()]);
    }
    Ok(stored
        .into_iter()
        .map(|(name, record, version)| line(&name, &Breaker { record, version }.view()))
        .collect())
}

/// Closes `provider`'s breaker and returns its stored state afterwards.
pub async fn reset<S: BreakerStore + Clone, C: Clock>(
    store: &S,
    clock: C,
    provider: Provider,
) -> anyhow::Result<String> {
    let name = provider.as_str();
    SharedBreaker::new(store.clone(), clock)
        .with_cache_ttl(std::time::Duration::ZERO)
        .reset(name)
        .await;
    // The breaker applies a reset it cannot store locally, silently; only the store tells.
    let (record, version) = store
        .load(name)
        .await
        .map_err(|e| anyhow!("reading {name}'s breaker back: {e}"))?
        .with_context(|| format!("the reset of {name}'s breaker was not stored"))?;
    let view = Breaker { record, version }.view();
    if view.state != "closed" {
        bail!(
            "the reset of {name}'s breaker was not stored; it is still {}",
            line(name, &view)
        );
    }
    Ok(line(name, &view))
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;

    #[test]
    fn names_must_be_providers() {
        assert_eq!(provider("stripe"), Ok(Provider::Stripe));
        let error = provider("whop-api").unwrap_err().to_string();
        assert_eq!(
            error,
            "`whop-api` is not a provider; breakers are named after one of: whop, stripe, gumroad, paypal"
        );
    }

    #[test]
    fn a_line_shows_every_field() {
        let since = Utc.timestamp_opt(1_900_000_000, 0).unwrap();
        let open = BreakerView {
            state: "open",
            since,
            failures: 0,
            open_until: Some(since + chrono::Duration::seconds(30)),
        };
        let closed = BreakerView {
            state: "closed",
            since,
            failures: 2,
            open_until: None,
        };

        assert_eq!(
            line("whop", &open),
            "whop  state=open  since=2030-03-17T17:46:40+00:00  failures=0  open_until=2030-03-17T17:47:10+00:00"
        );
        assert_eq!(
            line("stripe", &closed),
            "stripe  state=closed  since=2030-03-17T17:46:40+00:00  failures=2  open_until=-"
        );
    }
}
