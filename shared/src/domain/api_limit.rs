//! One rate limit per provider API key shared by every instance (`docs/architecture.md`, "One
//! shared rate limit"): a fixed window of the provider's own length, aligned to the epoch so
//! every instance agrees on it ([`Window`], the auth limits' window), counted in one item per
//! window with one atomic add per call ([`crate::domain::ports::FailureCounter`] over the
//! `state` table). A call is admitted when the count its add returned is within the limit and
//! there is still time for it to reach the provider inside the window ([`SharedLimit::guard`]);
//! otherwise it waits for the next window, whose count starts again.

use chrono::{DateTime, TimeDelta, TimeZone, Utc};

use crate::domain::auth::limits::Window;

/// At most `requests` calls per `window_secs`, across instances.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SharedLimit {
    pub requests: u64,
    /// At least 1.
    pub window_secs: u64,
}

/// The longest guard at the end of a window.
const MAX_GUARD: TimeDelta = TimeDelta::seconds(1);

/// The prefix of a provider's bucket ([`bucket`]).
pub const API_PREFIX: &str = "api:";

/// The counter key of `service`'s calls (`RATE#api:<service>#<window start>` in the state
/// table; `:` keeps it apart from any IP bucket's name).
pub fn bucket(service: &str) -> String {
    format!("{API_PREFIX}{service}")
}

impl SharedLimit {
    /// The window holding `now`.
    pub fn window(&self, now: DateTime<Utc>) -> Window {
        Window::containing(now.timestamp(), self.window_secs)
    }

    /// The end of each window in which no call is started: a tenth of the window, at most a
    /// second. A call admitted just before a window ends would reach the provider in the next
    /// one, on top of that window's own count.
    pub fn guard(&self) -> TimeDelta {
        let secs = i64::try_from(self.window_secs).unwrap_or(i64::MAX).max(1);
        (TimeDelta::seconds(secs) / 10).min(MAX_GUARD)
    }

    /// Whether a call whose add counted `count` in `window` may go out at `now`; when not, the
    /// time the next window starts (when to try again).
    pub fn admits(
        &self,
        window: Window,
        count: u64,
        now: DateTime<Utc>,
    ) -> Result<(), DateTime<Utc>> {
        let end = Utc
            .timestamp_opt(window.end, 0)
            .single()
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        if count <= self.requests && now < end - self.guard() {
            Ok(())
        } else {
            Err(end)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at_ms(ms: i64) -> DateTime<Utc> {
        Utc.timestamp_millis_opt(1_780_000_000_000 + ms).unwrap()
    }

    const LIMIT: SharedLimit = SharedLimit {
        requests: 20,
        window_secs: 10,
    };

    #[test]
    fn windows_are_aligned_so_every_instance_counts_in_the_same_one() {
        let window = LIMIT.window(at_ms(3_500));
        assert_eq!((window.start, window.end), (1_780_000_000, 1_780_000_010));
        assert_eq!(LIMIT.window(at_ms(9_999)), window);
        assert_eq!(LIMIT.window(at_ms(10_000)).start, 1_780_000_010);
    }

    #[test]
    fn the_limit_admits_up_to_its_count_then_sends_callers_to_the_next_window() {
        let window = LIMIT.window(at_ms(0));
        let next = Utc.timestamp_opt(window.end, 0).unwrap();
        assert_eq!(LIMIT.admits(window, 1, at_ms(100)), Ok(()));
        assert_eq!(LIMIT.admits(window, 20, at_ms(100)), Ok(()));
        assert_eq!(LIMIT.admits(window, 21, at_ms(100)), Err(next));
        assert_eq!(LIMIT.admits(window, 500, at_ms(100)), Err(next));
    }

    #[test]
    fn no_call_starts_in_the_guard_at_the_end_of_a_window() {
        assert_eq!(LIMIT.guard(), TimeDelta::seconds(1));
        let short = SharedLimit {
            requests: 3,
            window_secs: 2,
        };
        assert_eq!(short.guard(), TimeDelta::milliseconds(200));
        let window = LIMIT.window(at_ms(0));
        let next = Utc.timestamp_opt(window.end, 0).unwrap();
        assert_eq!(LIMIT.admits(window, 1, at_ms(8_999)), Ok(()));
        assert_eq!(LIMIT.admits(window, 1, at_ms(9_000)), Err(next));
        assert_eq!(
            LIMIT.admits(window, 1, at_ms(10_500)),
            Err(next),
            "a count from a window that is over admits nothing"
        );
    }

    #[test]
    fn a_zero_window_counts_per_second() {
        let odd = SharedLimit {
            requests: 1,
            window_secs: 0,
        };
        let window = odd.window(at_ms(1_500));
        assert_eq!(window.end - window.start, 1);
        assert_eq!(odd.guard(), TimeDelta::milliseconds(100));
    }
}
