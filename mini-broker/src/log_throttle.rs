//! Rate limits for log lines that a client, or the machine, can cause over and over: a
//! refused connection, a failed accept, a topic not auto-created. The first occurrence is
//! logged at once; after that at most one line per interval, which says how many were not
//! logged in between, so a flood costs a few lines instead of gigabytes.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How often a throttled line may repeat.
pub(crate) const LOG_INTERVAL: Duration = Duration::from_secs(10);

/// One throttled kind of log line. Not locked: owners that share it wrap it in a mutex
/// ([`SharedLogThrottle`]).
#[derive(Debug)]
pub(crate) struct LogThrottle {
    every: Duration,
    last: Option<Instant>,
    /// Occurrences since the last line that were not logged.
    suppressed: u64,
}

impl LogThrottle {
    /// A throttle that lets one line through every `every`.
    pub(crate) fn new(every: Duration) -> Self {
        LogThrottle {
            every,
            last: None,
            suppressed: 0,
        }
    }

    /// Counts one occurrence at `now`: `Some(n)` when it should be logged, `n` being how many
    /// were left out since the last line; `None` when it should not.
    pub(crate) fn check(&mut self, now: Instant) -> Option<u64> {
        let due = self
            .last
            .is_none_or(|last| now.saturating_duration_since(last) >= self.every);
        if due {
            self.last = Some(now);
            Some(std::mem::take(&mut self.suppressed))
        } else {
            self.suppressed = self.suppressed.saturating_add(1);
            None
        }
    }

    /// Starts over: the next occurrence is logged at once (a new episode).
    pub(crate) fn reset(&mut self) {
        self.last = None;
        self.suppressed = 0;
    }
}

/// A [`LogThrottle`] shared by tasks.
#[derive(Debug)]
pub(crate) struct SharedLogThrottle(Mutex<LogThrottle>);

impl SharedLogThrottle {
    /// A shared throttle that lets one line through every [`LOG_INTERVAL`].
    pub(crate) fn new() -> Self {
        SharedLogThrottle(Mutex::new(LogThrottle::new(LOG_INTERVAL)))
    }

    /// As [`LogThrottle::check`], now.
    pub(crate) fn check(&self) -> Option<u64> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .check(Instant::now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_is_logged_then_one_per_interval_with_the_count_left_out() {
        let start = Instant::now();
        let at = |ms: u64| start + Duration::from_millis(ms);
        let mut throttle = LogThrottle::new(Duration::from_secs(10));
        assert_eq!(throttle.check(at(0)), Some(0));
        for ms in [1, 500, 9_999] {
            assert_eq!(throttle.check(at(ms)), None, "at {ms} ms");
        }
        assert_eq!(throttle.check(at(10_000)), Some(3));
        assert_eq!(throttle.check(at(10_001)), None);
        throttle.reset();
        assert_eq!(
            throttle.check(at(10_002)),
            Some(0),
            "a new episode logs at once"
        );
    }
}
