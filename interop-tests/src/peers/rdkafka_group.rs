//! librdkafka group consumers through the `rdkafka` crate: `BaseConsumer`s that subscribe to a
//! topic in a consumer group, driven from one thread with bounded waits.
//!
//! Settings favour quick tests on every broker: heartbeats every 100 ms (members learn of a
//! rebalance within that), the broker's minimum session timeout of 6 s, manual commits, and
//! reading from the earliest offset when nothing is committed.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::message::Message;
use rdkafka::{ClientContext, Offset, TopicPartitionList};

use super::Settings;

/// One record as a group member read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// The member's index in the slice given to [`poll_until`].
    pub member: usize,
    /// Partition read from.
    pub partition: i32,
    /// Its offset.
    pub offset: i64,
    /// Its value (empty for null).
    pub value: Vec<u8>,
}

/// Counts the rebalances (assignments and revocations) a member went through.
#[derive(Clone, Default)]
struct RebalanceCounter(Arc<AtomicUsize>);

impl ClientContext for RebalanceCounter {}

impl ConsumerContext for RebalanceCounter {
    fn pre_rebalance(&self, _: &BaseConsumer<Self>, _: &Rebalance<'_>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// A consumer subscribed to one topic in a group.
pub struct GroupConsumer {
    consumer: BaseConsumer<RebalanceCounter>,
    rebalances: RebalanceCounter,
    topic: String,
}

impl std::fmt::Debug for GroupConsumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupConsumer")
            .field("topic", &self.topic)
            .finish_non_exhaustive()
    }
}

impl GroupConsumer {
    /// Creates a consumer in `group` and subscribes it to `topic`; `settings` override the
    /// defaults above (e.g. `partition.assignment.strategy`, `group.instance.id`).
    pub fn subscribe(bootstrap: &str, group: &str, topic: &str, settings: Settings) -> Self {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", bootstrap)
            .set("group.id", group)
            .set("enable.auto.commit", "false")
            .set("auto.offset.reset", "earliest")
            .set("session.timeout.ms", "6000")
            .set("heartbeat.interval.ms", "100")
            .set("enable.partition.eof", "false")
            .set("log_level", "4");
        for (k, v) in settings {
            config.set(*k, *v);
        }
        let rebalances = RebalanceCounter::default();
        let consumer: BaseConsumer<RebalanceCounter> = config
            .create_with_context(rebalances.clone())
            .expect("rdkafka group consumer");
        consumer.subscribe(&[topic]).expect("subscribe");
        GroupConsumer {
            consumer,
            rebalances,
            topic: topic.to_owned(),
        }
    }

    /// How many assignment and revocation events this member has handled.
    pub fn rebalances(&self) -> usize {
        self.rebalances.0.load(Ordering::SeqCst)
    }

    /// The partitions currently assigned to this member, sorted.
    pub fn assigned(&self) -> Vec<i32> {
        let mut partitions: Vec<i32> = self
            .consumer
            .assignment()
            .expect("assignment")
            .elements()
            .iter()
            .filter(|e| e.topic() == self.topic)
            .map(|e| e.partition())
            .collect();
        partitions.sort_unstable();
        partitions
    }

    /// Polls once for up to `wait`; a consumer error fails the test.
    pub fn poll(&self, member: usize, wait: Duration) -> Option<Received> {
        match self.consumer.poll(wait)? {
            Ok(m) => Some(Received {
                member,
                partition: m.partition(),
                offset: m.offset(),
                value: m.payload().map(<[u8]>::to_vec).unwrap_or_default(),
            }),
            Err(e) => panic!("rdkafka group consumer {member}: {e}"),
        }
    }

    /// Commits the positions of the assigned partitions and waits for the broker's answer.
    pub fn commit(&self) {
        self.consumer
            .commit_consumer_state(CommitMode::Sync)
            .expect("commit");
    }

    /// The group's committed offsets of `partitions` of the topic, as the coordinator reports
    /// them (-1001, librdkafka's "invalid", where nothing is committed).
    pub fn committed(&self, partitions: i32) -> BTreeMap<i32, i64> {
        let mut tpl = TopicPartitionList::new();
        for p in 0..partitions {
            tpl.add_partition(&self.topic, p);
        }
        let committed = self
            .consumer
            .committed_offsets(tpl, Duration::from_secs(10))
            .expect("committed offsets");
        committed
            .elements()
            .iter()
            .map(|e| {
                let offset = match e.offset() {
                    Offset::Offset(o) => o,
                    other => other.to_raw().unwrap_or(-1001),
                };
                (e.partition(), offset)
            })
            .collect()
    }
}

/// Polls every member in turn (up to `slice` each) until `done` holds for them, handing
/// every record read to `seen`; fails after `timeout`, naming `what`.
pub fn poll_until(
    members: &[&GroupConsumer],
    what: &str,
    timeout: Duration,
    mut seen: impl FnMut(Received),
    mut done: impl FnMut(&[&GroupConsumer]) -> bool,
) {
    let deadline = Instant::now() + timeout;
    let slice = Duration::from_millis(20);
    loop {
        if done(members) {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        for (i, member) in members.iter().enumerate() {
            // Drain what is there, then move on so every member's callbacks are served.
            while let Some(received) = member.poll(i, slice) {
                seen(received);
            }
        }
    }
}

/// True when the members' assignments are non-empty, disjoint and together are exactly
/// partitions `0..partitions`.
pub fn assignments_cover(members: &[&GroupConsumer], partitions: i32) -> bool {
    let mut all: Vec<i32> = Vec::new();
    for member in members {
        let mine = member.assigned();
        if mine.is_empty() {
            return false;
        }
        all.extend(mine);
    }
    all.sort_unstable();
    all == (0..partitions).collect::<Vec<_>>()
}
