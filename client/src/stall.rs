//! [`Stall`]: one warn line when something has not made progress for a while, one info line
//! when it does again.
//!
//! Why: a retry loop that logs each failure at debug hides an outage from anyone reading
//! warn-level logs, and one that logs each failure at warn floods them. A stall is an
//! *episode*: it starts with the first failure after progress, is reported once it has lasted
//! [`STALL_WARN_AFTER`] (with what is stuck, for how long, and the latest error), and ends
//! with the next success, which is reported only if the stall was.
//!
//! What not: no rate limiting across different stalls; each retry loop owns its own.

use std::fmt;
use std::time::Duration;

use tokio::time::Instant;

/// How long something may fail before it is reported at warn.
pub const STALL_WARN_AFTER: Duration = Duration::from_secs(5);

/// The failure state of one thing that is retried (a broker connection, a coordinator
/// lookup, a partition without a leader).
#[derive(Debug, Default)]
pub(crate) struct Stall {
    /// When the current episode began; `None` while making progress.
    since: Option<Instant>,
    /// Whether this episode has been reported.
    warned: bool,
}

impl Stall {
    /// Records a failure of `what` (e.g. `connecting to node 2 at 127.0.0.1:9093`); warns once
    /// per episode when it has lasted long enough.
    pub(crate) fn failed(&mut self, what: impl fmt::Display, err: impl fmt::Display) {
        let since = *self.since.get_or_insert_with(Instant::now);
        let stalled = since.elapsed();
        if !self.warned && stalled >= STALL_WARN_AFTER {
            self.warned = true;
            tracing::warn!(stalled_for = ?stalled, error = %err, "no progress {what}");
        }
    }

    /// Whether an episode is under way (the last thing recorded was a failure).
    pub(crate) fn stalled(&self) -> bool {
        self.since.is_some()
    }

    /// Records progress of `what`; reports the end of a reported episode.
    pub(crate) fn progressed(&mut self, what: impl fmt::Display) {
        if let Some(since) = self.since.take() {
            if std::mem::take(&mut self.warned) {
                tracing::info!(stalled_for = ?since.elapsed(), "progress again {what}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn an_episode_is_reported_once_and_ends_with_progress() {
        let mut stall = Stall::default();
        assert_eq!(stall.since, None);
        stall.failed("x", "refused");
        assert!(!stall.warned, "too early to warn");
        tokio::time::advance(STALL_WARN_AFTER).await;
        stall.failed("x", "refused");
        assert!(stall.warned);
        assert!(stall.stalled());
        stall.progressed("x");
        assert!(!stall.stalled());
        assert!(!stall.warned);
        assert_eq!(stall.since, None);
        // A new episode starts from zero.
        stall.failed("x", "refused");
        assert!(!stall.warned);
        assert_eq!(stall.since, Some(Instant::now()));
    }
}
