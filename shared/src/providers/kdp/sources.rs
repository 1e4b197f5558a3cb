//! The two sources of rows: an XLSX workbook read cell by cell (calamine's streaming reader: one
//! row in memory besides the shared strings), and a CSV file read record by record. Both hand
//! each non-empty row, with its 1-based number, to a [`RowSink`].

use std::io::Cursor;

use calamine::{DataRef, Reader, Xlsx};
use chrono::NaiveDate;

use super::ReportError;
use super::header::MAX_COLUMNS;
use super::values::Cell;

/// Where rows go.
pub trait RowSink {
    /// A sheet begins; `false` skips it.
    fn begin(&mut self, sheet: &str) -> bool;
    /// One row of the current sheet; `Ok(false)` when the rest of the sheet is not needed.
    ///
    /// # Errors
    /// When the report as a whole must stop (too many rows).
    fn row(&mut self, number: u64, cells: &[Cell]) -> Result<bool, ReportError>;
}

fn damaged(error: impl std::fmt::Display) -> ReportError {
    ReportError::Unreadable(format!("a damaged workbook ({error})"))
}

/// Reads every sheet of an XLSX workbook in `order` (the sheet names as the workbook lists them
/// → the order to read them in).
///
/// # Errors
/// [`ReportError::Unreadable`] when the workbook or a sheet's XML cannot be read.
pub fn xlsx(
    bytes: &[u8],
    order: impl FnOnce(Vec<String>) -> Vec<String>,
    sink: &mut impl RowSink,
) -> Result<(), ReportError> {
    let mut workbook: Xlsx<_> = Xlsx::new(Cursor::new(bytes)).map_err(damaged)?;
    for sheet in order(workbook.sheet_names()) {
        if !sink.begin(&sheet) {
            continue;
        }
        let mut reader = workbook.worksheet_cells_reader(&sheet).map_err(damaged)?;
        let mut current: Option<u32> = None;
        let mut cells: Vec<Cell> = Vec::new();
        loop {
            let next = reader.next_cell().map_err(damaged)?;
            let position = next.as_ref().map(calamine::Cell::get_position);
            if let Some(row) = current
                && position.is_none_or(|(r, _)| r != row)
            {
                if !sink.row(u64::from(row) + 1, &cells)? {
                    break;
                }
                cells.clear();
            }
            let Some(cell) = next else { break };
            let (row, column) = cell.get_position();
            current = Some(row);
            let Ok(column) = usize::try_from(column) else {
                continue;
            };
            if column >= MAX_COLUMNS {
                continue;
            }
            if cells.len() <= column {
                cells.resize(column + 1, Cell::Empty);
            }
            cells[column] = cell_of(cell.get_value());
        }
    }
    Ok(())
}

fn cell_of(value: &DataRef<'_>) -> Cell {
    #[allow(clippy::cast_precision_loss)] // a spreadsheet's numbers are doubles anyway
    match value {
        DataRef::Int(n) => Cell::Number(*n as f64),
        DataRef::Float(n) => Cell::Number(*n),
        DataRef::String(s) | DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => {
            Cell::Text(s.clone())
        }
        DataRef::SharedString(s) => Cell::Text((*s).to_owned()),
        DataRef::Bool(b) => Cell::Text(b.to_string()),
        DataRef::DateTime(excel) if excel.is_datetime() => {
            let (year, month, day, ..) = excel.to_ymd_hms_milli();
            NaiveDate::from_ymd_opt(i32::from(year), u32::from(month), u32::from(day))
                .map_or(Cell::Number(excel.as_f64()), Cell::Date)
        }
        DataRef::DateTime(excel) => Cell::Number(excel.as_f64()),
        DataRef::Error(_) => Cell::Text("#ERROR".to_owned()),
        DataRef::Empty => Cell::Empty,
    }
}

/// The name CSV rows are reported under.
pub const CSV_SHEET: &str = "csv";

/// Reads a CSV file (a UTF-8 byte-order mark skipped; text that is not UTF-8 read with
/// replacement characters) as one sheet, [`CSV_SHEET`].
///
/// # Errors
/// [`ReportError::Unreadable`] when a record cannot be read.
pub fn csv(bytes: &[u8], delimiter: u8, sink: &mut impl RowSink) -> Result<(), ReportError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if !sink.begin(CSV_SHEET) {
        return Ok(());
    }
    let mut reader = ::csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(bytes);
    let mut record = ::csv::ByteRecord::new();
    let mut number: u64 = 0;
    let mut cells = Vec::new();
    while reader
        .read_byte_record(&mut record)
        .map_err(|e| ReportError::Unreadable(format!("a damaged CSV file ({e})")))?
    {
        // The line the record starts on, as a spreadsheet numbers it: the reader skips blank
        // lines, which a spreadsheet shows as empty rows.
        number = record.position().map_or(number + 1, ::csv::Position::line);
        cells.clear();
        cells.extend(
            record
                .iter()
                .take(MAX_COLUMNS)
                .map(|field| Cell::Text(String::from_utf8_lossy(field).into_owned())),
        );
        if !sink.row(number, &cells)? {
            break;
        }
    }
    Ok(())
}
