//! The header finder: a sheet's header row is the first of its first [`HEADER_SCAN_ROWS`] rows
//! whose cells name the columns a sale needs (title and blank rows may come first); the rows
//! above it are kept as the sheet's title, which may name the report's period.

use super::fields::{Field, field};
use super::values::Cell;

/// How many rows of a sheet may come before its header.
pub const HEADER_SCAN_ROWS: u64 = 30;
/// Columns read per row; cells to the right are ignored (KDP's widest sheet has about 20).
pub const MAX_COLUMNS: usize = 128;
/// Title text kept per sheet (the period is looked for in it).
const MAX_TITLE_CHARS: usize = 1024;

/// A sheet's header row: the field of each column (`None`: a column the reader ignores).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Its row number (1-based).
    pub row: u64,
    pub columns: Vec<Option<Field>>,
}

impl Header {
    /// The column of `field` (the first, when a header repeats it).
    pub fn column(&self, field: Field) -> Option<usize> {
        self.columns.iter().position(|f| *f == Some(field))
    }

    pub fn has(&self, field: Field) -> bool {
        self.column(field).is_some()
    }

    /// The cell of `field` in `cells`; empty when the sheet has no such column.
    pub fn cell<'a>(&self, cells: &'a [Cell], field: Field) -> &'a Cell {
        const EMPTY: &Cell = &Cell::Empty;
        self.column(field)
            .and_then(|column| cells.get(column))
            .unwrap_or(EMPTY)
    }
}

/// `cells` as a header, when they name an ASIN or ISBN, the marketplace and either KENP pages
/// or units and the royalty: what every sheet of sales has and no other sheet (an orders sheet
/// has no royalty; a summary has no ASIN).
pub fn header_of(row: u64, cells: &[Cell]) -> Option<Header> {
    let columns: Vec<Option<Field>> = cells
        .iter()
        .take(MAX_COLUMNS)
        .map(|cell| match cell {
            Cell::Text(text) => field(text),
            _ => None,
        })
        .collect();
    let header = Header { row, columns };
    let identified =
        header.has(Field::AsinIsbn) || header.has(Field::Isbn) || header.has(Field::Asin);
    let units = [Field::UnitsSold, Field::NetUnits, Field::NetUnitsOrKenp]
        .into_iter()
        .any(|f| header.has(f));
    let counted = header.has(Field::KenpPages)
        || header.has(Field::NetUnitsOrKenp)
        || (units && header.has(Field::Royalty));
    (identified && header.has(Field::Marketplace) && counted).then_some(header)
}

/// The rows above a header: their text, which may name the report's period.
#[derive(Debug, Default)]
pub struct Title(String);

impl Title {
    pub fn add(&mut self, cells: &[Cell]) {
        for cell in cells.iter().take(MAX_COLUMNS) {
            if let Cell::Text(text) = cell {
                let room = MAX_TITLE_CHARS.saturating_sub(self.0.len());
                if room == 0 {
                    return;
                }
                self.0.push(' ');
                self.0.extend(text.chars().take(room));
            }
        }
    }

    pub fn text(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(cells: &[&str]) -> Vec<Cell> {
        cells.iter().map(|c| Cell::Text((*c).to_owned())).collect()
    }

    #[test]
    fn a_header_names_an_identifier_the_marketplace_and_what_was_counted() {
        let sales = row(&[
            "Royalty Date",
            "Title",
            "Author Name",
            "ASIN/ISBN*",
            "Marketplace",
            "Units Sold",
            "Royalty",
            "Currency",
        ]);
        let header = header_of(3, &sales).unwrap();
        assert_eq!(header.column(Field::AsinIsbn), Some(3));
        assert_eq!(header.row, 3);
        let kenp = row(&[
            "Date",
            "Title",
            "ASIN",
            "Marketplace",
            "Kindle Edition Normalized Pages (KENP) Read",
        ]);
        assert!(header_of(1, &kenp).is_some());
        for not_a_header in [
            row(&["Prior Month Royalties - October 2026"]),
            row(&["Title", "ASIN", "Marketplace", "Units Ordered"]),
            row(&["Title", "Marketplace", "Units Sold", "Royalty"]),
            vec![Cell::Number(1.0), Cell::Empty],
        ] {
            assert_eq!(header_of(1, &not_a_header), None);
        }
    }
}
