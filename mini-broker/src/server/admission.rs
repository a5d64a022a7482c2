//! Who gets in: the pause after a failed accept, and the broker-wide connection limit
//! (Kafka's `max.connections`).
//!
//! A failed accept is most often the process out of file descriptors (EMFILE): retried at
//! once it fails again at once, spinning a core and writing a log line per try until some
//! connection closes. So the accept loop pauses instead, 10 ms after the first failure and
//! twice as long after each further one up to 1 s, while it goes on serving the connections
//! it has; it logs one warning when an episode starts (what failed and why), at most one per
//! 10 s while it lasts, and an info line when an accept succeeds again.
//!
//! Over the connection limit a new connection is closed at once, with a warning (at most one
//! per 10 s) naming the limit; the connections already open are served as before. Kafka's
//! acceptor instead stops accepting until a connection closes, leaving new ones waiting in
//! the listen backlog; closing them tells the client at once, and it reconnects after its
//! back-off.

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::log_throttle::{LogThrottle, SharedLogThrottle, LOG_INTERVAL};
use crate::security::SecurityProtocol;
use crate::state::BrokerState;

/// The pause after the first failed accept of an episode.
const FIRST_PAUSE: Duration = Duration::from_millis(10);
/// The longest pause between accepts.
const MAX_PAUSE: Duration = Duration::from_secs(1);

/// What one listener's accept loop does after failed accepts.
#[derive(Debug)]
pub(crate) struct AcceptBackoff {
    /// Failed accepts since the last one that succeeded.
    failures: u64,
    /// When the first of them failed.
    since: Option<Instant>,
    log: LogThrottle,
}

/// What to do after a failed accept.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Pause {
    /// How long to wait before accepting again.
    pub(crate) delay: Duration,
    /// `Some(n)` when this failure is to be logged, `n` failures having been left out since
    /// the last line.
    pub(crate) log: Option<u64>,
}

impl Default for AcceptBackoff {
    fn default() -> Self {
        AcceptBackoff {
            failures: 0,
            since: None,
            log: LogThrottle::new(LOG_INTERVAL),
        }
    }
}

impl AcceptBackoff {
    /// An accept failed at `now`.
    pub(crate) fn failed(&mut self, now: Instant) -> Pause {
        self.failures = self.failures.saturating_add(1);
        self.since.get_or_insert(now);
        let doublings = u32::try_from(self.failures - 1).unwrap_or(u32::MAX).min(16);
        let delay = FIRST_PAUSE.saturating_mul(1 << doublings).min(MAX_PAUSE);
        Pause {
            delay,
            log: self.log.check(now),
        }
    }

    /// An accept succeeded at `now`: `Some((failed accepts, how long they lasted))` when that
    /// ends an episode of failures.
    pub(crate) fn succeeded(&mut self, now: Instant) -> Option<(u64, Duration)> {
        let since = self.since.take()?;
        let failures = std::mem::take(&mut self.failures);
        self.log.reset();
        Some((failures, now.saturating_duration_since(since)))
    }
}

/// Whether an accept error concerns one peer alone (it went away before it was accepted):
/// nothing to pause for.
pub(crate) fn peer_gone(err: &std::io::Error) -> bool {
    matches!(
        err.kind(),
        ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset
    )
}

/// Why an accept failed, for the log line.
pub(crate) fn accept_failure_cause(err: &std::io::Error) -> &'static str {
    // EMFILE and ENFILE have the same numbers on Linux, the BSDs and macOS.
    match err.raw_os_error() {
        Some(24) if cfg!(unix) => {
            "the process is out of file descriptors (raise `ulimit -n`, or lower --max-connections)"
        }
        Some(23) if cfg!(unix) => "the system is out of file descriptors",
        _ => "the operating system refused to hand over a new connection",
    }
}

/// The broker-wide limit on open connections, shared by every listener.
#[derive(Debug)]
pub(crate) struct ConnectionLimit {
    slots: Arc<Semaphore>,
    max: usize,
    refused_log: SharedLogThrottle,
}

impl ConnectionLimit {
    /// At most `max` connections open at once (clamped to what a semaphore holds).
    pub(crate) fn new(max: usize) -> Self {
        let max = max.min(Semaphore::MAX_PERMITS);
        ConnectionLimit {
            slots: Arc::new(Semaphore::new(max)),
            max,
            refused_log: SharedLogThrottle::new(),
        }
    }

    /// A slot for a connection from `peer`, held as long as the connection is open; `None`
    /// (counted, and logged at most once per 10 s) when all are taken: the caller closes it.
    pub(crate) fn admit(
        &self,
        peer: SocketAddr,
        listener: SecurityProtocol,
        state: &BrokerState,
    ) -> Option<OwnedSemaphorePermit> {
        if let Ok(slot) = Arc::clone(&self.slots).try_acquire_owned() {
            return Some(slot);
        }
        state.stats(|s| s.over_connection_limit += 1);
        if let Some(left_out) = self.refused_log.check() {
            tracing::warn!(
                %peer,
                %listener,
                max_connections = self.max,
                refused_since_last_line = left_out,
                "closing new connection: {} connections are open, the broker's limit \
                 (--max-connections, Kafka's max.connections)",
                self.max
            );
        }
        None
    }

    /// How many connections are open now.
    pub(crate) fn open(&self) -> usize {
        self.max.saturating_sub(self.slots.available_permits())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_accepts_pause_longer_each_time_up_to_a_second_and_log_once_per_episode() {
        let start = Instant::now();
        let mut backoff = AcceptBackoff::default();
        let delays: Vec<u64> = (0..10)
            .map(|i| {
                let pause = backoff.failed(start + Duration::from_millis(i));
                assert_eq!(pause.log.is_some(), i == 0, "failure {i} logged?");
                u64::try_from(pause.delay.as_millis()).unwrap()
            })
            .collect();
        assert_eq!(
            delays,
            [10, 20, 40, 80, 160, 320, 640, 1000, 1000, 1000],
            "never zero (no spinning), never above a second"
        );
        // Ten seconds into the episode one more line, counting the nine left out.
        let later = backoff.failed(start + Duration::from_secs(10));
        assert_eq!(
            later,
            Pause {
                delay: MAX_PAUSE,
                log: Some(9)
            }
        );

        let ended = backoff.succeeded(start + Duration::from_secs(11));
        assert_eq!(ended, Some((11, Duration::from_secs(11))));
        assert_eq!(backoff.succeeded(start + Duration::from_secs(12)), None);
        // The next episode starts over: short pause, logged at once.
        let next = backoff.failed(start + Duration::from_secs(13));
        assert_eq!(
            next,
            Pause {
                delay: FIRST_PAUSE,
                log: Some(0)
            }
        );
    }

    #[test]
    fn a_peer_that_left_before_its_accept_is_not_a_reason_to_pause() {
        assert!(peer_gone(&std::io::Error::from(
            ErrorKind::ConnectionAborted
        )));
        assert!(!peer_gone(&std::io::Error::from_raw_os_error(24)));
        #[cfg(unix)]
        assert!(accept_failure_cause(&std::io::Error::from_raw_os_error(24))
            .contains("file descriptors"));
    }
}
