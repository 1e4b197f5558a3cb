//! Cell values as KDP writes them: `N/A` and blanks absent, counts, money in a currency's minor
//! units, dates (text in the forms KDP writes, or Excel serial dates), and the period a title
//! row or a file name names.

use chrono::{Datelike, Duration, NaiveDate};

/// One cell, from either format (CSV cells are all text).
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Empty,
    Text(String),
    Number(f64),
    /// A cell the workbook formats as a date.
    Date(NaiveDate),
}

impl Cell {
    /// The cell, unless it is blank or says `N/A` (or `-`, which some exports write instead).
    pub fn present(&self) -> Option<&Self> {
        match self {
            Self::Empty => None,
            Self::Text(text) => {
                let text = text.trim();
                let absent = text.is_empty()
                    || text.eq_ignore_ascii_case("n/a")
                    || text.eq_ignore_ascii_case("na")
                    || text == "-"
                    || text == "--";
                (!absent).then_some(self)
            }
            Self::Number(_) | Self::Date(_) => Some(self),
        }
    }

    /// The cell as trimmed text, when present (numbers written as a spreadsheet shows them).
    pub fn text(&self) -> Option<String> {
        match self.present()? {
            Self::Text(text) => Some(text.trim().to_owned()),
            Self::Number(number) => Some(number.to_string()),
            Self::Date(day) => Some(day.format("%Y-%m-%d").to_string()),
            Self::Empty => None,
        }
    }
}

/// A value that does not read as its column's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unreadable;

/// The largest magnitude an amount or a count may have (beyond any real report, and far from
/// `i64`'s limits, so sums of a report's rows cannot overflow).
const MAX_MAGNITUDE: f64 = 1e15;

/// A whole count (`Units Sold`, KENP pages): `1,234` and `12.0` are read, `1.5` is not.
pub fn count(cell: &Cell) -> Result<Option<i64>, Unreadable> {
    let number = match cell.present() {
        None => return Ok(None),
        Some(Cell::Number(number)) => *number,
        Some(Cell::Text(text)) => {
            let cleaned: String = text.trim().chars().filter(|c| *c != ',').collect();
            if let Ok(whole) = cleaned.parse::<i64>() {
                return bounded(whole).map(Some);
            }
            cleaned.parse::<f64>().map_err(|_| Unreadable)?
        }
        Some(Cell::Date(_) | Cell::Empty) => return Err(Unreadable),
    };
    if !number.is_finite() || number.fract() != 0.0 || number.abs() > MAX_MAGNITUDE {
        return Err(Unreadable);
    }
    #[allow(clippy::cast_possible_truncation)] // whole and bounded above
    Ok(Some(number as i64))
}

fn bounded(value: i64) -> Result<i64, Unreadable> {
    #[allow(clippy::cast_precision_loss)] // a bound check only
    if (value as f64).abs() > MAX_MAGNITUDE {
        Err(Unreadable)
    } else {
        Ok(value)
    }
}

/// An amount in minor units of a currency with `exponent` decimals: a number cell, or text like
/// `12.34`, `$1,234.5`, `-0.35`, `(0.35)`; digits past the minor unit round half away from zero.
pub fn money(cell: &Cell, exponent: u32) -> Result<Option<i64>, Unreadable> {
    match cell.present() {
        None => Ok(None),
        Some(Cell::Number(number)) => {
            let scaled = number * 10f64.powi(i32::try_from(exponent).map_err(|_| Unreadable)?);
            if !scaled.is_finite() || scaled.abs() > MAX_MAGNITUDE {
                return Err(Unreadable);
            }
            #[allow(clippy::cast_possible_truncation)] // rounded and bounded above
            Ok(Some(scaled.round() as i64))
        }
        Some(Cell::Text(text)) => decimal_text(text, exponent).map(Some),
        Some(Cell::Date(_) | Cell::Empty) => Err(Unreadable),
    }
}

/// Currency symbols and spaces an amount's text may carry around its digits.
const SYMBOLS: &[char] = &['$', '€', '£', '¥', '₹', '\u{a0}', ' ', ','];

fn decimal_text(text: &str, exponent: u32) -> Result<i64, Unreadable> {
    let mut text = text.trim();
    let mut negative = false;
    if let Some(inner) = text.strip_prefix('(').and_then(|t| t.strip_suffix(')')) {
        negative = true;
        text = inner;
    }
    let cleaned: String = text.chars().filter(|c| !SYMBOLS.contains(c)).collect();
    let mut digits = cleaned.as_str();
    if let Some(rest) = digits.strip_prefix('-') {
        negative = !negative;
        digits = rest;
    } else if let Some(rest) = digits.strip_prefix('+') {
        digits = rest;
    }
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let all_digits = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
    if (whole.is_empty() && fraction.is_empty())
        || !all_digits(whole)
        || !all_digits(fraction)
        || whole.len() > 15
    {
        return Err(Unreadable);
    }
    let mut minor: i64 = 0;
    let places = usize::try_from(exponent).map_err(|_| Unreadable)?;
    let kept = fraction.get(..places.min(fraction.len())).unwrap_or("");
    for byte in whole.bytes().chain(kept.bytes()) {
        minor = minor * 10 + i64::from(byte - b'0');
    }
    for _ in kept.len()..places {
        minor *= 10;
    }
    if fraction
        .as_bytes()
        .get(places)
        .is_some_and(|next| *next >= b'5')
    {
        minor += 1;
    }
    let minor = bounded(minor)?;
    Ok(if negative { -minor } else { minor })
}

/// A row's date: a date cell, an Excel serial number, or text in a form KDP writes
/// (`2026-10-05`, `2026/10/05`, `2026-10-05T…`, `Oct 5, 2026`, `October 5, 2026`, `5 October
/// 2026`) or a month (`2026-10`, `October 2026`: its first day). Ambiguous forms (`10/05/2026`)
/// are not read.
pub fn date(cell: &Cell) -> Result<Option<NaiveDate>, Unreadable> {
    match cell.present() {
        None => Ok(None),
        Some(Cell::Date(day)) => Ok(Some(*day)),
        Some(Cell::Number(serial)) => excel_date(*serial, false).map(Some).ok_or(Unreadable),
        Some(Cell::Text(text)) => date_text(text.trim()).map(Some).ok_or(Unreadable),
        Some(Cell::Empty) => Ok(None),
    }
}

fn date_text(text: &str) -> Option<NaiveDate> {
    const DAY_FORMATS: [&str; 6] = [
        "%Y-%m-%d",
        "%Y/%m/%d",
        "%b %d, %Y",
        "%B %d, %Y",
        "%d %B %Y",
        "%d %b %Y",
    ];
    const MONTH_FORMATS: [&str; 4] = ["%Y-%m-%d", "%Y/%m/%d", "%B %Y %d", "%b %Y %d"];
    let head = text.get(..10).filter(|_| text.contains('T'));
    DAY_FORMATS
        .iter()
        .find_map(|format| NaiveDate::parse_from_str(head.unwrap_or(text), format).ok())
        .or_else(|| {
            let with_day = if text.len() == 7 {
                format!("{text}-01")
            } else {
                format!("{text} 1")
            };
            MONTH_FORMATS
                .iter()
                .find_map(|format| NaiveDate::parse_from_str(&with_day, format).ok())
        })
}

/// An Excel serial date (days since 1899-12-30, or since 1904-01-01 in a 1904 workbook; the
/// time of day dropped), within 1900–9999.
pub fn excel_date(serial: f64, is_1904: bool) -> Option<NaiveDate> {
    if !serial.is_finite() || !(1.0..2_958_466.0).contains(&serial) {
        return None;
    }
    let epoch = if is_1904 {
        NaiveDate::from_ymd_opt(1904, 1, 1)?
    } else {
        NaiveDate::from_ymd_opt(1899, 12, 30)?
    };
    #[allow(clippy::cast_possible_truncation)] // within the range checked above
    epoch.checked_add_signed(Duration::days(serial.floor() as i64))
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];

/// The first day of the month `text` names (a report's title row, a file name such as
/// `KDP_Prior_Month_Royalties-2026-10-01-….xlsx`): `2026-10`, `2026-10-01`, `October 2026`,
/// `Oct 2026`; the first one found.
pub fn period_in(text: &str) -> Option<NaiveDate> {
    let tokens: Vec<String> = text
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|t| !t.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    let year = |t: &str| {
        (t.len() == 4)
            .then(|| t.parse::<i32>().ok())
            .flatten()
            .filter(|y| (1990..=2200).contains(y))
    };
    tokens.windows(2).find_map(|pair| {
        let (first, second) = (pair[0].as_str(), pair[1].as_str());
        if let Some(y) = year(first) {
            let month = second.parse::<u32>().ok().filter(|_| second.len() <= 2)?;
            return NaiveDate::from_ymd_opt(y, month, 1);
        }
        let month = MONTHS
            .iter()
            .position(|m| first.len() >= 3 && m.starts_with(&first[..3]))
            .filter(|_| first.chars().all(|c| c.is_ascii_alphabetic()))?;
        let y = year(second)?;
        NaiveDate::from_ymd_opt(y, u32::try_from(month + 1).ok()?, 1)
    })
}

/// The first day of `day`'s month.
pub fn month_start(day: NaiveDate) -> NaiveDate {
    day.with_day(1).unwrap_or(day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(value: &str) -> Cell {
        Cell::Text(value.to_owned())
    }

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn money_reads_into_minor_units_of_its_currency() {
        assert_eq!(money(&text("12.34"), 2), Ok(Some(1234)));
        assert_eq!(money(&text("$1,234.5"), 2), Ok(Some(123_450)));
        assert_eq!(money(&text("-0.35"), 2), Ok(Some(-35)));
        assert_eq!(money(&text("(0.35)"), 2), Ok(Some(-35)));
        assert_eq!(money(&text("2.0955"), 2), Ok(Some(210)));
        assert_eq!(money(&text("350"), 0), Ok(Some(350)));
        assert_eq!(money(&text("1.5"), 3), Ok(Some(1500)));
        assert_eq!(money(&Cell::Number(2.0944), 2), Ok(Some(209)));
        assert_eq!(money(&Cell::Number(1200.0), 0), Ok(Some(1200)));
        assert_eq!(money(&text("N/A"), 2), Ok(None));
        assert_eq!(money(&Cell::Empty, 2), Ok(None));
        for bad in ["abc", "1.2.3", "--5", "1e400", "99999999999999999999"] {
            assert_eq!(money(&text(bad), 2), Err(Unreadable), "{bad}");
        }
        assert_eq!(money(&Cell::Number(f64::NAN), 2), Err(Unreadable));
    }

    #[test]
    fn counts_are_whole_numbers() {
        assert_eq!(count(&text("1,234")), Ok(Some(1234)));
        assert_eq!(count(&Cell::Number(-2.0)), Ok(Some(-2)));
        assert_eq!(count(&text("3.0")), Ok(Some(3)));
        assert_eq!(count(&text("n/a")), Ok(None));
        assert_eq!(count(&Cell::Number(1.5)), Err(Unreadable));
        assert_eq!(count(&text("many")), Err(Unreadable));
    }

    #[test]
    fn dates_read_in_the_forms_kdp_writes_and_as_excel_serials() {
        let oct5 = day(2026, 10, 5);
        for written in [
            "2026-10-05",
            "2026/10/05",
            "2026-10-05T00:00:00Z",
            "Oct 5, 2026",
            "October 5, 2026",
            "5 October 2026",
        ] {
            assert_eq!(date(&text(written)), Ok(Some(oct5)), "{written}");
        }
        assert_eq!(date(&text("2026-10")), Ok(Some(day(2026, 10, 1))));
        assert_eq!(date(&text("October 2026")), Ok(Some(day(2026, 10, 1))));
        assert_eq!(date(&Cell::Number(46_300.0)), Ok(Some(oct5)));
        assert_eq!(excel_date(44_834.0, true), Some(day(2026, 10, 1)));
        assert_eq!(date(&text("10/05/2026")), Err(Unreadable));
        assert_eq!(date(&Cell::Number(-3.0)), Err(Unreadable));
        assert_eq!(date(&text("N/A")), Ok(None));
    }

    #[test]
    fn a_period_is_found_in_titles_and_file_names() {
        assert_eq!(
            period_in("KDP_Prior_Month_Royalties-2026-10-01-abc123.xlsx"),
            Some(day(2026, 10, 1))
        );
        assert_eq!(
            period_in("Prior Month Royalties - October 2026"),
            Some(day(2026, 10, 1))
        );
        assert_eq!(period_in("Sales Period: Sep 2026"), Some(day(2026, 9, 1)));
        assert_eq!(period_in("report.xlsx"), None);
        assert_eq!(period_in("Total 2026 99"), None);
    }
}
