//! [`ProducerRecord`] (what an application sends) and [`RecordMetadata`] (where it landed).
//!
//! A record owns its key, value and headers as `Bytes`, so handing it to the producer moves
//! pointers, not payloads; the payload is copied once, into its batch. The topic is a
//! `Cow<'static, str>` so that the common case, a literal topic name, costs no allocation per
//! record.
//!
//! What not: no serializers (keys and values are bytes), no per-record callbacks (await the
//! [`crate::producer::DeliveryFuture`]).

use std::borrow::Cow;

use bytes::Bytes;
use ferrokafka_protocol::record::Header;

/// A record to send, built with chained setters:
///
/// ```
/// use ferrokafka::producer::ProducerRecord;
///
/// let record = ProducerRecord::new("events")
///     .key("user-1")
///     .value("signed up")
///     .header("trace", "abc")
///     .header("trace", "def"); // duplicates are kept, in order
/// assert_eq!(record.headers.len(), 2);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProducerRecord {
    /// The topic.
    pub topic: Cow<'static, str>,
    /// An explicit partition; `None` lets the partitioner choose.
    pub partition: Option<i32>,
    /// `None` is a null key (the record is partitioned sticky).
    pub key: Option<Bytes>,
    /// `None` is a null value (a tombstone on compacted topics).
    pub value: Option<Bytes>,
    /// Headers in order; duplicate keys are kept.
    pub headers: Vec<Header>,
    /// Create time in milliseconds since the epoch; `None` stamps the time of `send`.
    pub timestamp: Option<i64>,
}

impl ProducerRecord {
    /// A record for `topic` with no key, value, headers, partition or timestamp.
    pub fn new(topic: impl Into<Cow<'static, str>>) -> Self {
        ProducerRecord {
            topic: topic.into(),
            partition: None,
            key: None,
            value: None,
            headers: Vec::new(),
            timestamp: None,
        }
    }

    /// Sets the key.
    pub fn key(mut self, key: impl Into<Bytes>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// Sets the value.
    pub fn value(mut self, value: impl Into<Bytes>) -> Self {
        self.value = Some(value.into());
        self
    }

    /// Appends a header (an existing one with the same key stays).
    pub fn header(mut self, key: impl Into<String>, value: impl Into<Bytes>) -> Self {
        self.headers.push(Header::new(key, value));
        self
    }

    /// Appends a header with a null value.
    pub fn null_header(mut self, key: impl Into<String>) -> Self {
        self.headers.push(Header::null(key));
        self
    }

    /// Sends to this partition, bypassing the partitioner.
    pub fn partition(mut self, partition: i32) -> Self {
        self.partition = Some(partition);
        self
    }

    /// Sets the create time (ms since the epoch).
    pub fn timestamp(mut self, timestamp: i64) -> Self {
        self.timestamp = Some(timestamp);
        self
    }

    /// An upper bound of the record's encoded size in a batch, whatever its deltas turn out
    /// to be: what `buffer.memory` and `max.request.size` are charged.
    pub(crate) fn size_upper_bound(&self) -> usize {
        // length, attributes, timestamp delta, offset delta, key and value lengths, header
        // count: varints at their widest.
        let mut n: usize = 5 + 1 + 10 + 5 + 5 + 5 + 5;
        n = n.saturating_add(self.key.as_ref().map_or(0, Bytes::len));
        n = n.saturating_add(self.value.as_ref().map_or(0, Bytes::len));
        for h in &self.headers {
            n = n
                .saturating_add(10)
                .saturating_add(h.key.len())
                .saturating_add(h.value.as_ref().map_or(0, Bytes::len));
        }
        n
    }
}

/// Where a record was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecordMetadata {
    /// The partition.
    pub partition: i32,
    /// The offset; `None` with `acks=0` (the broker does not answer), and for a retry the
    /// broker recognised as a duplicate of a batch it no longer remembers
    /// (DUPLICATE_SEQUENCE_NUMBER), whose offset is unknown.
    pub offset: Option<i64>,
    /// The record's create time, or the broker's append time on a topic with
    /// `message.timestamp.type=LogAppendTime`.
    pub timestamp: i64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrokafka_protocol::record::{BatchBuilder, RecordInput};

    #[test]
    fn size_upper_bound_covers_what_the_builder_writes() {
        let records = [
            ProducerRecord::new("t"),
            ProducerRecord::new("t").key("k").value(vec![7u8; 300]),
            ProducerRecord::new("t")
                .value("v")
                .header("a", "1")
                .null_header("b")
                .header("a", vec![0u8; 200]),
        ];
        let mut builder = BatchBuilder::new();
        for (i, r) in records.iter().enumerate() {
            let before = builder.estimated_size();
            builder
                .push(RecordInput {
                    // Far from the base timestamp: the widest delta in practice.
                    timestamp: 1_000 + (i as i64) * 100_000_000_000,
                    key: r.key.clone(),
                    value: r.value.clone(),
                    headers: r.headers.clone(),
                })
                .unwrap();
            assert!(
                builder.estimated_size() - before <= r.size_upper_bound(),
                "record {i}"
            );
        }
    }
}
