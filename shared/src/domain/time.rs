//! Times as providers write them: Unix seconds or milliseconds (integers, fractions or numeric
//! strings) and ISO-8601/RFC 3339 text. Used by webhook normalisation, state observation, sync and
//! the CLI.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

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
    utc_rfc3339(text).or_else(|| parse_time_str_general(text))
}

/// The shape providers send (`2025-01-01T00:00:00Z`, `2025-01-01T00:00:00.000Z`), read field by
/// field: the instant `chrono`'s RFC 3339 parser reads, without its general machinery. `None`
/// for anything else, left to [`parse_time_str_general`] (a leap second, an offset, a lowercase
/// `t`/`z`, more than nine fraction digits, an invalid date).
fn utc_rfc3339(text: &str) -> Option<DateTime<Utc>> {
    let (fields, rest) = text.as_bytes().split_first_chunk::<19>()?;
    let number = |digits: &[u8]| {
        digits.iter().try_fold(0_u32, |value, &digit| {
            digit
                .is_ascii_digit()
                .then(|| value * 10 + u32::from(digit - b'0'))
        })
    };
    if [fields[4], fields[7], fields[10], fields[13], fields[16]] != *b"--T::" {
        return None;
    }
    let nanosecond = match rest {
        [b'Z'] => 0,
        [b'.', fraction @ .., b'Z'] if (1..=9).contains(&fraction.len()) => {
            let scale = 10_u32.pow(9 - u32::try_from(fraction.len()).ok()?);
            number(fraction)? * scale
        }
        _ => return None,
    };
    let second = number(&fields[17..19])?;
    if second > 59 {
        return None;
    }
    let year = i32::try_from(number(&fields[..4])?).ok()?;
    NaiveDate::from_ymd_opt(year, number(&fields[5..7])?, number(&fields[8..10])?)?
        .and_hms_nano_opt(
            number(&fields[11..13])?,
            number(&fields[14..16])?,
            second,
            nanosecond,
        )
        .map(|time| time.and_utc())
}

/// [`parse_time_str`] for every shape.
fn parse_time_str_general(text: &str) -> Option<DateTime<Utc>> {
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

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn the_common_shapes_read_as_chrono_reads_them() {
        for text in [
            "2025-01-01T00:00:00Z",
            "2025-01-01T00:00:00.000Z",
            "2025-06-01T12:30:45.123Z",
            "1999-12-31T23:59:59.999999999Z",
            "2024-02-29T00:00:00.5Z",
        ] {
            let expected = DateTime::parse_from_rfc3339(text).unwrap().to_utc();
            assert_eq!(utc_rfc3339(text), Some(expected), "{text}");
            assert_eq!(parse_time_str(text), Some(expected), "{text}");
        }
    }

    #[test]
    fn other_shapes_are_left_to_the_general_reader() {
        for text in [
            "2025-01-01T00:00:60Z",
            "2025-01-01t00:00:00z",
            "2025-01-01 00:00:00Z",
            "2025-01-01T00:00:00+00:00",
            "2025-01-01T00:00:00.1234567890Z",
            "2025-02-30T00:00:00Z",
            " 2025-01-01T00:00:00Z",
            "2025-01-01T00:00:00",
        ] {
            assert_eq!(utc_rfc3339(text), None, "{text}");
        }
    }

    proptest! {
        #[test]
        fn the_fast_shape_reads_what_the_general_reader_reads(
            year in 0_u32..10_000,
            month in 0_u32..14,
            day in 0_u32..33,
            hour in 0_u32..26,
            minute in 0_u32..62,
            second in 0_u32..62,
            fraction in prop::option::of("[0-9]{1,10}"),
            separator in prop::sample::select(vec!['T', 't', ' ']),
            zone in prop::sample::select(vec!["Z", "z", "+00:00", "-01:30", ""]),
        ) {
            let fraction = fraction.map(|digits| format!(".{digits}")).unwrap_or_default();
            let text = format!(
                "{year:04}-{month:02}-{day:02}{separator}{hour:02}:{minute:02}:{second:02}{fraction}{zone}"
            );
            prop_assert_eq!(parse_time_str(&text), parse_time_str_general(&text), "{}", text);
        }
    }
}
