//! What the consumer hands out: [`ConsumerRecord`], and the [`TopicPartition`] that names
//! where it came from.
//!
//! Key, value and header values are `Bytes` slices of the fetch response (or of the one
//! inflated buffer of a compressed batch), so handing out a record copies no payload; the
//! topic name is an `Arc<str>` shared by every record of the partition.

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
pub use ferrokafka_protocol::record::{Header, TimestampType};

/// A topic and partition.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicPartition {
    /// The topic name.
    pub topic: String,
    /// The partition index.
    pub partition: i32,
}

impl TopicPartition {
    /// `topic`/`partition`.
    pub fn new(topic: impl Into<String>, partition: i32) -> Self {
        TopicPartition {
            topic: topic.into(),
            partition,
        }
    }
}

impl fmt::Display for TopicPartition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.topic, self.partition)
    }
}

impl<S: Into<String>> From<(S, i32)> for TopicPartition {
    fn from((topic, partition): (S, i32)) -> Self {
        TopicPartition::new(topic, partition)
    }
}

/// One record read from a partition.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConsumerRecord {
    /// The topic.
    pub topic: Arc<str>,
    /// The partition.
    pub partition: i32,
    /// The record's offset. Committing `offset + 1` marks it (and everything before) done.
    pub offset: i64,
    /// Milliseconds since the epoch; its meaning is in `timestamp_type`.
    pub timestamp: i64,
    /// Create time (the producer's clock) or log-append time (the broker's).
    pub timestamp_type: TimestampType,
    /// `None` is a null key.
    pub key: Option<Bytes>,
    /// `None` is a null value (a tombstone on compacted topics).
    pub value: Option<Bytes>,
    /// Headers in wire order, duplicates kept.
    pub headers: Vec<Header>,
    /// The partition leader epoch of the batch (-1 when the broker did not stamp one).
    pub leader_epoch: i32,
}

impl ConsumerRecord {
    /// Where the record came from.
    pub fn topic_partition(&self) -> TopicPartition {
        TopicPartition::new(&*self.topic, self.partition)
    }
}
