//! [`ProducerRecord`] (what an application sends) and [`RecordMetadata`] (where it landed).
//!
//! A record owns its key, value and headers as `Bytes`, so handing it to the producer moves
//! pointers, not payloads; the payload is copied once, into its batch. The topic is an
//! `Arc<str>`, as on [`crate::ConsumerRecord`]: [`ProducerRecord::new`] takes anything
//! [`IntoTopic`] (`&str`, `String`, `Arc<str>`, `&Arc<str>`), so a closure can build records
//! from a borrowed name, and an application that holds the name as an `Arc<str>` pays a
//! reference-count increment per record instead of a copy of the name.
//!
//! What not: no serializers (keys and values are bytes), no per-record callbacks (await the
//! [`crate::producer::DeliveryFuture`]).

use std::borrow::Cow;
use std::sync::Arc;

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
///
/// Many records for one topic: hold the name as an `Arc<str>` and pass `&topic` (or
/// `topic.clone()`); each record then shares the name instead of copying it. A `&str` or
/// `String` works too, at the cost of one small allocation per record:
///
/// ```
/// use std::sync::Arc;
/// use ferrokafka::producer::ProducerRecord;
///
/// let topic: Arc<str> = Arc::from("events");
/// let records: Vec<ProducerRecord> = ["a", "b"]
///     .into_iter()
///     .map(|v| ProducerRecord::new(&topic).value(v))
///     .collect();
/// assert!(Arc::ptr_eq(&records[0].topic, &topic));
///
/// // A borrowed name, e.g. a function argument, is fine as well.
/// fn for_topic<'a>(topic: &'a str) -> impl Fn(&str) -> ProducerRecord + 'a {
///     move |v| ProducerRecord::new(topic).value(v.to_owned())
/// }
/// assert_eq!(&*for_topic("events")("c").topic, "events");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProducerRecord {
    /// The topic, shared rather than copied (see [`IntoTopic`]).
    pub topic: Arc<str>,
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
    /// A record for `topic` with no key, value, headers, partition or timestamp. `topic` is
    /// a `&str`, `String`, `Arc<str>` or `&Arc<str>`; the last two are the cheap ones.
    pub fn new(topic: impl IntoTopic) -> Self {
        ProducerRecord {
            topic: topic.into_topic(),
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

/// A topic name as [`ProducerRecord::new`] takes it: anything that can become the record's
/// `Arc<str>`. A trait rather than `Into<Arc<str>>` because the standard library has no
/// `From<&Arc<str>>`, and `&topic` is the form that costs least per record.
pub trait IntoTopic {
    /// The name as an `Arc<str>`: shared for `Arc<str>` and `&Arc<str>`, copied otherwise.
    fn into_topic(self) -> Arc<str>;
}

impl IntoTopic for Arc<str> {
    fn into_topic(self) -> Arc<str> {
        self
    }
}

impl IntoTopic for &Arc<str> {
    fn into_topic(self) -> Arc<str> {
        Arc::clone(self)
    }
}

impl IntoTopic for &str {
    fn into_topic(self) -> Arc<str> {
        Arc::from(self)
    }
}

impl IntoTopic for String {
    fn into_topic(self) -> Arc<str> {
        Arc::from(self)
    }
}

impl IntoTopic for &String {
    fn into_topic(self) -> Arc<str> {
        Arc::from(self.as_str())
    }
}

impl IntoTopic for Cow<'_, str> {
    fn into_topic(self) -> Arc<str> {
        Arc::from(self)
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
    fn every_topic_form_gives_the_same_record_and_arcs_are_shared() {
        let shared: Arc<str> = Arc::from("t");
        let owned = String::from("t");
        let records = [
            ProducerRecord::new("t"),
            ProducerRecord::new(owned.clone()),
            ProducerRecord::new(&owned),
            ProducerRecord::new(Cow::Borrowed("t")),
            ProducerRecord::new(Arc::clone(&shared)),
            ProducerRecord::new(&shared),
        ];
        assert!(records.iter().all(|r| r == &records[0]));
        assert!(Arc::ptr_eq(&records[4].topic, &shared));
        assert!(Arc::ptr_eq(&records[5].topic, &shared));
        assert!(!Arc::ptr_eq(&records[2].topic, &shared));
    }

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
