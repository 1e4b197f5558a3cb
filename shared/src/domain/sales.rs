//! Sales events (`docs/architecture.md`, "Sales events"): one record per sale on a selling
//! platform (Gumroad's sales, read by its sync; rows of Amazon KDP's reports, read by
//! `providers::kdp`), with what royalty and revenue reports need: the platform, the date, the
//! product, the units, the amounts and the currency. A sale is stored once under
//! [`SaleEvent::key`], so reading it again (a second sync, a retried page, a report uploaded
//! twice) writes nothing new.
//!
//! What the fields hold per platform:
//!
//! | field | Gumroad | KDP |
//! |---|---|---|
//! | `sale_id` | Gumroad's sale id | [`kdp_sale_id`]: a digest of the fields that identify the row |
//! | `product_id` / `product_name` | product id / name | ASIN or ISBN / title |
//! | `units` | `quantity` (1 when absent) | net units sold (sold − refunded); 0 on a KENP row |
//! | `gross_minor` | what the buyer paid | the royalty (the creator's revenue) |
//! | `net_minor` | gross less Gumroad's fee, when it says | the royalty |
//! | `kdp` | absent | [`KdpDetail`]: marketplace, format, types, units, pages, prices |
//!
//! [`company_sales`] is the sales view (`GET /companies/{company_id}/sales`): the query checked
//! (every problem at once), the company's admin let in ([`crate::domain::companies::authorize`]),
//! the sales of the range read by date ([`SalesStore::sales_between`]), and [`summarize`]d into
//! units and revenue per platform and currency, and per day or month.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::domain::companies::{CompanyError, FieldProblem, authorize, check_company};
use crate::domain::ports::{Clock, CompanyAccess, SalesStore};
use crate::domain::state::Viewer;

/// One sale.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SaleEvent {
    /// `gumroad` or `kdp`.
    pub platform: String,
    /// The company the connected account sells for.
    pub company_id: String,
    /// The platform's id of the sale (KDP: [`kdp_sale_id`]).
    pub sale_id: String,
    /// When the sale was made (KDP: the row's day, or the report's month, at 00:00 UTC).
    pub date: DateTime<Utc>,
    /// Gumroad's product id; KDP's ASIN or ISBN.
    pub product_id: Option<String>,
    /// Gumroad's product name; KDP's title.
    pub product_name: Option<String>,
    /// Units sold (Gumroad's `quantity`, 1 when it says nothing; KDP's net units, which a
    /// period with more refunds than sales makes negative; 0 on a KENP row).
    pub units: i64,
    /// What the buyer paid (KDP: the royalty), in the currency's minor units
    /// ([`minor_unit_exponent`]).
    pub gross_minor: i64,
    /// What the seller receives after the platform's fee, in minor units, when it says (KDP: the
    /// royalty).
    pub net_minor: Option<i64>,
    /// ISO 4217, lower case (`xxx`, "no currency", on a KDP row that names none: KENP pages).
    pub currency: String,
    /// Refunded (wholly or partly) when read (KDP: units were refunded in the row).
    pub refunded: bool,
    /// What a KDP report row says beyond the common fields.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kdp: Option<KdpDetail>,
}

impl SaleEvent {
    /// The sale's identity: `<platform>#<sale id>` (unique within its company).
    pub fn key(&self) -> String {
        format!("{}#{}", self.platform, self.sale_id)
    }

    /// The day of the sale (UTC).
    pub fn day(&self) -> NaiveDate {
        self.date.date_naive()
    }

    /// KENP pages read (0 but on a KDP KENP row).
    pub fn kenp_pages(&self) -> u64 {
        self.kdp.as_ref().map_or(0, |kdp| kdp.kenp_pages)
    }
}

/// The platform name of KDP's sales.
pub const KDP: &str = "kdp";

/// What a book was sold as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KdpFormat {
    Ebook,
    Paperback,
    Hardcover,
    /// Kindle Edition Normalized Pages read (Kindle Unlimited and the lending library).
    Kenp,
}

impl KdpFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ebook => "ebook",
            Self::Paperback => "paperback",
            Self::Hardcover => "hardcover",
            Self::Kenp => "kenp",
        }
    }
}

impl fmt::Display for KdpFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A KDP report row's own fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KdpDetail {
    /// `Amazon.com`, `Amazon.co.uk`, … as the report writes it.
    pub marketplace: String,
    pub format: KdpFormat,
    /// `Standard`, `Free - Promotion`, `Standard - Paperback`, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_type: Option<String>,
    /// `70%`, `35%`, `60%`, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub royalty_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    pub units_sold: i64,
    pub units_refunded: i64,
    pub net_units: i64,
    pub kenp_pages: u64,
    /// Average list and offer price without tax, in minor units.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list_price_minor: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offer_price_minor: Option<i64>,
}

/// The fields that identify a KDP report row, and nothing else: two rows with equal identities
/// are the same sales, whichever report they were read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdpIdentity<'a> {
    pub day: NaiveDate,
    pub asin_isbn: &'a str,
    pub marketplace: &'a str,
    pub format: KdpFormat,
    pub transaction_type: Option<&'a str>,
    pub royalty_type: Option<&'a str>,
    pub currency: &'a str,
    /// 0 for the first row of a report with this identity, 1 for the next, …: a report that
    /// lists two rows identical in every identifying field keeps both.
    pub occurrence: u32,
}

/// A KDP row's `sale_id`: the first 128 bits (hex) of a SHA-256 over the identifying fields
/// ([`KdpIdentity`]), separated by a byte no field holds. Units, royalty and prices are not in
/// it: a re-uploaded or overlapping report restates the same row (KDP's rows are per day or
/// month, ASIN/ISBN, marketplace, format, transaction and royalty type; the prices are
/// averages), so it is counted once, and a corrected figure does not make a second sale. Text
/// fields are compared as the reader normalised them (trimmed; marketplace and types in lower
/// case).
pub fn kdp_sale_id(identity: &KdpIdentity<'_>) -> String {
    let day = identity.day.format("%Y-%m-%d").to_string();
    let occurrence = identity.occurrence.to_string();
    let fields: [&str; 8] = [
        &day,
        identity.asin_isbn,
        &identity.marketplace.to_ascii_lowercase(),
        identity.format.as_str(),
        &identity.transaction_type.unwrap_or("").to_ascii_lowercase(),
        &identity.royalty_type.unwrap_or("").to_ascii_lowercase(),
        &identity.currency.to_ascii_lowercase(),
        &occurrence,
    ];
    let mut digest = Sha256::new();
    for field in fields {
        digest.update(field.as_bytes());
        digest.update([0x1f]);
    }
    hex::encode(&digest.finalize()[..16])
}

/// Decimal places of a currency's minor unit (ISO 4217): 0 for JPY, KRW and the other
/// whole-unit currencies, 3 for the dinars, 2 otherwise. `currency` in any case.
pub fn minor_unit_exponent(currency: &str) -> u32 {
    const ZERO: [&str; 16] = [
        "bif", "clp", "djf", "gnf", "isk", "jpy", "kmf", "krw", "pyg", "rwf", "ugx", "uyi", "vnd",
        "vuv", "xaf", "xof",
    ];
    const THREE: [&str; 7] = ["bhd", "iqd", "jod", "kwd", "lyd", "omr", "tnd"];
    let currency = currency.to_ascii_lowercase();
    if ZERO.contains(&currency.as_str()) || currency == "xpf" || currency == "xxx" {
        0
    } else if THREE.contains(&currency.as_str()) {
        3
    } else {
        2
    }
}

/// How the sales view groups its periods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Group {
    Day,
    Month,
}

impl Group {
    /// The group named `text`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "day" => Some(Self::Day),
            "month" => Some(Self::Month),
            _ => None,
        }
    }

    /// The period `day` falls in: `2026-10-05` by day, `2026-10` by month.
    pub fn period(self, day: NaiveDate) -> String {
        match self {
            Self::Day => day.format("%Y-%m-%d").to_string(),
            Self::Month => format!("{:04}-{:02}", day.year(), day.month()),
        }
    }
}

/// The sales view's question: a company's sales from `from` to `to` (days, both included), of
/// one platform or all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SalesRange {
    pub company_id: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub platform: Option<String>,
}

/// The sums of some sales of one platform in one currency.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SalesTotals {
    /// Sales events (Gumroad: sales; KDP: report rows).
    pub sales: u64,
    /// Units (KDP: net units).
    pub units: i64,
    /// Gross revenue in minor units (KDP: royalty).
    pub revenue_minor: i64,
    /// What the seller receives in minor units: the net where the platform says it, else the
    /// gross.
    pub net_minor: i64,
    /// Refunded units (KDP only).
    #[serde(skip_serializing_if = "is_zero")]
    pub units_refunded: i64,
    /// KENP pages read (KDP only).
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub kenp_pages: u64,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

fn is_zero_u64(n: &u64) -> bool {
    *n == 0
}

impl SalesTotals {
    fn add(&mut self, sale: &SaleEvent) {
        self.sales += 1;
        self.units = self.units.saturating_add(sale.units);
        self.revenue_minor = self.revenue_minor.saturating_add(sale.gross_minor);
        self.net_minor = self
            .net_minor
            .saturating_add(sale.net_minor.unwrap_or(sale.gross_minor));
        if let Some(kdp) = &sale.kdp {
            self.units_refunded = self.units_refunded.saturating_add(kdp.units_refunded);
            self.kenp_pages = self.kenp_pages.saturating_add(kdp.kenp_pages);
        }
    }
}

/// One line of the sales view: a platform and currency, and the period when grouped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SalesLine {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub period: Option<String>,
    pub platform: String,
    pub currency: String,
    /// The currency's minor-unit exponent (2: cents), to read the amounts.
    pub exponent: u32,
    #[serde(flatten)]
    pub totals: SalesTotals,
}

/// `GET /companies/{company_id}/sales`'s answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SalesView {
    pub company_id: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<Group>,
    /// Per platform and currency over the whole range, by platform then currency.
    pub totals: Vec<SalesLine>,
    /// Per period, platform and currency, in that order; only when grouped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub periods: Option<Vec<SalesLine>>,
    /// Whether the range held more sales than one view reads; the figures cover the first ones
    /// by date.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
}

/// The sales view of `sales` (those of `range`, read by the store): sums per platform and
/// currency, and per period when `group` is given. Sales outside the range or of another
/// platform are left out, so the function does not trust its input's filtering.
pub fn summarize(
    range: &SalesRange,
    group: Option<Group>,
    sales: &[SaleEvent],
    truncated: bool,
) -> SalesView {
    let mut totals: BTreeMap<(String, String), SalesTotals> = BTreeMap::new();
    let mut periods: BTreeMap<(String, String, String), SalesTotals> = BTreeMap::new();
    let in_range = |sale: &&SaleEvent| {
        let day = sale.day();
        sale.company_id == range.company_id
            && range.from <= day
            && day <= range.to
            && range
                .platform
                .as_deref()
                .is_none_or(|platform| platform == sale.platform)
    };
    for sale in sales.iter().filter(in_range) {
        totals
            .entry((sale.platform.clone(), sale.currency.clone()))
            .or_default()
            .add(sale);
        if let Some(group) = group {
            periods
                .entry((
                    group.period(sale.day()),
                    sale.platform.clone(),
                    sale.currency.clone(),
                ))
                .or_default()
                .add(sale);
        }
    }
    let line = |period: Option<String>, platform: String, currency: String, totals| SalesLine {
        period,
        exponent: minor_unit_exponent(&currency),
        platform,
        currency,
        totals,
    };
    SalesView {
        company_id: range.company_id.clone(),
        from: range.from,
        to: range.to,
        platform: range.platform.clone(),
        group,
        totals: totals
            .into_iter()
            .map(|((platform, currency), sums)| line(None, platform, currency, sums))
            .collect(),
        periods: group.map(|_| {
            periods
                .into_iter()
                .map(|((period, platform, currency), sums)| {
                    line(Some(period), platform, currency, sums)
                })
                .collect()
        }),
        truncated,
    }
}

/// The platforms with sales events.
pub const PLATFORMS: [&str; 2] = ["gumroad", KDP];
/// The view's range when `from` is not given: this many days up to `to`.
pub const DEFAULT_SALES_DAYS: i64 = 30;
/// The longest range one view covers (about three years).
pub const MAX_SALES_DAYS: i64 = 1096;
/// The most sales one view reads (25 Query pages or so); past it the view says `truncated`.
pub const SALES_MAX_EVENTS: usize = 50_000;

/// `?platform=&from=&to=&group=` as given.
#[derive(Debug, Clone, Copy, Default)]
pub struct SalesQuery<'a> {
    pub platform: Option<&'a str>,
    pub from: Option<&'a str>,
    pub to: Option<&'a str>,
    pub group: Option<&'a str>,
}

/// The view's range and grouping, or every problem with the query: `to` defaults to `today`,
/// `from` to [`DEFAULT_SALES_DAYS`] days up to `to`.
pub fn parse_sales_query(
    company_id: &str,
    query: SalesQuery<'_>,
    today: NaiveDate,
) -> Result<(SalesRange, Option<Group>), Vec<FieldProblem>> {
    let mut problems = Vec::new();
    let mut day = |field: &str, text: Option<&str>| {
        let text = text?;
        let parsed = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok();
        if parsed.is_none() {
            problems.push(FieldProblem::new(
                field,
                "is not a date",
                "write it like 2026-10-01",
            ));
        }
        parsed
    };
    let to = day("to", query.to);
    let from = day("from", query.from);
    let platform = query.platform.and_then(|text| {
        let known = PLATFORMS.contains(&text);
        if !known {
            problems.push(FieldProblem::new(
                "platform",
                "is not a platform with sales",
                "use gumroad or kdp, or leave it out for every platform",
            ));
        }
        known.then(|| text.to_owned())
    });
    let group = query.group.and_then(|text| {
        let parsed = Group::parse(text);
        if parsed.is_none() {
            problems.push(FieldProblem::new(
                "group",
                "is not a grouping",
                "use day or month, or leave it out for totals only",
            ));
        }
        parsed
    });
    let to = to.unwrap_or(today);
    let from = from.unwrap_or(to - Duration::days(DEFAULT_SALES_DAYS - 1));
    if from > to {
        problems.push(FieldProblem::new(
            "from",
            "is after `to`",
            "give a `from` on or before `to`",
        ));
    } else if (to - from).num_days() >= MAX_SALES_DAYS {
        problems.push(FieldProblem::new(
            "from",
            format!("the range is longer than {MAX_SALES_DAYS} days"),
            "ask for a shorter range",
        ));
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let range = SalesRange {
        company_id: company_id.to_owned(),
        from,
        to,
        platform,
    };
    Ok((range, group))
}

/// `GET /companies/{company_id}/sales?platform=&from=&to=&group=`: the company's sales of the
/// range, summed per platform and currency (and per period when grouped), at most
/// [`SALES_MAX_EVENTS`] of them.
pub async fn company_sales(
    access: &impl CompanyAccess,
    store: &impl SalesStore,
    clock: &impl Clock,
    viewer: Viewer<'_>,
    company_id: &str,
    query: SalesQuery<'_>,
) -> Result<SalesView, CompanyError> {
    check_company(company_id)?;
    let (range, group) = parse_sales_query(company_id, query, clock.now().date_naive())
        .map_err(CompanyError::InvalidQuery)?;
    authorize(access, viewer, company_id).await?;
    let (sales, truncated) = store
        .sales_between(&range, SALES_MAX_EVENTS)
        .await
        .map_err(|error| {
            tracing::error!(%error, "the sales could not be read");
            CompanyError::Unavailable
        })?;
    Ok(summarize(&range, group, &sales, truncated))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    fn gumroad(id: &str, date: &str, cents: i64, fee: i64) -> SaleEvent {
        SaleEvent {
            platform: "gumroad".into(),
            company_id: "biz_1".into(),
            sale_id: id.into(),
            date: day(date).and_hms_opt(13, 5, 0).unwrap().and_utc(),
            product_id: None,
            product_name: None,
            units: 1,
            gross_minor: cents,
            net_minor: Some(cents - fee),
            currency: "usd".into(),
            refunded: false,
            kdp: None,
        }
    }

    fn kdp(date: &str, currency: &str, units: i64, royalty: i64, pages: u64) -> SaleEvent {
        let detail = KdpDetail {
            marketplace: "Amazon.com".into(),
            format: if pages > 0 {
                KdpFormat::Kenp
            } else {
                KdpFormat::Ebook
            },
            transaction_type: None,
            royalty_type: None,
            author: None,
            units_sold: units + 1,
            units_refunded: 1,
            net_units: units,
            kenp_pages: pages,
            list_price_minor: None,
            offer_price_minor: None,
        };
        SaleEvent {
            platform: KDP.into(),
            company_id: "biz_1".into(),
            sale_id: format!("{date}{currency}{pages}"),
            date: day(date).and_hms_opt(0, 0, 0).unwrap().and_utc(),
            product_id: Some("B000TEST".into()),
            product_name: None,
            units,
            gross_minor: royalty,
            net_minor: Some(royalty),
            currency: currency.into(),
            refunded: true,
            kdp: Some(detail),
        }
    }

    #[test]
    fn a_sale_is_keyed_by_its_platform_and_id_alone() {
        let sale = gumroad("s1", "2026-10-01", 500, 0);
        let refunded = SaleEvent {
            refunded: true,
            ..sale.clone()
        };
        assert_eq!(sale.key(), "gumroad#s1");
        assert_eq!(sale.key(), refunded.key());
    }

    #[test]
    fn a_kdp_sale_id_depends_on_the_identifying_fields_only_and_ignores_their_case() {
        let identity = KdpIdentity {
            day: day("2026-10-05"),
            asin_isbn: "B0TEST",
            marketplace: "Amazon.com",
            format: KdpFormat::Ebook,
            transaction_type: Some("Standard"),
            royalty_type: Some("70%"),
            currency: "USD",
            occurrence: 0,
        };
        let id = kdp_sale_id(&identity);
        assert_eq!(id.len(), 32);
        assert_eq!(
            id,
            kdp_sale_id(&KdpIdentity {
                marketplace: "amazon.com",
                currency: "usd",
                ..identity
            })
        );
        let others = [
            KdpIdentity {
                day: day("2026-10-06"),
                ..identity
            },
            KdpIdentity {
                asin_isbn: "B0OTHER",
                ..identity
            },
            KdpIdentity {
                marketplace: "Amazon.de",
                ..identity
            },
            KdpIdentity {
                format: KdpFormat::Paperback,
                ..identity
            },
            KdpIdentity {
                transaction_type: Some("Free - Promotion"),
                ..identity
            },
            KdpIdentity {
                royalty_type: Some("35%"),
                ..identity
            },
            KdpIdentity {
                currency: "EUR",
                ..identity
            },
            KdpIdentity {
                occurrence: 1,
                ..identity
            },
            KdpIdentity {
                transaction_type: None,
                ..identity
            },
        ];
        for other in others {
            assert_ne!(kdp_sale_id(&other), id, "{other:?}");
        }
    }

    #[test]
    fn the_query_defaults_to_thirty_days_to_today_and_lists_every_problem() {
        let today = day("2026-11-30");
        let (range, group) = parse_sales_query("biz_1", SalesQuery::default(), today).unwrap();
        assert_eq!(
            (range.from, range.to, group),
            (day("2026-11-01"), today, None)
        );
        let query = SalesQuery {
            platform: Some("kdp"),
            from: Some("2026-01-01"),
            to: Some("2026-03-31"),
            group: Some("month"),
        };
        let (range, group) = parse_sales_query("biz_1", query, today).unwrap();
        assert_eq!(range.platform.as_deref(), Some("kdp"));
        assert_eq!(group, Some(Group::Month));
        let bad = SalesQuery {
            platform: Some("etsy"),
            from: Some("yesterday"),
            to: Some("2026-13-01"),
            group: Some("week"),
        };
        let fields: Vec<String> = parse_sales_query("biz_1", bad, today)
            .unwrap_err()
            .into_iter()
            .map(|p| p.field)
            .collect();
        assert_eq!(fields, ["to", "from", "platform", "group"]);
        let backwards = SalesQuery {
            from: Some("2026-02-01"),
            to: Some("2026-01-01"),
            ..SalesQuery::default()
        };
        assert!(parse_sales_query("biz_1", backwards, today).is_err());
        let too_long = SalesQuery {
            from: Some("2020-01-01"),
            to: Some("2026-01-01"),
            ..SalesQuery::default()
        };
        assert!(parse_sales_query("biz_1", too_long, today).is_err());
    }

    #[test]
    fn minor_units_follow_the_currency() {
        assert_eq!(minor_unit_exponent("USD"), 2);
        assert_eq!(minor_unit_exponent("jpy"), 0);
        assert_eq!(minor_unit_exponent("KWD"), 3);
        assert_eq!(minor_unit_exponent("eur"), 2);
    }

    #[test]
    fn the_view_sums_per_platform_and_currency_and_per_month_within_the_range_only() {
        let sales = [
            gumroad("a", "2026-09-30", 1000, 100),
            gumroad("b", "2026-10-01", 500, 50),
            gumroad("c", "2026-10-31", 700, 70),
            kdp("2026-10-02", "usd", 3, 630, 0),
            kdp("2026-10-02", "xxx", 0, 0, 120),
            kdp("2026-11-01", "jpy", 2, 400, 0),
            kdp("2026-11-02", "jpy", -1, -200, 0),
            kdp("2026-11-03", "usd", 9, 999, 0),
        ];
        let range = SalesRange {
            company_id: "biz_1".into(),
            from: day("2026-10-01"),
            to: day("2026-11-02"),
            platform: None,
        };
        let view = summarize(&range, Some(Group::Month), &sales, false);
        let lines = |lines: &[SalesLine]| {
            lines
                .iter()
                .map(|l| {
                    (
                        l.period.clone().unwrap_or_default(),
                        l.platform.clone(),
                        l.currency.clone(),
                        l.totals.sales,
                        l.totals.units,
                        l.totals.revenue_minor,
                        l.totals.net_minor,
                        l.totals.kenp_pages,
                    )
                })
                .collect::<Vec<_>>()
        };
        let t = |p: &str, pl: &str, c: &str, s, u, r, n, k| {
            (p.to_owned(), pl.to_owned(), c.to_owned(), s, u, r, n, k)
        };
        assert_eq!(
            lines(&view.totals),
            vec![
                t("", "gumroad", "usd", 2, 2, 1200, 1080, 0),
                t("", "kdp", "jpy", 2, 1, 200, 200, 0),
                t("", "kdp", "usd", 1, 3, 630, 630, 0),
                t("", "kdp", "xxx", 1, 0, 0, 0, 120),
            ]
        );
        assert_eq!(
            lines(view.periods.as_deref().unwrap()),
            vec![
                t("2026-10", "gumroad", "usd", 2, 2, 1200, 1080, 0),
                t("2026-10", "kdp", "usd", 1, 3, 630, 630, 0),
                t("2026-10", "kdp", "xxx", 1, 0, 0, 0, 120),
                t("2026-11", "kdp", "jpy", 2, 1, 200, 200, 0),
            ]
        );
        assert_eq!(view.totals[1].exponent, 0);

        let kdp_by_day = summarize(
            &SalesRange {
                platform: Some(KDP.into()),
                ..range.clone()
            },
            Some(Group::Day),
            &sales,
            false,
        );
        assert!(kdp_by_day.totals.iter().all(|l| l.platform == KDP));
        let days: Vec<_> = kdp_by_day
            .periods
            .unwrap()
            .iter()
            .map(|l| l.period.clone().unwrap())
            .collect();
        assert_eq!(
            days,
            ["2026-10-02", "2026-10-02", "2026-11-01", "2026-11-02"]
        );
        let ungrouped = summarize(&range, None, &sales, true);
        assert!(ungrouped.periods.is_none() && ungrouped.truncated);
    }
}
