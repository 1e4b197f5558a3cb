//! Times as providers write them: Unix seconds or milliseconds (integers, fractions or numeric
//! strings) and ISO-8601/RFC 3339 text. Used by webhook normalisation, state observation, sync and
//! the CLI.

use chrono::{DateTime, NaiveDateTime, Utc};

/// Unix seconds, or milliseconds when larger than 10^11 (year 5138 in seconds, 1973 in ms).
pub fn unix_time(value: i64) -> Option<DateTime<Utc>> {
    const MILLIS_ABOVE: i64 = 100_000_000_000;
    match value {
        ..0 => None,
        0..=MILLIS_ABOVE => DateTime::from_timestamp(value, 0),
        _ => DateTime::from_timestamp_millis(value),
    }
}

/// [`unix_time`] for fractional values.
pub fn unix_time_f64(value: f64) -> Option<DateTime<Utc>> {
    if value.is_nan() || value < 0.0 {
        return None;
    }
    let seconds = if value > 1e11 { value / 1000.0 } else { value };
    if seconds >= 1e15 {
        return None;
    }
    let whole = seconds.floor();
    // In range: 0 <= whole < 1e15 and 0 <= fraction * 1e9 < 1e9.
    let (secs, nanos) = (
        whole as i64,
        (((seconds - whole) * 1e9) as u32).min(999_999_999),
    );
    DateTime::from_timestamp(secs, nanos)
}

/// An ISO-8601/RFC 3339 time, or a Unix time written as a string.
pub fn parse_time_str(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse().ok().and_then(unix_time);
    }
    if text.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return text.parse().ok().and_then(unix_time_f64);
    }
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Some(time.to_utc());
    }
    // No offset at all: read as UTC.
    NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
        .ok()
        .map(|time| time.and_utc())
}
