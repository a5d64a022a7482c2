//! The "consumer" embedded protocol: the subscription a member puts in JoinGroup's protocol
//! metadata and the assignment the leader puts in SyncGroup, byte for byte as Kafka's
//! `ConsumerProtocol` writes them (an `int16` version, then the versioned struct).
//!
//! | version | subscription adds | assignment |
//! |---|---|---|
//! | 0 | topics, user data | partitions, user data |
//! | 1 | owned partitions (KIP-429) | same |
//! | 2 | generation id | same |
//! | 3 | rack id | same |
//!
//! Why a hand-written codec: these bytes come from other members through the broker, so they
//! are untrusted, and kafka-protocol's decoders size vectors from wire counts before checking
//! them. Here every count is bounded by the bytes left, and a newer version than 3 is read as
//! version 3 (later versions only append fields), as Java does.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::super::record::TopicPartition;

/// Highest version we write.
pub(crate) const VERSION: i16 = 3;

/// What a member asks for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Subscription {
    /// The version it was written at (or [`VERSION`] for our own).
    pub version: i16,
    /// Subscribed topics.
    pub topics: Vec<String>,
    /// Assignor-specific bytes; we write none.
    pub user_data: Option<Bytes>,
    /// Partitions the member owns now (v1+; the cooperative protocol relies on it).
    pub owned: Vec<TopicPartition>,
    /// The generation in which `owned` was assigned (v2+; -1 when unknown).
    pub generation: i32,
    /// The member's rack (v3+).
    pub rack: Option<String>,
}

/// What a member gets.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Assignment {
    /// Assigned partitions.
    pub partitions: Vec<TopicPartition>,
    /// Assignor-specific bytes.
    pub user_data: Option<Bytes>,
}

/// Why bytes from another member could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed consumer protocol {what}: {reason}")]
pub(crate) struct ProtocolError {
    what: &'static str,
    reason: String,
}

impl Subscription {
    /// Encodes at [`VERSION`] (or lower, to talk to old members; never needed so far).
    pub fn encode(&self) -> Bytes {
        let mut buf = BytesMut::with_capacity(64);
        buf.put_i16(VERSION);
        put_array(&mut buf, &self.topics, |buf, t| put_string(buf, t));
        put_bytes(&mut buf, self.user_data.as_deref());
        put_partitions(&mut buf, &self.owned);
        buf.put_i32(self.generation);
        put_nullable_string(&mut buf, self.rack.as_deref());
        buf.freeze()
    }

    /// Decodes any version; fields the version lacks take their defaults.
    pub fn decode(bytes: &[u8]) -> Result<Self, ProtocolError> {
        let mut r = Reader {
            buf: bytes,
            what: "subscription",
        };
        let version = r.i16()?;
        if version < 0 {
            return Err(r.bad(format!("negative version {version}")));
        }
        let topics = r.array(2, |r| r.string())?;
        let user_data = r.bytes()?;
        let mut sub = Subscription {
            version,
            topics,
            user_data,
            owned: Vec::new(),
            generation: -1,
            rack: None,
        };
        if version >= 1 {
            sub.owned = r.partitions()?;
        }
        if version >= 2 {
            sub.generation = r.i32()?;
        }
        if version >= 3 {
            sub.rack = r.nullable_string()?;
        }
        Ok(sub)
    }
}

impl Assignment {
    /// Encodes at `version` (the fields are the same in 0–3; only the number differs).
    pub fn encode(&self, version: i16) -> Bytes {
        let mut buf = BytesMut::with_capacity(32);
        buf.put_i16(version.clamp(0, VERSION));
        put_partitions(&mut buf, &self.partitions);
        put_bytes(&mut buf, self.user_data.as_deref());
        buf.freeze()
    }

    /// Decodes any version. Empty bytes are an empty assignment: the coordinator sends
    /// those to members when the leader gave it nothing for them.
    pub fn decode(bytes: &[u8]) -> Result<Self, ProtocolError> {
        if bytes.is_empty() {
            return Ok(Assignment::default());
        }
        let mut r = Reader {
            buf: bytes,
            what: "assignment",
        };
        let version = r.i16()?;
        if version < 0 {
            return Err(r.bad(format!("negative version {version}")));
        }
        let partitions = r.partitions()?;
        let user_data = r.bytes()?;
        Ok(Assignment {
            partitions,
            user_data,
        })
    }
}

/// Groups partitions by topic, in first-seen topic order, as `(topic, [partition])`.
fn by_topic(partitions: &[TopicPartition]) -> Vec<(&str, Vec<i32>)> {
    let mut out: Vec<(&str, Vec<i32>)> = Vec::new();
    for tp in partitions {
        match out.iter_mut().find(|(t, _)| *t == tp.topic) {
            Some((_, ps)) => ps.push(tp.partition),
            None => out.push((&tp.topic, vec![tp.partition])),
        }
    }
    out
}

fn len_i32(n: usize) -> i32 {
    // Our own lists: topic names and partitions of one group, far below 2^31.
    i32::try_from(n).unwrap_or(i32::MAX)
}

fn put_array<T>(buf: &mut BytesMut, items: &[T], mut put: impl FnMut(&mut BytesMut, &T)) {
    buf.put_i32(len_i32(items.len()));
    for item in items {
        put(buf, item);
    }
}

fn put_string(buf: &mut BytesMut, s: &str) {
    buf.put_i16(i16::try_from(s.len()).unwrap_or(i16::MAX));
    buf.put_slice(s.as_bytes());
}

fn put_nullable_string(buf: &mut BytesMut, s: Option<&str>) {
    match s {
        Some(s) => put_string(buf, s),
        None => buf.put_i16(-1),
    }
}

fn put_bytes(buf: &mut BytesMut, b: Option<&[u8]>) {
    match b {
        Some(b) => {
            buf.put_i32(len_i32(b.len()));
            buf.put_slice(b);
        }
        None => buf.put_i32(-1),
    }
}

fn put_partitions(buf: &mut BytesMut, partitions: &[TopicPartition]) {
    let grouped = by_topic(partitions);
    buf.put_i32(len_i32(grouped.len()));
    for (topic, ps) in grouped {
        put_string(buf, topic);
        put_array(buf, &ps, |buf, p| buf.put_i32(*p));
    }
}

/// A bounds-checked reader: every count is compared with the bytes left before use.
struct Reader<'a> {
    buf: &'a [u8],
    what: &'static str,
}

impl Reader<'_> {
    fn bad(&self, reason: String) -> ProtocolError {
        ProtocolError {
            what: self.what,
            reason,
        }
    }

    fn need(&self, n: usize) -> Result<(), ProtocolError> {
        if self.buf.remaining() < n {
            Err(self.bad(format!("{n} bytes needed, {} left", self.buf.remaining())))
        } else {
            Ok(())
        }
    }

    fn i16(&mut self) -> Result<i16, ProtocolError> {
        self.need(2)?;
        Ok(self.buf.get_i16())
    }

    fn i32(&mut self) -> Result<i32, ProtocolError> {
        self.need(4)?;
        Ok(self.buf.get_i32())
    }

    fn take(&mut self, n: usize) -> Result<&[u8], ProtocolError> {
        self.need(n)?;
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    fn string(&mut self) -> Result<String, ProtocolError> {
        self.nullable_string()?
            .ok_or_else(|| self.bad("null string where none is allowed".into()))
    }

    fn nullable_string(&mut self) -> Result<Option<String>, ProtocolError> {
        let len = self.i16()?;
        if len < 0 {
            return Ok(None);
        }
        let bytes = self.take(usize::from(len.unsigned_abs()))?;
        match std::str::from_utf8(bytes) {
            Ok(s) => Ok(Some(s.to_owned())),
            Err(e) => Err(self.bad(e.to_string())),
        }
    }

    fn bytes(&mut self) -> Result<Option<Bytes>, ProtocolError> {
        let len = self.i32()?;
        if len < 0 {
            return Ok(None);
        }
        let n = usize::try_from(len).map_err(|_| self.bad(format!("length {len}")))?;
        Ok(Some(Bytes::copy_from_slice(self.take(n)?)))
    }

    /// An array whose elements take at least `min_size` bytes each.
    fn array<T>(
        &mut self,
        min_size: usize,
        mut item: impl FnMut(&mut Self) -> Result<T, ProtocolError>,
    ) -> Result<Vec<T>, ProtocolError> {
        let count = self.i32()?;
        if count < 0 {
            // A null array: Kafka never writes one here, read it as empty.
            return Ok(Vec::new());
        }
        let n = usize::try_from(count).map_err(|_| self.bad(format!("count {count}")))?;
        if n.saturating_mul(min_size) > self.buf.remaining() {
            return Err(self.bad(format!(
                "count {n} cannot fit in {} bytes",
                self.buf.remaining()
            )));
        }
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            out.push(item(self)?);
        }
        Ok(out)
    }

    fn partitions(&mut self) -> Result<Vec<TopicPartition>, ProtocolError> {
        let topics = self.array(6, |r| {
            let topic = r.string()?;
            let partitions = r.array(4, |r| r.i32())?;
            Ok((topic, partitions))
        })?;
        Ok(topics
            .into_iter()
            .flat_map(|(topic, ps)| {
                ps.into_iter()
                    .map(move |p| TopicPartition::new(topic.clone(), p))
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::consumer_protocol_assignment::{
        ConsumerProtocolAssignment, TopicPartition as AssignedTp,
    };
    use kafka_protocol::messages::consumer_protocol_subscription::{
        ConsumerProtocolSubscription, TopicPartition as OwnedTp,
    };
    use kafka_protocol::messages::TopicName;
    use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};

    fn tp(t: &str, p: i32) -> TopicPartition {
        TopicPartition::new(t, p)
    }

    #[test]
    fn subscription_matches_kafka_protocol_byte_for_byte() {
        let ours = Subscription {
            version: VERSION,
            topics: vec!["a".into(), "b".into()],
            user_data: None,
            owned: vec![tp("a", 0), tp("a", 2), tp("b", 1)],
            generation: 7,
            rack: None,
        };
        let theirs = ConsumerProtocolSubscription::default()
            .with_topics(vec![
                StrBytes::from_static_str("a"),
                StrBytes::from_static_str("b"),
            ])
            .with_owned_partitions(vec![
                OwnedTp::default()
                    .with_topic(TopicName(StrBytes::from_static_str("a")))
                    .with_partitions(vec![0, 2]),
                OwnedTp::default()
                    .with_topic(TopicName(StrBytes::from_static_str("b")))
                    .with_partitions(vec![1]),
            ])
            .with_generation_id(7);
        let mut expected = BytesMut::new();
        expected.put_i16(3);
        theirs.encode(&mut expected, 3).unwrap();
        assert_eq!(ours.encode(), expected.freeze());
        assert_eq!(Subscription::decode(&ours.encode()).unwrap(), ours);
    }

    #[test]
    fn old_and_new_versions_decode() {
        for version in 0..=3i16 {
            let theirs = ConsumerProtocolSubscription::default()
                .with_topics(vec![StrBytes::from_static_str("t")])
                .with_user_data(Some(Bytes::from_static(b"u")));
            let mut buf = BytesMut::new();
            buf.put_i16(version);
            theirs.encode(&mut buf, version).unwrap();
            let sub = Subscription::decode(&buf).unwrap();
            assert_eq!(sub.version, version);
            assert_eq!(sub.topics, ["t"]);
            assert_eq!(sub.user_data.as_deref(), Some(&b"u"[..]));
            assert_eq!(sub.generation, -1);
        }
        // A future version 4 with an extra trailing field reads as 3.
        let mut v4 = BytesMut::from(&Subscription::default().encode()[..]);
        v4[..2].copy_from_slice(&4i16.to_be_bytes());
        v4.put_i32(42);
        assert_eq!(Subscription::decode(&v4).unwrap().version, 4);
    }

    #[test]
    fn assignment_round_trips_with_kafka_protocol() {
        let ours = Assignment {
            partitions: vec![tp("x", 1), tp("x", 0), tp("y", 5)],
            user_data: None,
        };
        for version in 0..=3 {
            let bytes = ours.encode(version);
            let mut body = bytes.slice(2..);
            let theirs = ConsumerProtocolAssignment::decode(&mut body, version).unwrap();
            assert_eq!(theirs.assigned_partitions.len(), 2);
            assert_eq!(
                theirs.assigned_partitions[0],
                AssignedTp::default()
                    .with_topic(TopicName(StrBytes::from_static_str("x")))
                    .with_partitions(vec![1, 0])
            );
            assert_eq!(Assignment::decode(&bytes).unwrap(), ours);
        }
        assert_eq!(Assignment::decode(&[]).unwrap(), Assignment::default());
    }

    #[test]
    fn hostile_bytes_are_errors() {
        let mut huge = BytesMut::new();
        huge.put_i16(0);
        huge.put_i32(i32::MAX);
        assert!(Subscription::decode(&huge).is_err());
        assert!(Assignment::decode(&huge).is_err());
        assert!(Subscription::decode(&[0]).is_err());
        assert!(Subscription::decode(&[0xff, 0xff]).is_err());
        let mut bad_utf8 = BytesMut::new();
        bad_utf8.put_i16(0);
        bad_utf8.put_i32(1);
        bad_utf8.put_i16(1);
        bad_utf8.put_u8(0xff);
        assert!(Subscription::decode(&bad_utf8).is_err());
        // Every prefix of a valid subscription fails cleanly.
        let full = Subscription {
            version: 3,
            topics: vec!["topic".into()],
            user_data: Some(Bytes::from_static(b"data")),
            owned: vec![tp("topic", 3)],
            generation: 1,
            rack: Some("r".into()),
        }
        .encode();
        for cut in 0..full.len() {
            assert!(Subscription::decode(&full[..cut]).is_err(), "cut at {cut}");
        }
    }
}
