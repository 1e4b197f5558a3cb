//! Gumroad's sync (`docs/architecture.md`, "Gumroad sync"; `docs/providers.md`, "Gumroad"): a
//! connection's products, each product's subscribers and its sales, as the pages of one run
//! ([`MembershipSource`] for a [`SyncProvider::Gumroad`] scope).
//!
//! The run's cursor is a [`Cursor`] in JSON and moves through three phases, one Gumroad call a
//! page: the products (`GET /v2/products`, page_key pages or, as older deployments answer, all
//! at once), then each product's subscribers (`GET /v2/products/{id}/subscribers`, page_key),
//! their `status` read as the pings would leave it ([`subscriber_facts`]), then the sales
//! (`GET /v2/sales?after=&before=`, page_key) as sales events. A sales query Gumroad answers
//! with "query timed out" is asked again over the first half of its date range, the second half
//! kept for later ([`DateRange::halves`]), at most [`MAX_NARROWINGS`] times a page and down to a
//! single day.
//!
//! Calls go through the connection's own token ([`Connector::with_token`]: a 401 refreshes once,
//! then marks the connection `needs_reconnect` and the run fails). The listing's end records the
//! connection's `initial_sync` as `completed`.

use chrono::{DateTime, Days, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::api::{GumroadError, Listing};
use super::connect::{ConnectError, Connector, INITIAL_SYNC_COMPLETED};
use super::observe::subscriber_facts;
use crate::domain::connections::{Connection, ConnectionStatus};
use crate::domain::ports::{
    Clock, ConnectionStore, ListedMembership, MembershipPage, MembershipSource,
    MembershipSourceError, SecretSource, SourceFailure,
};
use crate::domain::sales::SaleEvent;
use crate::domain::sync::{Scope, SyncProvider};
use crate::domain::time::parse_time_str;
use crate::providers::client::Admission;

/// The platform name of Gumroad's sales events.
pub const PLATFORM: &str = "gumroad";
/// The first day a sales listing asks for (before Gumroad's first sales).
pub const SALES_SINCE: NaiveDate = match NaiveDate::from_ymd_opt(2011, 1, 1) {
    Some(day) => day,
    None => NaiveDate::MIN,
};
/// How many times one page narrows a timed out sales query.
pub const MAX_NARROWINGS: u32 = 16;

/// A sales query's days, both included (`after=` and `before=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DateRange {
    pub after: NaiveDate,
    pub before: NaiveDate,
}

impl DateRange {
    /// The range split in two, each shorter, together covering it (they share the middle day,
    /// so whichever way Gumroad counts the bounds no day falls between them; a sale read twice
    /// is one sales event); `None` for a single day.
    pub fn halves(self) -> Option<(Self, Self)> {
        let days = u64::try_from((self.before - self.after).num_days()).ok()?;
        let (first_end, second_start) = match days {
            0 => return None,
            1 => (self.after, self.before),
            _ => {
                let middle = self.after.checked_add_days(Days::new(days / 2))?;
                (middle, middle)
            }
        };
        Some((
            Self {
                after: self.after,
                before: first_end,
            },
            Self {
                after: second_start,
                before: self.before,
            },
        ))
    }

    fn query(self) -> Vec<(&'static str, String)> {
        vec![
            ("after", self.after.format("%Y-%m-%d").to_string()),
            ("before", self.before.format("%Y-%m-%d").to_string()),
        ]
    }
}

/// Where a Gumroad run is: the page job's cursor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum Cursor {
    Products {
        #[serde(default)]
        page_key: Option<String>,
        /// The products found on earlier pages.
        #[serde(default)]
        found: Vec<String>,
    },
    Subscribers {
        products: Vec<String>,
        /// The product whose subscribers this page lists.
        index: usize,
        #[serde(default)]
        page_key: Option<String>,
    },
    Sales {
        range: DateRange,
        #[serde(default)]
        page_key: Option<String>,
        /// Ranges still to list, the next last.
        #[serde(default)]
        rest: Vec<DateRange>,
    },
}

impl Cursor {
    fn products_done(products: Vec<String>, today: NaiveDate) -> Self {
        if products.is_empty() {
            Self::first_sales(today)
        } else {
            Self::Subscribers {
                products,
                index: 0,
                page_key: None,
            }
        }
    }

    fn first_sales(today: NaiveDate) -> Self {
        Self::Sales {
            range: DateRange {
                after: SALES_SINCE,
                before: today.checked_add_days(Days::new(1)).unwrap_or(today),
            },
            page_key: None,
            rest: Vec::new(),
        }
    }
}

/// A timed out sales query narrowed: the first half of `range` to ask for now, the second half
/// pushed onto `rest` (listed after it); `None` for a single day.
pub fn narrow(
    mut range: DateRange,
    mut rest: Vec<DateRange>,
) -> Option<(DateRange, Vec<DateRange>)> {
    let (first, second) = range.halves()?;
    rest.push(second);
    range = first;
    Some((range, rest))
}

/// Gumroad's listing for sync, over the connections' [`Connector`].
pub struct GumroadSource<A, S, C, T, K> {
    pub connector: Connector<A, S, C, T>,
    pub clock: K,
}

fn failure(
    failure: SourceFailure,
    code: &'static str,
    message: impl Into<String>,
) -> MembershipSourceError {
    MembershipSourceError {
        failure,
        code,
        message: message.into(),
    }
}

impl From<GumroadError> for MembershipSourceError {
    fn from(error: GumroadError) -> Self {
        let message = error.to_string();
        match error {
            GumroadError::Unauthorized => {
                failure(SourceFailure::Refused, "needs_reconnect", message)
            }
            GumroadError::Rejected(_) => {
                failure(SourceFailure::Refused, "provider_refused", message)
            }
            GumroadError::QueryTimedOut => {
                failure(SourceFailure::Refused, "query_timed_out", message)
            }
            GumroadError::RateLimited { retry_after } => failure(
                SourceFailure::RateLimited { retry_after },
                "rate_limited",
                message,
            ),
            GumroadError::Unavailable(code) if code == crate::domain::emergency::REASON => failure(
                SourceFailure::Suspended,
                crate::domain::emergency::REASON,
                message,
            ),
            GumroadError::Unavailable(_) => {
                failure(SourceFailure::Unavailable, "provider_unavailable", message)
            }
        }
    }
}

impl From<ConnectError> for MembershipSourceError {
    fn from(error: ConnectError) -> Self {
        let message = error.to_string();
        match error {
            ConnectError::Unavailable(code) => GumroadError::Unavailable(code).into(),
            ConnectError::Seal(_) | ConnectError::Dependency(_) => failure(
                SourceFailure::Unavailable,
                "connections_unavailable",
                message,
            ),
            other => failure(SourceFailure::Refused, other.reason_code(), message),
        }
    }
}

impl<A: Admission, S: SecretSource, C: Clock, T: ConnectionStore, K: Clock>
    GumroadSource<A, S, C, T, K>
{
    /// The scope's connection, active and still to the scope's seller.
    async fn connection(&self, scope: &Scope) -> Result<Connection, MembershipSourceError> {
        let SyncProvider::Gumroad { seller_id } = &scope.provider else {
            return Err(failure(
                SourceFailure::Refused,
                "not_gumroad",
                "not a Gumroad scope",
            ));
        };
        let connection = self
            .connector
            .store
            .get(&scope.company_id)
            .await
            .map_err(|e| {
                failure(
                    SourceFailure::Unavailable,
                    "connections_unavailable",
                    e.to_string(),
                )
            })?
            .filter(|c| c.seller_id == *seller_id)
            .ok_or_else(|| {
                failure(
                    SourceFailure::Refused,
                    "not_connected",
                    "the company's Gumroad connection is gone",
                )
            })?;
        if connection.status != ConnectionStatus::Active {
            return Err(failure(
                SourceFailure::Refused,
                "needs_reconnect",
                "the connection needs to be made again",
            ));
        }
        Ok(connection)
    }

    /// One page of a listing with the connection's token (refreshed once on a 401).
    async fn page(
        &self,
        connection: &Connection,
        path: &str,
        query: &[(&'static str, String)],
        page_key: Option<&str>,
    ) -> Result<Listing, GumroadError> {
        let api = &self.connector.api;
        let outcome = self
            .connector
            .with_token(connection, |token| async move {
                // Only a 401 goes to `with_token`; every other answer comes back as it is.
                match api.list(&token, path, query, page_key).await {
                    Err(GumroadError::Unauthorized) => Err(GumroadError::Unauthorized),
                    other => Ok(other),
                }
            })
            .await;
        match outcome {
            Ok(listing) => listing,
            Err(ConnectError::NeedsReconnect) => Err(GumroadError::Unauthorized),
            Err(ConnectError::Unavailable(code)) => Err(GumroadError::Unavailable(code)),
            Err(other) => Err(GumroadError::Unavailable(other.reason_code().to_owned())),
        }
    }

    async fn list(
        &self,
        scope: &Scope,
        cursor: Option<&str>,
    ) -> Result<MembershipPage, MembershipSourceError> {
        let connection = self.connection(scope).await?;
        let today = self.clock.now().date_naive();
        let cursor = match cursor {
            None => Cursor::Products {
                page_key: None,
                found: Vec::new(),
            },
            Some(text) => serde_json::from_str(text).map_err(|e| {
                failure(
                    SourceFailure::Decode,
                    "bad_cursor",
                    format!("not a Gumroad cursor: {e}"),
                )
            })?,
        };
        let mut page = MembershipPage::default();
        let next = match cursor {
            Cursor::Products {
                page_key,
                mut found,
            } => {
                let mut listing = self
                    .page(&connection, "/v2/products", &[], page_key.as_deref())
                    .await?;
                found.extend(
                    listing
                        .records("products")
                        .iter()
                        .filter_map(|p| text(p, "id")),
                );
                Some(match listing.next_page_key {
                    Some(key) => Cursor::Products {
                        page_key: Some(key),
                        found,
                    },
                    None => Cursor::products_done(found, today),
                })
            }
            Cursor::Subscribers {
                products,
                index,
                page_key,
            } => {
                let Some(product) = products.get(index) else {
                    return Err(failure(
                        SourceFailure::Decode,
                        "bad_cursor",
                        "no such product",
                    ));
                };
                let path = format!(
                    "/v2/products/{}/subscribers",
                    url::form_urlencoded::byte_serialize(product.as_bytes()).collect::<String>()
                );
                let mut listing = self
                    .page(&connection, &path, &[], page_key.as_deref())
                    .await?;
                page.memberships = listing
                    .records("subscribers")
                    .iter()
                    .filter_map(|s| subscriber(s, &scope.company_id, product))
                    .collect();
                Some(match listing.next_page_key {
                    Some(key) => Cursor::Subscribers {
                        products,
                        index,
                        page_key: Some(key),
                    },
                    None if index + 1 < products.len() => Cursor::Subscribers {
                        products,
                        index: index + 1,
                        page_key: None,
                    },
                    None => Cursor::first_sales(today),
                })
            }
            Cursor::Sales {
                mut range,
                mut page_key,
                mut rest,
            } => {
                let mut narrowings = 0;
                let mut listing = loop {
                    match self
                        .page(
                            &connection,
                            "/v2/sales",
                            &range.query(),
                            page_key.as_deref(),
                        )
                        .await
                    {
                        Err(GumroadError::QueryTimedOut) if narrowings < MAX_NARROWINGS => {
                            let Some((first, left)) = narrow(range, rest.clone()) else {
                                return Err(GumroadError::QueryTimedOut.into());
                            };
                            tracing::info!(after = %first.after, before = %first.before, "Gumroad's sales query timed out; the range narrowed");
                            (range, rest, page_key) = (first, left, None);
                            narrowings += 1;
                        }
                        other => break other?,
                    }
                };
                page.sales = listing
                    .records("sales")
                    .iter()
                    .filter_map(|s| sale(s, &scope.company_id))
                    .collect();
                match listing.next_page_key {
                    Some(key) => Some(Cursor::Sales {
                        range,
                        page_key: Some(key),
                        rest,
                    }),
                    None => rest.pop().map(|next| Cursor::Sales {
                        range: next,
                        page_key: None,
                        rest,
                    }),
                }
            }
        };
        page.progressed = next.is_some();
        page.next_cursor = match next {
            Some(next) => Some(
                serde_json::to_string(&next)
                    .map_err(|e| failure(SourceFailure::Decode, "bad_cursor", e.to_string()))?,
            ),
            None => {
                // Best effort: the run's own record says the same.
                if let Err(error) = self
                    .connector
                    .store
                    .set_initial_sync(&scope.company_id, INITIAL_SYNC_COMPLETED)
                    .await
                {
                    tracing::warn!(%error, "the connection's initial sync could not be marked completed");
                }
                None
            }
        };
        Ok(page)
    }
}

impl<A: Admission, S: SecretSource, C: Clock, T: ConnectionStore, K: Clock> MembershipSource
    for GumroadSource<A, S, C, T, K>
{
    /// Users' own syncs of one membership are Whop's.
    fn is_membership_id(&self, _: &str) -> bool {
        false
    }

    async fn list_memberships(
        &self,
        scope: &Scope,
        cursor: Option<&str>,
    ) -> Result<MembershipPage, MembershipSourceError> {
        self.list(scope, cursor).await
    }

    async fn get_membership(
        &self,
        _: &str,
    ) -> Result<Option<ListedMembership>, MembershipSourceError> {
        Ok(None)
    }
}

fn text(value: &Value, key: &str) -> Option<String> {
    match value.get(key)? {
        Value::String(text) if !text.is_empty() => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

fn int(value: &Value, key: &str) -> Option<i64> {
    match value.get(key)? {
        Value::Number(number) => number.as_i64(),
        Value::String(text) => text.parse().ok(),
        _ => None,
    }
}

fn time(value: &Value, key: &str) -> Option<DateTime<Utc>> {
    value.get(key)?.as_str().and_then(parse_time_str)
}

/// A subscriber as sync compares it: its status as the pings would leave it, at the latest time
/// its record shows a change (`created_at`, `user_requested_cancellation_at`, `cancelled_at`,
/// `failed_at`, `ended_at`; Gumroad gives no `updated_at`).
pub fn subscriber(value: &Value, company_id: &str, product_id: &str) -> Option<ListedMembership> {
    let id = text(value, "id")?;
    let facts = subscriber_facts(value.get("status")?.as_str()?);
    let updated_at = [
        "created_at",
        "user_requested_cancellation_at",
        "cancelled_at",
        "failed_at",
        "ended_at",
    ]
    .into_iter()
    .filter_map(|field| time(value, field))
    .max();
    Some(ListedMembership {
        id,
        status: facts.status,
        cancel_at_period_end: facts.cancel_at_period_end,
        valid: facts.valid,
        updated_at,
        renewal_period_start: None,
        renewal_period_end: None,
        user_id: text(value, "user_id"),
        company_id: Some(company_id.to_owned()),
        product_id: text(value, "product_id").or_else(|| Some(product_id.to_owned())),
        plan_id: None,
        payment: None,
    })
}

/// A sale as a sales event: `price` in cents less `gumroad_fee` is the net, `quantity` the units.
pub fn sale(value: &Value, company_id: &str) -> Option<SaleEvent> {
    let sale_id = text(value, "id")?;
    let Some(date) = time(value, "created_at") else {
        tracing::warn!(sale.id = %sale_id, "a Gumroad sale without created_at was not recorded");
        return None;
    };
    let gross = int(value, "price")?;
    Some(SaleEvent {
        platform: PLATFORM.to_owned(),
        company_id: company_id.to_owned(),
        sale_id,
        date,
        product_id: text(value, "product_id"),
        product_name: text(value, "product_name"),
        units: int(value, "quantity")
            .and_then(|q| u32::try_from(q).ok())
            .map_or(1, i64::from),
        gross_minor: gross,
        net_minor: int(value, "gumroad_fee").map(|fee| gross - fee),
        currency: text(value, "currency")
            .unwrap_or_else(|| "usd".to_owned())
            .to_ascii_lowercase(),
        refunded: value
            .get("refunded")
            .and_then(Value::as_bool)
            .unwrap_or(false)
            || value
                .get("partially_refunded")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        kdp: None,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn day(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    fn range(after: &str, before: &str) -> DateRange {
        DateRange {
            after: day(after),
            before: day(before),
        }
    }

    #[test]
    fn a_range_halves_into_shorter_ranges_that_cover_it_down_to_one_day() {
        let (first, second) = range("2024-01-01", "2024-01-31").halves().unwrap();
        assert_eq!(first, range("2024-01-01", "2024-01-16"));
        assert_eq!(second, range("2024-01-16", "2024-01-31"));
        let (first, second) = range("2024-01-01", "2024-01-02").halves().unwrap();
        assert_eq!(first, range("2024-01-01", "2024-01-01"));
        assert_eq!(second, range("2024-01-02", "2024-01-02"));
        assert_eq!(range("2024-01-01", "2024-01-01").halves(), None);
        // From Gumroad's first day to now, a single day is reached in a bounded number of halvings.
        let mut whole = range("2011-01-01", "2026-12-01");
        let mut halvings = 0;
        while let Some((first, _)) = whole.halves() {
            whole = first;
            halvings += 1;
        }
        assert!(halvings <= MAX_NARROWINGS, "{halvings}");
    }

    #[test]
    fn narrowing_lists_the_first_half_now_and_keeps_the_second_for_later() {
        let later = range("2025-01-01", "2025-12-31");
        let (now, rest) = narrow(range("2024-01-01", "2024-01-31"), vec![later]).unwrap();
        assert_eq!(now, range("2024-01-01", "2024-01-16"));
        assert_eq!(rest, vec![later, range("2024-01-16", "2024-01-31")]);
        assert_eq!(narrow(range("2024-01-01", "2024-01-01"), Vec::new()), None);
    }

    #[test]
    fn a_sale_becomes_a_sales_event_with_its_amounts_in_cents() {
        let event = sale(
            &json!({"id": "s1", "created_at": "2025-01-02T03:04:05Z", "product_id": "p1",
                "product_name": "Book", "price": 1200, "gumroad_fee": 150, "currency": "USD",
                "quantity": 2, "refunded": false}),
            "biz_1",
        )
        .unwrap();
        assert_eq!(event.key(), "gumroad#s1");
        assert_eq!((event.gross_minor, event.net_minor), (1200, Some(1050)));
        assert_eq!((event.units, event.currency.as_str()), (2, "usd"));
        assert_eq!(sale(&json!({"id": "s2", "price": 1}), "biz_1"), None);
    }

    #[test]
    fn a_subscriber_is_versioned_by_its_latest_change() {
        let listed = subscriber(
            &json!({"id": "sub1", "user_id": "u1", "status": "cancelled",
                "created_at": "2025-01-01T00:00:00Z", "cancelled_at": "2025-03-01T00:00:00Z"}),
            "biz_1",
            "p1",
        )
        .unwrap();
        assert_eq!(listed.status, "cancelled");
        assert_eq!(listed.valid, Some(false));
        assert_eq!(listed.product_id.as_deref(), Some("p1"));
        assert_eq!(listed.updated_at, parse_time_str("2025-03-01T00:00:00Z"));
    }
}
