//! The coordinator's one timer task: sleeps until the earliest deadline of any group (or until
//! an operation may have moved one earlier), then acts on every deadline that has passed.
//!
//! It is aborted when the coordinator is dropped, which happens when the broker's state goes
//! away after shutdown; it never holds the lock while it sleeps.

use std::sync::Arc;

use tokio::time::Instant;

use super::Shared;

pub(super) async fn run(shared: Arc<Shared>) {
    loop {
        // Take the permit an operation left before looking, so a change made after the
        // look wakes us again instead of being missed.
        let changed = shared.deadlines_changed.notified();
        let next = {
            let mut groups = shared.lock();
            groups.expire(Instant::now());
            groups.next_deadline()
        };
        match next {
            Some(at) => {
                tokio::select! {
                    _ = tokio::time::sleep_until(at) => {}
                    _ = changed => {}
                }
            }
            None => changed.await,
        }
    }
}
