//! Fetch responses encoded as slices: the message structure in one small buffer, each
//! partition's record batches as the log's own `Bytes`, in wire order, for a vectored write.
//!
//! Field by field this is the schema's order for versions 4–16 (aborted transactions are
//! encoded by kafka-protocol itself); the test holds the result byte for byte against
//! kafka-protocol's encoding of the same response with the records inlined. Tagged fields the
//! broker never sets (diverging epoch, current leader, snapshot id, node endpoints) are
//! written as absent.

use bytes::{BufMut, Bytes, BytesMut};
use ferrokafka_protocol::record::varint::put_uvarint;
use kafka_protocol::messages::fetch_response::PartitionData;
use kafka_protocol::protocol::Encodable;

use super::FetchOutput;

/// A response's bytes, in order.
pub type Parts = Vec<Bytes>;

impl FetchOutput {
    /// Appends the response body at `version` to `head` (which may already hold the response
    /// header) and returns the whole frame body as parts.
    pub fn encode(&self, version: i16, mut head: BytesMut) -> Result<Parts, String> {
        let flexible = version >= 12;
        let r = &self.response;
        let mut parts = Vec::with_capacity(2 * self.batches.len() + 1);
        let mut batches = self.batches.iter();
        head.put_i32(r.throttle_time_ms);
        if version >= 7 {
            head.put_i16(r.error_code);
            head.put_i32(r.session_id);
        }
        length(&mut head, flexible, Some(r.responses.len()))?;
        for topic in &r.responses {
            if version <= 12 {
                let name = topic.topic.0.as_bytes();
                if flexible {
                    length(&mut head, true, Some(name.len()))?;
                } else {
                    head.put_i16(i16::try_from(name.len()).map_err(|_| "topic name too long")?);
                }
                head.put_slice(name);
            }
            if version >= 13 {
                head.put_slice(topic.topic_id.as_bytes());
            }
            length(&mut head, flexible, Some(topic.partitions.len()))?;
            for p in &topic.partitions {
                let data = batches.next().map_or(&[][..], Vec::as_slice);
                partition(&mut head, version, p, data, &mut parts)?;
            }
            no_tagged_fields(&mut head, flexible);
        }
        no_tagged_fields(&mut head, flexible);
        parts.push(head.freeze());
        Ok(parts)
    }
}

/// One partition: its fields into `head`, then, when it has records, `head` so far and the
/// batches as parts of their own.
fn partition(
    head: &mut BytesMut,
    version: i16,
    p: &PartitionData,
    batches: &[Bytes],
    parts: &mut Parts,
) -> Result<(), String> {
    let flexible = version >= 12;
    head.put_i32(p.partition_index);
    head.put_i16(p.error_code);
    head.put_i64(p.high_watermark);
    head.put_i64(p.last_stable_offset);
    if version >= 5 {
        head.put_i64(p.log_start_offset);
    }
    let aborted = p.aborted_transactions.as_deref();
    length(head, flexible, aborted.map(<[_]>::len))?;
    for a in aborted.unwrap_or_default() {
        a.encode(head, version).map_err(|e| e.to_string())?;
    }
    if version >= 11 {
        head.put_i32(p.preferred_read_replica.0);
    }
    let len = batches.iter().map(Bytes::len).sum::<usize>();
    length(head, flexible, p.records.as_ref().map(|_| len))?;
    if p.records.is_some() && len > 0 {
        parts.push(head.split().freeze());
        parts.extend(batches.iter().cloned());
    }
    no_tagged_fields(head, flexible);
    Ok(())
}

/// An array's or byte string's length; `None` is null. Compact (flexible versions): unsigned
/// varint of length + 1, null 0; else a 32-bit length, null -1.
fn length(head: &mut BytesMut, flexible: bool, len: Option<usize>) -> Result<(), String> {
    const TOO_LONG: &str = "length does not fit the response";
    match (len, flexible) {
        (None, false) => head.put_i32(-1),
        (None, true) => put_uvarint(head, 0),
        (Some(n), false) => head.put_i32(i32::try_from(n).map_err(|_| TOO_LONG)?),
        (Some(n), true) => put_uvarint(head, u32::try_from(n + 1).map_err(|_| TOO_LONG)?),
    }
    Ok(())
}

fn no_tagged_fields(head: &mut BytesMut, flexible: bool) {
    if flexible {
        put_uvarint(head, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::fetch_response::{AbortedTransaction, FetchableTopicResponse};
    use kafka_protocol::messages::{FetchResponse, ProducerId, TopicName};
    use kafka_protocol::protocol::StrBytes;

    /// Two topics: one partition with three batches and an aborted transaction, one with an
    /// error and no data, one with null records.
    fn sample() -> FetchOutput {
        let batches = vec![
            vec![
                Bytes::from_static(b"first batch"),
                Bytes::from_static(b"second"),
                Bytes::from(vec![7u8; 300]),
            ],
            Vec::new(),
            Vec::new(),
        ];
        let with_data = PartitionData::default()
            .with_partition_index(2)
            .with_high_watermark(40)
            .with_last_stable_offset(35)
            .with_log_start_offset(3)
            .with_aborted_transactions(Some(vec![AbortedTransaction::default()
                .with_producer_id(ProducerId(9))
                .with_first_offset(12)]));
        let failed = PartitionData::default()
            .with_partition_index(5)
            .with_error_code(3)
            .with_high_watermark(-1);
        let null = PartitionData::default().with_records(None);
        let topic = |name: &'static str, id: u128, partitions| {
            FetchableTopicResponse::default()
                .with_topic(TopicName(StrBytes::from_static_str(name)))
                .with_topic_id(uuid::Uuid::from_u128(id))
                .with_partitions(partitions)
        };
        let response = FetchResponse::default()
            .with_throttle_time_ms(4)
            .with_responses(vec![
                topic("orders", 1, vec![with_data, failed]),
                topic("t", 2, vec![null]),
            ]);
        FetchOutput { response, batches }
    }

    /// The same response with every partition's batches inlined into its `records`.
    fn inlined(output: &FetchOutput) -> FetchResponse {
        let mut response = output.response.clone();
        let mut batches = output.batches.iter();
        for p in response
            .responses
            .iter_mut()
            .flat_map(|t| &mut t.partitions)
        {
            let data = batches.next().cloned().unwrap_or_default();
            if p.records.is_some() {
                p.records = Some(data.concat().into());
            }
        }
        response
    }

    #[test]
    fn parts_match_kafka_protocols_encoding_in_every_version() {
        let output = sample();
        for version in 4..=16 {
            let mut expected = BytesMut::new();
            inlined(&output).encode(&mut expected, version).unwrap();
            let parts = output.encode(version, BytesMut::new()).unwrap();
            assert_eq!(parts.concat(), expected.to_vec(), "version {version}");
            assert!(
                parts
                    .iter()
                    .any(|p| p.as_ptr() == output.batches[0][2].as_ptr()),
                "version {version}: record bytes are passed on, not copied"
            );
        }
    }

    #[test]
    fn a_header_already_in_the_buffer_comes_first() {
        let output = sample();
        let mut head = BytesMut::from(&b"HDR"[..]);
        head.reserve(64);
        let parts = output.encode(12, head).unwrap();
        assert!(parts[0].starts_with(b"HDR"));
    }
}
