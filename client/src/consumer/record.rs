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

    /// The value of the last header named `key`, as Java's `Headers.lastHeader(key).value()`:
    /// a producer that sets a header again means the later value to win.
    ///
    /// `None` when no header has that name, and also when the last one has a null value;
    /// [`headers_named`](Self::headers_named) tells the two apart.
    ///
    /// ```
    /// # fn show(record: &ferrokafka::ConsumerRecord) {
    /// if let Some(trace) = record.header("trace-id") {
    ///     println!("trace {}", String::from_utf8_lossy(trace));
    /// }
    /// # }
    /// ```
    pub fn header(&self, key: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .rev()
            .find(|h| h.key == key)
            .and_then(|h| h.value.as_deref())
    }

    /// Every header named `key`, in wire order (Java's `Headers.headers(key)`); a null value
    /// is a header whose `value` is `None`.
    pub fn headers_named<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a Header> + 'a {
        self.headers.iter().filter(move |h| h.key == key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_headers(headers: Vec<Header>) -> ConsumerRecord {
        ConsumerRecord {
            topic: Arc::from("t"),
            partition: 0,
            offset: 0,
            timestamp: 0,
            timestamp_type: TimestampType::CreateTime,
            key: None,
            value: None,
            headers,
            leader_epoch: -1,
        }
    }

    #[test]
    fn header_is_the_last_value_of_its_key() {
        let record = with_headers(vec![
            Header::new("trace", "abc"),
            Header::new("other", "x"),
            Header::new("trace", "def"),
        ]);
        assert_eq!(record.header("trace"), Some(&b"def"[..]));
        assert_eq!(record.header("other"), Some(&b"x"[..]));
        assert_eq!(
            record.header("Trace"),
            None,
            "keys are case-sensitive, as in Java"
        );
        assert_eq!(record.header("missing"), None);
    }

    #[test]
    fn a_null_last_header_hides_earlier_values_and_headers_named_shows_it() {
        let record = with_headers(vec![Header::new("k", "1"), Header::null("k")]);
        assert_eq!(record.header("k"), None);
        let all: Vec<Option<&[u8]>> = record
            .headers_named("k")
            .map(|h| h.value.as_deref())
            .collect();
        assert_eq!(all, [Some(&b"1"[..]), None]);
        assert_eq!(record.headers_named("none").count(), 0);
    }
}
