//! Amazon KDP sales reports (`docs/providers.md`, "Amazon KDP"): workbooks and CSV exports a
//! creator downloads from the KDP dashboard, read into [`SaleEvent`]s.
//!
//! - [`format`](mod@format): what the bytes are (XLSX, CSV and its delimiter; XLS and binary refused).
//! - [`sources`]: rows out of a workbook (streamed cell by cell) or a CSV file.
//! - [`header`]: the header finder (title and blank rows may come first).
//! - [`fields`]: the columns and their spellings.
//! - [`row`]: one row → one sale, or its rejection.
//! - [`values`]: `N/A`, counts, money in minor units, dates and periods.
//!
//! Sheets: every sheet whose header names the columns of sales is read (the dashboard's
//! "Combined Sales" and "KENP Read", the Prior Month Royalties workbook's "eBook Royalty",
//! "Paperback Royalty", "Hardcover Royalty" and "KENP Read"); other sheets are skipped. "Total
//! Earnings" restates those sheets, so it is read only from a workbook that has none of them. A
//! sheet without a date column takes its month from its title rows, else from the file name.
//!
//! Memory: the file's bytes (the upload cap is 50 MiB), one row at a time, for XLSX the
//! workbook's shared-string table (at most [`format::MAX_SHARED_STRINGS_BYTES`] by the
//! workbook's directory), and per row read the output and its [`row::Occurrences`] entry: about
//! 0.8 KiB a row (`shared/benches/kdp.rs`: 79 MiB over the file for a 100,000-row workbook of
//! 4.7 MiB), so about 17 times the size of an XLSX file, and at most [`MAX_ROWS`] rows. Nothing
//! panics on any input (`shared/fuzz/fuzz_targets/kdp_report.rs`).

pub mod fields;
#[cfg(any(test, feature = "kdp-fixtures"))]
pub mod fixtures;
pub mod format;
pub mod header;
pub mod row;
pub mod sources;
pub mod values;

#[cfg(test)]
mod tests;

use crate::domain::sales::SaleEvent;
use format::Format;
use header::{HEADER_SCAN_ROWS, Title, header_of};
use row::{Mapped, Occurrences, SheetKind, SheetRows, map_row};
use sources::RowSink;
use values::{Cell, period_in};

/// Rejected rows kept with their reason; later ones are only counted.
pub const REJECTED_KEPT: usize = 100;
/// The most data rows one report may hold (a 50 MiB CSV holds fewer).
pub const MAX_ROWS: u64 = 2_000_000;

/// What a report file held.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ParsedReport {
    /// Data rows read (header, title and blank rows not counted).
    pub rows_read: u64,
    /// One sale per accepted row, keyed so that the same row read again has the same key.
    pub sales: Vec<SaleEvent>,
    /// The first [`REJECTED_KEPT`] rejected rows.
    pub rejected: Vec<RejectedRow>,
    /// Every rejected row, kept or not.
    pub rejected_count: u64,
}

/// A row that could not become a sale; the others are read regardless.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedRow {
    /// The sheet's name (`csv` for a CSV file).
    pub sheet: String,
    /// 1-based row number in the sheet, as a spreadsheet shows it.
    pub row: u64,
    /// Why, in words fit for the creator (no cell values beyond the column's name).
    pub reason: String,
}

/// A file that is not a report at all: the whole job fails with this reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReportError {
    /// Neither a workbook nor a CSV file that can be read.
    #[error("not a KDP report: {0}")]
    Unreadable(String),
    /// No sheet has a header row with the known column names.
    #[error("no sheet has a known KDP header row")]
    NoKnownHeader,
}

/// Reads a report file (`file_name` only hints at the format; the bytes decide) into sales of
/// `company_id`.
///
/// # Errors
/// [`ReportError`] when the file as a whole cannot be read; bad rows are rejected alone.
pub fn parse_report(
    file_name: &str,
    bytes: &[u8],
    company_id: &str,
) -> Result<ParsedReport, ReportError> {
    let mut report = Report {
        company_id,
        file_period: period_in(file_name),
        parsed: ParsedReport::default(),
        occurrences: Occurrences::new(),
        detail_headers: 0,
        headers: 0,
        sheet: None,
    };
    match format::sniff(bytes)? {
        Format::Xlsx => sources::xlsx(bytes, summaries_last, &mut report)?,
        Format::Csv(delimiter) => sources::csv(bytes, delimiter, &mut report)?,
    }
    if report.headers == 0 {
        return Err(ReportError::NoKnownHeader);
    }
    Ok(report.parsed)
}

/// Sheet names in the order to read them: summaries after the sheets they sum, so that they
/// are skipped when those were read.
fn summaries_last(mut names: Vec<String>) -> Vec<String> {
    names.sort_by_key(|name| SheetKind::of(name) == SheetKind::Summary);
    names
}

/// A report being read.
struct Report<'a> {
    company_id: &'a str,
    file_period: Option<chrono::NaiveDate>,
    parsed: ParsedReport,
    occurrences: Occurrences,
    /// Headers found in sheets other than summaries.
    detail_headers: usize,
    headers: usize,
    sheet: Option<Sheet<'a>>,
}

/// The sheet being read: before its header, its title; after, its rows.
struct Sheet<'a> {
    name: String,
    kind: SheetKind,
    title: Title,
    rows: Option<SheetRows<'a>>,
}

impl<'a> RowSink for Report<'a> {
    fn begin(&mut self, sheet: &str) -> bool {
        let kind = SheetKind::of(sheet);
        if kind == SheetKind::Summary && self.detail_headers > 0 {
            self.sheet = None;
            return false;
        }
        self.sheet = Some(Sheet {
            name: sheet.to_owned(),
            kind,
            title: Title::default(),
            rows: None,
        });
        true
    }

    fn row(&mut self, number: u64, cells: &[Cell]) -> Result<bool, ReportError> {
        let Some(sheet) = self.sheet.as_mut() else {
            return Ok(false);
        };
        if cells.iter().all(|cell| cell.present().is_none()) {
            return Ok(true);
        }
        let Some(rows) = &sheet.rows else {
            if let Some(header) = header_of(number, cells) {
                self.headers += 1;
                if sheet.kind != SheetKind::Summary {
                    self.detail_headers += 1;
                }
                sheet.rows = Some(SheetRows {
                    company_id: self.company_id,
                    kind: sheet.kind,
                    header,
                    period: period_in(sheet.title.text())
                        .or(self.file_period)
                        .map(values::month_start),
                });
                return Ok(true);
            }
            sheet.title.add(cells);
            return Ok(number < HEADER_SCAN_ROWS);
        };
        if self.parsed.rows_read >= MAX_ROWS {
            return Err(ReportError::Unreadable(format!(
                "more than {MAX_ROWS} rows; split the report"
            )));
        }
        match map_row(rows, cells, &mut self.occurrences) {
            Ok(Mapped::Sale(sale)) => {
                self.parsed.rows_read += 1;
                self.parsed.sales.push(*sale);
            }
            Ok(Mapped::Totals) => {}
            Err(reason) => {
                self.parsed.rows_read += 1;
                self.parsed.rejected_count += 1;
                if self.parsed.rejected.len() < REJECTED_KEPT {
                    self.parsed.rejected.push(RejectedRow {
                        sheet: sheet.name.clone(),
                        row: number,
                        reason,
                    });
                }
            }
        }
        Ok(true)
    }
}
