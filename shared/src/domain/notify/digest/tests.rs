use chrono::{DateTime, NaiveDate, Utc};

use super::*;

fn utc(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().to_utc()
}

fn digest(hour: u8, time_zone: &str) -> Digest {
    Digest {
        hour,
        time_zone: time_zone.into(),
    }
}

#[test]
fn the_next_digest_is_the_next_local_hour_strictly_after_the_instant() {
    let paris = digest(8, "Europe/Paris");
    // Winter (UTC+1): 07:00 local → 08:00 local the same day.
    assert_eq!(
        next_digest_at(&paris, utc("2026-01-10T06:00:00Z")),
        Some(utc("2026-01-10T07:00:00Z"))
    );
    // At the hour itself: the next day's.
    assert_eq!(
        next_digest_at(&paris, utc("2026-01-10T07:00:00Z")),
        Some(utc("2026-01-11T07:00:00Z"))
    );
    // Summer (UTC+2), past the hour: tomorrow's.
    assert_eq!(
        next_digest_at(&paris, utc("2026-07-01T07:00:00Z")),
        Some(utc("2026-07-02T06:00:00Z"))
    );
    // Late in the UTC day is already tomorrow in Tokyo.
    assert_eq!(
        next_digest_at(&digest(8, "Asia/Tokyo"), utc("2026-01-09T22:00:00Z")),
        Some(utc("2026-01-09T23:00:00Z"))
    );
}

#[test]
fn across_a_clock_change_the_digest_keeps_its_local_hour() {
    let new_york = digest(8, "America/New_York");
    // 8:00 EST on Saturday, then 8:00 EDT on Sunday 8 March 2026: 23 hours later.
    assert_eq!(
        next_digest_at(&new_york, utc("2026-03-07T13:00:00Z")),
        Some(utc("2026-03-08T12:00:00Z"))
    );
    // 8:00 EDT on Saturday 31 October, then 8:00 EST on Sunday 1 November: 25 hours later.
    assert_eq!(
        next_digest_at(&new_york, utc("2026-10-31T12:00:00Z")),
        Some(utc("2026-11-01T13:00:00Z"))
    );
}

#[test]
fn an_hour_the_clocks_skip_is_sent_when_the_jump_ends_and_the_next_day_as_usual() {
    let two = digest(2, "America/New_York");
    // 2:00 does not exist on 8 March 2026 (2:00 EST → 3:00 EDT): sent at 3:00 EDT.
    assert_eq!(
        next_digest_at(&two, utc("2026-03-07T08:00:00Z")),
        Some(utc("2026-03-08T07:00:00Z"))
    );
    assert_eq!(
        next_digest_at(&two, utc("2026-03-08T07:00:00Z")),
        Some(utc("2026-03-09T06:00:00Z"))
    );
    // Lord Howe Island skips half an hour (2:00 → 2:30) on 4 October 2026.
    assert_eq!(
        next_digest_at(
            &digest(2, "Australia/Lord_Howe"),
            utc("2026-10-03T12:00:00Z")
        ),
        Some(utc("2026-10-03T15:30:00Z"))
    );
}

#[test]
fn an_hour_the_clocks_repeat_is_sent_once_at_its_first_occurrence() {
    let one = digest(1, "America/New_York");
    // 1:00 happens twice on 1 November 2026: 05:00Z (EDT) and 06:00Z (EST).
    let first = next_digest_at(&one, utc("2026-10-31T12:00:00Z"));
    assert_eq!(first, Some(utc("2026-11-01T05:00:00Z")));
    // After the first, the next is the next day's, not the repeat an hour later.
    assert_eq!(
        next_digest_at(&one, first.unwrap()),
        Some(utc("2026-11-02T06:00:00Z"))
    );
}

#[test]
fn an_unknown_time_zone_has_no_next_digest() {
    assert_eq!(
        next_digest_at(&digest(8, "Mars/Olympus"), utc("2026-01-10T06:00:00Z")),
        None
    );
}

#[test]
fn the_local_date_is_the_date_in_the_time_zone() {
    assert_eq!(
        local_date(&digest(8, "Asia/Tokyo"), utc("2026-01-09T23:00:00Z")),
        NaiveDate::from_ymd_opt(2026, 1, 10)
    );
    assert_eq!(
        local_date(
            &digest(20, "America/Los_Angeles"),
            utc("2026-01-10T04:00:00Z")
        ),
        NaiveDate::from_ymd_opt(2026, 1, 9)
    );
}

#[test]
fn the_digest_key_changes_with_company_date_recipient_and_template_but_not_the_address_case() {
    let day = NaiveDate::from_ymd_opt(2026, 1, 10).unwrap();
    let key = digest_key("biz_1", day, "owner@example.com", Template::CreatorDigest);
    assert_eq!(
        key,
        digest_key("biz_1", day, "Owner@Example.com", Template::CreatorDigest)
    );
    for other in [
        digest_key("biz_2", day, "owner@example.com", Template::CreatorDigest),
        digest_key(
            "biz_1",
            day.succ_opt().unwrap(),
            "owner@example.com",
            Template::CreatorDigest,
        ),
        digest_key("biz_1", day, "ops@example.com", Template::CreatorDigest),
        digest_key(
            "biz_1",
            day,
            "owner@example.com",
            Template::CreatorAlert(SignalKind::AtRisk),
        ),
    ] {
        assert_ne!(key, other);
    }
}
