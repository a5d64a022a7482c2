//! Classic consumer-group membership: one background task per subscribed consumer that
//! finds the coordinator, joins (JoinGroup, SyncGroup), heartbeats, rejoins when told to and
//! leaves on close; plus the assignors its leader runs and the embedded protocol bytes.
//!
//! Why a task: heartbeats must go on while the application processes records, and a
//! JoinGroup may be held by the coordinator for the whole rebalance timeout. The task talks to
//! the [`Consumer`](super::Consumer) through two channels: it sends [`GroupEvent`]s (revoke,
//! assign, failed) that the consumer acts on inside `recv`/`poll`, where the application's
//! rebalance listener runs; the consumer answers a revocation with [`Command::RevokeDone`]
//! once the listener returned and its commit finished, and only then does the task rejoin
//! (eager protocol) or carry on (cooperative). So a partition is never handed to a new owner
//! while this member might still commit or hand out records for it.
//!
//! What not: the KIP-848 "consumer" group protocol (ConsumerGroupHeartbeat), regex
//! subscriptions, rack-aware assignment.

pub(crate) mod assignor;
pub(crate) mod coordinator;
mod member;
pub(crate) mod protocol;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::config::ConsumerConfig;
use super::offsets::Committer;
use super::record::TopicPartition;
use crate::error::Error;
use coordinator::CoordinatorLink;

/// What the member task tells the consumer.
#[derive(Debug)]
pub(crate) enum GroupEvent {
    /// Give these partitions up (`lost`: they are already someone else's) and answer with
    /// [`Command::RevokeDone`]. May be empty: then it only waits for the consumer to poll.
    Revoke {
        partitions: Vec<TopicPartition>,
        lost: bool,
    },
    /// The full assignment of `generation`.
    Assign {
        partitions: Vec<TopicPartition>,
        generation: i32,
    },
    /// Membership failed for good (e.g. FENCED_INSTANCE_ID); the task has stopped.
    Failed(Error),
}

/// What the consumer tells the member task.
#[derive(Debug)]
pub(crate) enum Command {
    /// A new topic list; rejoin if it differs.
    Subscribe(Vec<String>),
    /// The last [`GroupEvent::Revoke`] is done.
    RevokeDone,
    /// Leave the group (unless static) and stop; answered when done.
    Leave(oneshot::Sender<()>),
}

/// State the consumer and the task share.
#[derive(Debug)]
pub(crate) struct MemberShared {
    /// Generation and member id for commits.
    committer: Mutex<Committer>,
    /// When the application last called (or returned from) `recv`/`poll`.
    last_poll: Mutex<Instant>,
    /// `recv`/`poll` calls in progress: waiting inside one counts as polling, as in Java.
    polling: AtomicUsize,
}

impl MemberShared {
    pub(crate) fn committer(&self) -> Committer {
        self.committer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn set_committer(&self, c: Committer) {
        *self.committer.lock().unwrap_or_else(|p| p.into_inner()) = c;
    }

    fn mark_polled(&self) {
        *self.last_poll.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
    }

    /// Marks a `recv`/`poll` in progress until the guard is dropped.
    pub(crate) fn polling(self: &Arc<Self>) -> PollGuard {
        self.mark_polled();
        self.polling.fetch_add(1, Ordering::SeqCst);
        PollGuard(Arc::clone(self))
    }

    /// True when the application neither is in a poll nor has polled within `limit`.
    fn poll_expired(&self, limit: std::time::Duration) -> bool {
        self.polling.load(Ordering::SeqCst) == 0
            && self
                .last_poll
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .elapsed()
                > limit
    }
}

/// A `recv`/`poll` in progress (see [`MemberShared::polling`]).
#[derive(Debug)]
pub(crate) struct PollGuard(Arc<MemberShared>);

impl Drop for PollGuard {
    fn drop(&mut self) {
        self.0.mark_polled();
        self.0.polling.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The consumer's side of a running member task.
#[derive(Debug)]
pub(crate) struct GroupHandle {
    pub commands: mpsc::UnboundedSender<Command>,
    pub events: mpsc::UnboundedReceiver<GroupEvent>,
    pub shared: Arc<MemberShared>,
    task: JoinHandle<()>,
}

impl GroupHandle {
    /// Starts the member task for `topics`.
    pub(crate) fn start(
        link: Arc<CoordinatorLink>,
        config: &ConsumerConfig,
        topics: Vec<String>,
    ) -> GroupHandle {
        let shared = Arc::new(MemberShared {
            committer: Mutex::new(Committer {
                generation: -1,
                member_id: String::new(),
                instance_id: config.group_instance_id.clone(),
            }),
            last_poll: Mutex::new(Instant::now()),
            polling: AtomicUsize::new(0),
        });
        let (commands, command_rx) = mpsc::unbounded_channel();
        let (event_tx, events) = mpsc::unbounded_channel();
        let task = tokio::spawn(member::run(
            link,
            config.clone(),
            topics,
            Arc::clone(&shared),
            event_tx,
            command_rx,
        ));
        GroupHandle {
            commands,
            events,
            shared,
            task,
        }
    }

    /// Leaves the group and waits for the task to end (bounded by the caller).
    pub(crate) async fn leave(self) {
        let (tx, rx) = oneshot::channel();
        if self.commands.send(Command::Leave(tx)).is_ok() {
            let _ = rx.await;
        }
        let _ = self.task.await;
    }
}
