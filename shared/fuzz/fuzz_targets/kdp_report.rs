//! KDP reports (`shared::providers::kdp`) on arbitrary input: the header finder and the row
//! mapper on arbitrary cells under each kind of header, and the whole reader on arbitrary bytes.
//!
//! Properties:
//! - never panics;
//! - a row the mapper accepts is a `kdp` sale of the fixed company with a 32-hex `sale_id`, its
//!   `units` the net units, and a KENP row has no units; the same row mapped twice afresh has
//!   the same key;
//! - `parse_report` keeps at most `REJECTED_KEPT` rejections, counts at least as many, and reads
//!   no fewer rows than it accepted and rejected.

#![no_main]

use arbitrary::Arbitrary;
use chrono::NaiveDate;
use libfuzzer_sys::fuzz_target;
use shared::domain::sales::KdpFormat;
use shared::providers::kdp::header::header_of;
use shared::providers::kdp::row::{Mapped, Occurrences, SheetKind, SheetRows, map_row};
use shared::providers::kdp::values::Cell;
use shared::providers::kdp::{REJECTED_KEPT, parse_report};

#[derive(Debug, Arbitrary)]
enum FuzzCell {
    Empty,
    Text(String),
    Number(f64),
    Date(i32),
}

impl FuzzCell {
    fn cell(&self) -> Cell {
        match self {
            Self::Empty => Cell::Empty,
            Self::Text(text) => Cell::Text(text.clone()),
            Self::Number(n) => Cell::Number(*n),
            Self::Date(days) => NaiveDate::from_num_days_from_ce_opt(*days)
                .map_or(Cell::Empty, Cell::Date),
        }
    }
}

#[derive(Debug, Arbitrary)]
struct Input {
    /// Picks the header and the sheet kind.
    header: u8,
    with_period: bool,
    rows: Vec<Vec<FuzzCell>>,
    file: Vec<u8>,
}

const HEADERS: [&[&str]; 3] = [
    &[
        "Royalty Date", "Title", "Author Name", "ASIN/ISBN", "Marketplace", "Royalty Type",
        "Transaction Type", "Units Sold", "Units Refunded", "Net Units Sold",
        "Avg. List Price without tax", "Avg. Offer Price without tax", "Royalty", "Currency",
    ],
    &[
        "ASIN/ISBN", "Marketplace", "Units Sold", "Units Refunded",
        "Net Units Sold or KENP Read**", "Royalty Type", "Payout Plan", "Currency", "Earnings",
    ],
    &["Date", "Title", "ASIN", "Marketplace", "KENP Read"],
];
const KINDS: [SheetKind; 4] = [
    SheetKind::Mixed,
    SheetKind::Summary,
    SheetKind::Only(KdpFormat::Kenp),
    SheetKind::Only(KdpFormat::Paperback),
];

fuzz_target!(|input: Input| {
    let rows: Vec<Vec<Cell>> = input
        .rows
        .iter()
        .map(|row| row.iter().map(FuzzCell::cell).collect())
        .collect();
    for (n, cells) in rows.iter().enumerate() {
        let _ = header_of(n as u64 + 1, cells);
    }
    let names = HEADERS[usize::from(input.header) % HEADERS.len()];
    let header_cells: Vec<Cell> = names.iter().map(|n| Cell::Text((*n).to_owned())).collect();
    let header = header_of(1, &header_cells).expect("a known header");
    let sheet = SheetRows {
        company_id: "biz_fuzz",
        kind: KINDS[usize::from(input.header / 4) % KINDS.len()],
        header,
        period: input.with_period.then(|| NaiveDate::from_ymd_opt(2026, 9, 1)).flatten(),
    };
    let mut occurrences = Occurrences::new();
    for cells in &rows {
        if let Ok(Mapped::Sale(sale)) = map_row(&sheet, cells, &mut occurrences) {
            assert_eq!(sale.platform, "kdp");
            assert_eq!(sale.company_id, "biz_fuzz");
            assert_eq!(sale.sale_id.len(), 32);
            let kdp = sale.kdp.as_ref().expect("a KDP sale has its detail");
            assert_eq!(sale.units, kdp.net_units);
            if kdp.format == KdpFormat::Kenp {
                assert_eq!(sale.units, 0);
            }
            let fresh = |cells: &[Cell]| match map_row(&sheet, cells, &mut Occurrences::new()) {
                Ok(Mapped::Sale(sale)) => Some(sale.key()),
                _ => None,
            };
            assert_eq!(fresh(cells), fresh(cells));
        }
    }
    if let Ok(report) = parse_report("fuzz.xlsx", &input.file, "biz_fuzz") {
        assert!(report.rejected.len() <= REJECTED_KEPT);
        assert!(report.rejected_count >= report.rejected.len() as u64);
        assert!(report.rows_read >= report.sales.len() as u64 + report.rejected_count);
    }
});
