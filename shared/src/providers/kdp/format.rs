//! What a file is, from its bytes (the name only hints): an XLSX workbook (a ZIP archive), an
//! older XLS workbook (refused with the fix), or text read as CSV with the delimiter its first
//! lines use.

use std::io::Cursor;

use super::ReportError;

/// The most a workbook's shared-string table may hold, decompressed, by its directory: the
/// reader keeps that table in memory (calamine reads it whole), so this bounds the workbook's
/// part of the reader's memory.
pub const MAX_SHARED_STRINGS_BYTES: u64 = 256 * 1024 * 1024;
/// Bytes looked at to tell text from binary and to pick the CSV delimiter.
const SNIFF_BYTES: usize = 8 * 1024;

/// A report's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Xlsx,
    /// CSV with this delimiter (`,`, `;` or tab).
    Csv(u8),
}

/// The format of `bytes`.
///
/// # Errors
/// [`ReportError::Unreadable`] for an empty file, an XLS workbook, binary data, or a workbook
/// whose shared strings exceed [`MAX_SHARED_STRINGS_BYTES`].
pub fn sniff(bytes: &[u8]) -> Result<Format, ReportError> {
    let unreadable = |why: &str| Err(ReportError::Unreadable(why.to_owned()));
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return unreadable("the file is empty");
    }
    if bytes.starts_with(b"PK\x03\x04") {
        check_shared_strings(bytes)?;
        return Ok(Format::Xlsx);
    }
    if bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0]) {
        return unreadable("an Excel 97-2003 workbook (.xls): save it as .xlsx and upload that");
    }
    let head = &bytes[..bytes.len().min(SNIFF_BYTES)];
    if head.contains(&0) {
        return unreadable("neither a workbook (.xlsx) nor a CSV file");
    }
    let count = |delimiter: u8| head.iter().filter(|b| **b == delimiter).count();
    let delimiter = [b',', b';', b'\t']
        .into_iter()
        .max_by_key(|d| (count(*d), *d == b','))
        .unwrap_or(b',');
    Ok(Format::Csv(delimiter))
}

/// Refuses a workbook whose directory declares more shared strings than
/// [`MAX_SHARED_STRINGS_BYTES`], before anything is decompressed.
fn check_shared_strings(bytes: &[u8]) -> Result<(), ReportError> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| ReportError::Unreadable(format!("a damaged workbook ({e})")))?;
    let mut declared: u64 = 0;
    for index in 0..archive.len() {
        let entry = archive
            .by_index_raw(index)
            .map_err(|e| ReportError::Unreadable(format!("a damaged workbook ({e})")))?;
        if entry
            .name()
            .is_ok_and(|name| name.to_ascii_lowercase().contains("sharedstrings"))
        {
            declared = declared.saturating_add(entry.size());
        }
    }
    if declared > MAX_SHARED_STRINGS_BYTES {
        return Err(ReportError::Unreadable(format!(
            "the workbook's text is larger than {} MiB; split the report",
            MAX_SHARED_STRINGS_BYTES / (1024 * 1024)
        )));
    }
    Ok(())
}
