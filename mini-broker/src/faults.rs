//! Faults a test injects on purpose, to prove that a client survives them: drop the connection
//! on the Nth request of an API, before or after applying it, or hold back its response.
//!
//! Dropping after applying is the case idempotent producers exist for: the write happened, the
//! client saw only a disconnect, and its retry must not write the records twice. Dropping
//! before applying is a plain lost request. A delayed response lets a client's request timeout
//! fire while the broker is otherwise healthy.
//!
//! Each fault fires once, on the Nth request of its API that arrives after it was set, counted
//! over all connections from 1. The server asks [`Faults`] about every request, so the path
//! without faults is one atomic load; rules are only looked at while one is waiting.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use ferrokafka_mini_broker::{ApiKey, MiniBroker, When};
//!
//! let broker = MiniBroker::start().await?;
//! // The third Produce from now is written, then its connection closes unanswered.
//! broker.faults().drop_connection(ApiKey::Produce, 3, When::AfterApplying);
//! # Ok(()) }
//! ```

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use kafka_protocol::messages::ApiKey;

/// When a dropped connection closes, relative to what the request does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// The request is read and thrown away: it has no effect.
    BeforeApplying,
    /// The request takes effect (a Produce is written), but its response is never sent.
    AfterApplying,
}

/// What happens to the request a fault is set for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    /// Close the connection, before or after handling the request.
    Drop(When),
    /// Handle the request, then wait this long before sending its response.
    Delay(Duration),
}

/// The faults set on one broker; cheap to clone, all clones share them.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// True while any rule waits: the only thing the server reads when none does.
    armed: AtomicBool,
    rules: Mutex<Vec<Rule>>,
    fired: AtomicU64,
}

#[derive(Debug)]
struct Rule {
    api_key: i16,
    /// Matching requests still to come, this one included, before the fault fires.
    countdown: u64,
    fault: Fault,
}

impl Faults {
    /// Closes the connection of the `nth` request of `api` from now (1 = the next one; 0
    /// counts as 1), without handling it or after handling it.
    pub fn drop_connection(&self, api: ApiKey, nth: u64, when: When) {
        self.add(api, nth, Fault::Drop(when));
    }

    /// Holds back the response to the `nth` request of `api` from now by `delay`. Responses
    /// on a connection go out in order, so later ones on the same connection wait too.
    pub fn delay_response(&self, api: ApiKey, nth: u64, delay: Duration) {
        self.add(api, nth, Fault::Delay(delay));
    }

    /// Faults that have fired since the broker started.
    pub fn fired(&self) -> u64 {
        self.inner.fired.load(Ordering::Acquire)
    }

    /// Faults set but not fired yet.
    pub fn pending(&self) -> usize {
        self.rules().len()
    }

    /// Forgets every fault not fired yet.
    pub fn clear(&self) {
        let mut rules = self.rules();
        rules.clear();
        self.inner.armed.store(false, Ordering::Release);
    }

    fn add(&self, api: ApiKey, nth: u64, fault: Fault) {
        let mut rules = self.rules();
        rules.push(Rule {
            api_key: api as i16,
            countdown: nth.max(1),
            fault,
        });
        self.inner.armed.store(true, Ordering::Release);
    }

    fn rules(&self) -> MutexGuard<'_, Vec<Rule>> {
        // Rules are plain data; a panic elsewhere cannot leave them half-changed.
        self.inner.rules.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The fault for a request frame (header first), if one is due. Counts the request
    /// against every waiting rule for its API; at most one fault fires per request, the
    /// earliest set, and another one due at the same time fires on the next request.
    #[inline]
    pub(crate) fn on_request(&self, frame: &[u8]) -> Option<Fault> {
        if !self.inner.armed.load(Ordering::Acquire) {
            return None;
        }
        self.count(frame)
    }

    #[cold]
    fn count(&self, frame: &[u8]) -> Option<Fault> {
        let api_key = i16::from_be_bytes([*frame.first()?, *frame.get(1)?]);
        let mut rules = self.rules();
        for rule in rules.iter_mut().filter(|r| r.api_key == api_key) {
            rule.countdown = rule.countdown.saturating_sub(1);
        }
        let due = rules.iter().position(|r| r.countdown == 0)?;
        let fault = rules.remove(due).fault;
        if rules.is_empty() {
            self.inner.armed.store(false, Ordering::Release);
        }
        self.inner.fired.fetch_add(1, Ordering::AcqRel);
        tracing::info!(api_key, ?fault, "injecting fault");
        Some(fault)
    }
}

/// Runs `work` (handling one request) under `fault`: `None` means close the connection
/// without an answer.
pub(crate) async fn apply<T>(fault: Option<Fault>, work: impl Future<Output = T>) -> Option<T> {
    match fault {
        None => Some(work.await),
        Some(Fault::Drop(When::BeforeApplying)) => None,
        Some(Fault::Drop(When::AfterApplying)) => {
            work.await;
            None
        }
        Some(Fault::Delay(delay)) => {
            let out = work.await;
            tokio::time::sleep(delay).await;
            Some(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(key: ApiKey) -> [u8; 2] {
        (key as i16).to_be_bytes()
    }

    #[test]
    fn fires_once_on_the_nth_request_of_its_api() {
        let faults = Faults::default();
        assert_eq!(faults.on_request(&frame(ApiKey::Produce)), None);
        faults.drop_connection(ApiKey::Produce, 2, When::AfterApplying);
        assert_eq!(
            faults.on_request(&frame(ApiKey::Fetch)),
            None,
            "other APIs don't count"
        );
        assert_eq!(faults.on_request(&frame(ApiKey::Produce)), None);
        assert_eq!(
            faults.on_request(&frame(ApiKey::Produce)),
            Some(Fault::Drop(When::AfterApplying))
        );
        assert_eq!(
            faults.on_request(&frame(ApiKey::Produce)),
            None,
            "only once"
        );
        assert_eq!((faults.fired(), faults.pending()), (1, 0));
        assert!(
            !faults.inner.armed.load(Ordering::Acquire),
            "disarmed when empty"
        );
    }

    #[test]
    fn rules_due_together_fire_one_per_request() {
        let faults = Faults::default();
        faults.drop_connection(ApiKey::Produce, 0, When::BeforeApplying);
        faults.delay_response(ApiKey::Produce, 1, Duration::from_millis(5));
        assert_eq!(
            faults.on_request(&frame(ApiKey::Produce)),
            Some(Fault::Drop(When::BeforeApplying))
        );
        assert_eq!(
            faults.on_request(&frame(ApiKey::Produce)),
            Some(Fault::Delay(Duration::from_millis(5)))
        );
        assert_eq!(faults.fired(), 2);
    }

    #[test]
    fn short_frames_and_clear() {
        let faults = Faults::default();
        faults.drop_connection(ApiKey::Metadata, 1, When::BeforeApplying);
        assert_eq!(faults.on_request(&[0]), None, "no api key: nothing counted");
        faults.clear();
        assert_eq!(faults.on_request(&frame(ApiKey::Metadata)), None);
        assert_eq!(faults.pending(), 0);
    }
}
