//! The row mapper: one data row under a [`Header`] → one [`SaleEvent`], or the reason it was
//! rejected (the column, never the cell's value).

use std::collections::HashMap;

use chrono::NaiveDate;

use super::fields::Field;
use super::header::Header;
use super::values::{self, Cell, Unreadable};
use crate::domain::sales::{
    KDP, KdpDetail, KdpFormat, KdpIdentity, SaleEvent, kdp_sale_id, minor_unit_exponent,
};

/// Characters kept of a title or an author; of an identifier, a marketplace or a type.
const MAX_NAME_CHARS: usize = 300;
const MAX_CODE_CHARS: usize = 64;
/// "No currency" (ISO 4217): a row without a currency and without money (KENP pages).
const NO_CURRENCY: &str = "xxx";

/// What a sheet's name says about its rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SheetKind {
    /// Rows of every format, told apart by their types (Combined Sales, a CSV export).
    Mixed,
    /// One format's sheet of the Prior Month Royalties workbook (or KENP Read).
    Only(KdpFormat),
    /// Total Earnings: the other sheets summed again; read only when they are absent.
    Summary,
}

impl SheetKind {
    /// The kind of the sheet called `name`.
    pub fn of(name: &str) -> Self {
        let name = name.to_lowercase();
        if name.contains("total earnings") {
            Self::Summary
        } else if name.contains("kenp") {
            Self::Only(KdpFormat::Kenp)
        } else if name.contains("paperback") {
            Self::Only(KdpFormat::Paperback)
        } else if name.contains("hardcover") {
            Self::Only(KdpFormat::Hardcover)
        } else if name.contains("ebook") {
            Self::Only(KdpFormat::Ebook)
        } else {
            Self::Mixed
        }
    }
}

/// What a row was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mapped {
    Sale(Box<SaleEvent>),
    /// A totals row (no ASIN/ISBN, no marketplace, a cell starting with "Total"): not data.
    Totals,
}

/// What rows of one sheet share.
#[derive(Debug)]
pub struct SheetRows<'a> {
    pub company_id: &'a str,
    pub kind: SheetKind,
    pub header: Header,
    /// The report's month, for rows without a date column (title rows or the file name).
    pub period: Option<NaiveDate>,
}

/// How many rows of a report had each identity so far ([`KdpIdentity::occurrence`]).
pub type Occurrences = HashMap<String, u32>;

type Reason = String;

fn unreadable(field: Field, what: &str) -> impl Fn(Unreadable) -> Reason {
    move |_| format!("{} is not {what}", field.name())
}

fn missing(field: Field) -> Reason {
    format!("{} is missing", field.name())
}

/// The row's text of `field`, cut to `max` characters.
fn text(rows: &SheetRows<'_>, cells: &[Cell], field: Field, max: usize) -> Option<String> {
    rows.header
        .cell(cells, field)
        .text()
        .map(|text| text.chars().take(max).collect())
}

fn count(rows: &SheetRows<'_>, cells: &[Cell], field: Field) -> Result<Option<i64>, Reason> {
    values::count(rows.header.cell(cells, field)).map_err(unreadable(field, "a whole number"))
}

fn money(
    rows: &SheetRows<'_>,
    cells: &[Cell],
    field: Field,
    exponent: u32,
) -> Result<Option<i64>, Reason> {
    values::money(rows.header.cell(cells, field), exponent).map_err(unreadable(field, "an amount"))
}

/// Maps one data row (`cells`, as many as the sheet has columns or fewer).
///
/// # Errors
/// The reason, in words fit for the creator, when the row cannot be a sale.
pub fn map_row(
    rows: &SheetRows<'_>,
    cells: &[Cell],
    occurrences: &mut Occurrences,
) -> Result<Mapped, Reason> {
    let id = [Field::AsinIsbn, Field::Isbn, Field::Asin]
        .into_iter()
        .find_map(|f| text(rows, cells, f, MAX_CODE_CHARS));
    let marketplace = text(rows, cells, Field::Marketplace, MAX_CODE_CHARS);
    if id.is_none() && marketplace.is_none() && is_totals(cells) {
        return Ok(Mapped::Totals);
    }
    let id = id.ok_or_else(|| missing(Field::AsinIsbn))?;
    let marketplace = marketplace.ok_or_else(|| missing(Field::Marketplace))?;
    let transaction_type = text(rows, cells, Field::TransactionType, MAX_CODE_CHARS);
    let royalty_type = text(rows, cells, Field::RoyaltyType, MAX_CODE_CHARS);
    let payout_plan = text(rows, cells, Field::PayoutPlan, MAX_CODE_CHARS);
    let format = format_of(
        rows,
        [&transaction_type, &royalty_type, &payout_plan]
            .into_iter()
            .flatten(),
    );

    let day = match rows.header.column(Field::Date) {
        Some(_) => values::date(rows.header.cell(cells, Field::Date))
            .map_err(unreadable(Field::Date, "a date (YYYY-MM-DD)"))?,
        None => None,
    }
    .or(rows.period)
    .ok_or_else(|| {
        "the row has no date, and neither the title rows nor the file name name the month"
            .to_owned()
    })?;

    let currency = match text(rows, cells, Field::Currency, MAX_CODE_CHARS) {
        Some(code) if code.len() == 3 && code.chars().all(|c| c.is_ascii_alphabetic()) => {
            Some(code.to_ascii_lowercase())
        }
        Some(_) => return Err(unreadable(Field::Currency, "a currency code")(Unreadable)),
        None => None,
    };
    let exponent = minor_unit_exponent(currency.as_deref().unwrap_or("usd"));
    let royalty = money(rows, cells, Field::Royalty, exponent)?.unwrap_or(0);
    if currency.is_none() && royalty != 0 {
        return Err(missing(Field::Currency));
    }
    let currency = currency.unwrap_or_else(|| NO_CURRENCY.to_owned());
    let list_price = money(rows, cells, Field::ListPrice, exponent)?;
    let offer_price = money(rows, cells, Field::OfferPrice, exponent)?;

    let either = count(rows, cells, Field::NetUnitsOrKenp)?;
    let (units_sold, units_refunded, net_units, kenp_pages) = if format == KdpFormat::Kenp {
        let pages = count(rows, cells, Field::KenpPages)?
            .or(either)
            .unwrap_or(0)
            .max(0);
        (0, 0, 0, u64::try_from(pages).unwrap_or(0))
    } else {
        let sold = count(rows, cells, Field::UnitsSold)?;
        let refunded = count(rows, cells, Field::UnitsRefunded)?.unwrap_or(0);
        let net = count(rows, cells, Field::NetUnits)?.or(either);
        let sold_or_net = sold.or(net).unwrap_or(0);
        let net = net.unwrap_or(sold_or_net - refunded);
        (sold.unwrap_or(net + refunded), refunded, net, 0)
    };

    let mut identity = KdpIdentity {
        day,
        asin_isbn: &id,
        marketplace: &marketplace,
        format,
        transaction_type: transaction_type.as_deref(),
        royalty_type: royalty_type.as_deref(),
        currency: &currency,
        occurrence: 0,
    };
    let first = kdp_sale_id(&identity);
    let seen = occurrences.entry(first.clone()).or_insert(0);
    identity.occurrence = *seen;
    *seen = seen.saturating_add(1);
    let sale_id = if identity.occurrence == 0 {
        first
    } else {
        kdp_sale_id(&identity)
    };

    Ok(Mapped::Sale(Box::new(SaleEvent {
        platform: KDP.to_owned(),
        company_id: rows.company_id.to_owned(),
        sale_id,
        date: day.and_time(chrono::NaiveTime::MIN).and_utc(),
        product_id: Some(id.clone()),
        product_name: text(rows, cells, Field::Title, MAX_NAME_CHARS),
        units: net_units,
        gross_minor: royalty,
        net_minor: Some(royalty),
        currency,
        refunded: units_refunded > 0,
        kdp: Some(KdpDetail {
            marketplace,
            format,
            transaction_type,
            royalty_type,
            author: text(rows, cells, Field::Author, MAX_NAME_CHARS),
            units_sold,
            units_refunded,
            net_units,
            kenp_pages,
            list_price_minor: list_price,
            offer_price_minor: offer_price,
        }),
    })))
}

/// The row's format: the sheet's, or on a mixed sheet the one its types name (`Paperback`,
/// `Hardcover`, `KENP`/`Kindle Unlimited`), an eBook otherwise; a sheet whose only count is
/// KENP pages holds KENP rows.
fn format_of<'a>(rows: &SheetRows<'_>, types: impl Iterator<Item = &'a String>) -> KdpFormat {
    if let SheetKind::Only(format) = rows.kind {
        return format;
    }
    let header = &rows.header;
    if header.has(Field::KenpPages) && !header.has(Field::UnitsSold) && !header.has(Field::NetUnits)
    {
        return KdpFormat::Kenp;
    }
    for kind in types {
        let kind = kind.to_lowercase();
        if kind.contains("paperback") {
            return KdpFormat::Paperback;
        }
        if kind.contains("hardcover") {
            return KdpFormat::Hardcover;
        }
        if kind.contains("kenp") || kind.contains("kindle unlimited") {
            return KdpFormat::Kenp;
        }
    }
    KdpFormat::Ebook
}

fn is_totals(cells: &[Cell]) -> bool {
    cells.iter().any(|cell| match cell {
        Cell::Text(text) => text.trim().to_lowercase().starts_with("total"),
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::kdp::header::header_of;

    fn cells(values: &[&str]) -> Vec<Cell> {
        values.iter().map(|c| Cell::Text((*c).to_owned())).collect()
    }

    fn sheet(kind: SheetKind, header: &[&str], period: Option<NaiveDate>) -> SheetRows<'static> {
        SheetRows {
            company_id: "biz_1",
            kind,
            header: header_of(1, &cells(header)).unwrap(),
            period,
        }
    }

    fn sale(mapped: Result<Mapped, Reason>) -> SaleEvent {
        match mapped {
            Ok(Mapped::Sale(sale)) => *sale,
            other => panic!("{other:?}"),
        }
    }

    const COMBINED: [&str; 11] = [
        "Royalty Date",
        "Title",
        "ASIN/ISBN",
        "Marketplace",
        "Royalty Type",
        "Transaction Type",
        "Units Sold",
        "Units Refunded",
        "Net Units Sold",
        "Royalty",
        "Currency",
    ];

    #[test]
    fn a_combined_sales_row_maps_to_a_sale_and_its_twin_gets_its_own_key() {
        let rows = sheet(SheetKind::Mixed, &COMBINED, None);
        let mut seen = Occurrences::new();
        let row = cells(&[
            "2026-10-05",
            "A Book",
            "1234567890",
            "Amazon.co.uk",
            "60%",
            "Standard - Paperback",
            "3",
            "1",
            "2",
            "4.20",
            "GBP",
        ]);
        let first = sale(map_row(&rows, &row, &mut seen));
        assert_eq!(first.units, 2);
        assert_eq!(first.gross_minor, 420);
        assert_eq!(first.currency, "gbp");
        assert!(first.refunded);
        let detail = first.kdp.as_ref().unwrap();
        assert_eq!(detail.format, KdpFormat::Paperback);
        assert_eq!((detail.units_sold, detail.units_refunded), (3, 1));
        let twin = sale(map_row(&rows, &row, &mut seen));
        assert_ne!(twin.sale_id, first.sale_id);
        let again = sale(map_row(&rows, &row, &mut Occurrences::new()));
        assert_eq!(again.sale_id, first.sale_id);
    }

    #[test]
    fn bad_rows_say_which_column_and_totals_rows_are_not_data() {
        let rows = sheet(SheetKind::Mixed, &COMBINED, None);
        let mut seen = Occurrences::new();
        let base = [
            "2026-10-05",
            "A Book",
            "B0TEST",
            "Amazon.com",
            "70%",
            "Standard",
            "1",
            "0",
            "1",
            "2.09",
            "USD",
        ];
        let with = |column: usize, value: &str| {
            let mut row = base;
            row[column] = value;
            cells(&row)
        };
        let cases = [
            (
                with(0, "yesterday"),
                "Royalty Date is not a date (YYYY-MM-DD)",
            ),
            (with(2, "N/A"), "ASIN/ISBN is missing"),
            (with(6, "1.5"), "Units Sold is not a whole number"),
            (with(9, "lots"), "Royalty is not an amount"),
            (with(10, "US Dollar"), "Currency is not a currency code"),
            (with(10, ""), "Currency is missing"),
        ];
        for (row, reason) in cases {
            assert_eq!(map_row(&rows, &row, &mut seen), Err(reason.to_owned()));
        }
        let totals = cells(&["", "Total", "", "", "", "", "5", "0", "5", "10.45", "USD"]);
        assert_eq!(map_row(&rows, &totals, &mut seen), Ok(Mapped::Totals));
    }

    #[test]
    fn kenp_rows_count_pages_and_no_units_and_a_sheet_without_dates_takes_its_period() {
        let period = NaiveDate::from_ymd_opt(2026, 10, 1);
        let rows = sheet(
            SheetKind::Summary,
            &[
                "ASIN/ISBN",
                "Marketplace",
                "Net Units Sold or KENP Read**",
                "Royalty Type",
                "Payout Plan",
                "Currency",
                "Earnings",
            ],
            period,
        );
        let kenp = sale(map_row(
            &rows,
            &cells(&["B0TEST", "Amazon.de", "1,500", "N/A", "KENP", "EUR", "6.75"]),
            &mut Occurrences::new(),
        ));
        assert_eq!((kenp.units, kenp.kenp_pages()), (0, 1500));
        assert_eq!(kenp.gross_minor, 675);
        assert_eq!(kenp.day(), period.unwrap());
        let ebook = sale(map_row(
            &rows,
            &cells(&["B0TEST", "Amazon.de", "4", "70%", "Standard", "EUR", "8.00"]),
            &mut Occurrences::new(),
        ));
        assert_eq!(ebook.units, 4);
        assert_eq!(ebook.kdp.unwrap().format, KdpFormat::Ebook);
        let undated = sheet(
            SheetKind::Summary,
            &["ASIN", "Marketplace", "KENP Read"],
            None,
        );
        assert!(
            map_row(
                &undated,
                &cells(&["B0TEST", "Amazon.com", "10"]),
                &mut Occurrences::new()
            )
            .is_err_and(|reason| reason.starts_with("the row has no date"))
        );
    }
}
