//! Property tests: whatever the builder writes, the view reads back unchanged, for every codec,
//! including null keys and values, empty and duplicate headers and arbitrary timestamps.

use bytes::Bytes;
use ferrokafka_protocol::record::{
    BatchBuilder, Compression, Header, Record, RecordBatch, RecordInput, TimestampType,
};
use proptest::prelude::*;

fn bytes_opt(max: usize) -> impl Strategy<Value = Option<Bytes>> {
    prop::option::of(prop::collection::vec(any::<u8>(), 0..max).prop_map(Bytes::from))
}

fn header() -> impl Strategy<Value = Header> {
    // A small key alphabet so duplicates are common; the empty key is legal too.
    (
        prop::sample::select(vec!["", "a", "trace-id", "ünïcode", "a"]),
        bytes_opt(16),
    )
        .prop_map(|(key, value)| Header {
            key: key.to_owned(),
            value,
        })
}

fn record_input() -> impl Strategy<Value = RecordInput> {
    (
        any::<i64>(),
        bytes_opt(40),
        bytes_opt(300),
        prop::collection::vec(header(), 0..4),
    )
        .prop_map(|(timestamp, key, value, headers)| RecordInput {
            timestamp,
            key,
            value,
            headers,
        })
}

fn codec() -> impl Strategy<Value = Compression> {
    prop::sample::select(Compression::ALL.to_vec())
}

#[derive(Debug, Clone)]
struct Config {
    compression: Compression,
    base_offset: i64,
    leader_epoch: i32,
    producer_id: i64,
    producer_epoch: i16,
    base_sequence: i32,
    transactional: bool,
    timestamp_type: TimestampType,
}

fn config() -> impl Strategy<Value = Config> {
    (
        codec(),
        any::<i64>(),
        any::<i32>(),
        any::<i64>(),
        any::<i16>(),
        any::<i32>(),
        any::<bool>(),
        prop::sample::select(vec![
            TimestampType::CreateTime,
            TimestampType::LogAppendTime,
        ]),
    )
        .prop_map(
            |(
                compression,
                base_offset,
                leader_epoch,
                producer_id,
                producer_epoch,
                base_sequence,
                transactional,
                timestamp_type,
            )| Config {
                compression,
                base_offset,
                leader_epoch,
                producer_id,
                producer_epoch,
                base_sequence,
                transactional,
                timestamp_type,
            },
        )
}

fn build(config: &Config, inputs: &[RecordInput]) -> Bytes {
    let mut builder = BatchBuilder::new()
        .compression(config.compression)
        .base_offset(config.base_offset)
        .partition_leader_epoch(config.leader_epoch)
        .producer(config.producer_id, config.producer_epoch)
        .base_sequence(config.base_sequence)
        .transactional(config.transactional)
        .timestamp_type(config.timestamp_type);
    for input in inputs {
        builder.push(input.clone()).unwrap();
    }
    assert_eq!(builder.len(), inputs.len());
    builder.build().unwrap()
}

/// Does `inner` point into `outer`'s memory?
fn is_within(inner: &Bytes, outer: &Bytes) -> bool {
    let start = outer.as_ptr() as usize;
    let p = inner.as_ptr() as usize;
    inner.is_empty() || (p >= start && p + inner.len() <= start + outer.len())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn builder_output_reads_back(config in config(), inputs in prop::collection::vec(record_input(), 1..12)) {
        let bytes = build(&config, &inputs);
        let batch = RecordBatch::new(bytes.clone()).unwrap();
        batch.verify_crc().unwrap();

        prop_assert_eq!(batch.magic(), 2);
        prop_assert_eq!(batch.size(), bytes.len());
        prop_assert_eq!(batch.batch_length() as usize, bytes.len() - 12);
        prop_assert_eq!(batch.compression().unwrap(), config.compression);
        prop_assert_eq!(batch.timestamp_type(), config.timestamp_type);
        prop_assert_eq!(batch.is_transactional(), config.transactional);
        prop_assert!(!batch.is_control());
        prop_assert_eq!(batch.base_offset(), config.base_offset);
        prop_assert_eq!(batch.partition_leader_epoch(), config.leader_epoch);
        prop_assert_eq!(batch.producer_id(), config.producer_id);
        prop_assert_eq!(batch.producer_epoch(), config.producer_epoch);
        prop_assert_eq!(batch.base_sequence(), config.base_sequence);
        prop_assert_eq!(batch.records_count() as usize, inputs.len());
        prop_assert_eq!(batch.last_offset_delta() as usize, inputs.len() - 1);
        prop_assert_eq!(
            batch.last_offset(),
            config.base_offset.wrapping_add(inputs.len() as i64 - 1)
        );
        prop_assert_eq!(batch.next_offset(), batch.last_offset().wrapping_add(1));
        prop_assert_eq!(batch.base_timestamp(), inputs[0].timestamp);
        let max = inputs.iter().map(|r| r.timestamp).max().unwrap();
        prop_assert_eq!(batch.max_timestamp(), max);

        let records: Vec<Record> = batch.records().unwrap().collect::<Result<_, _>>().unwrap();
        prop_assert_eq!(records.len(), inputs.len());
        for (i, (record, input)) in records.iter().zip(&inputs).enumerate() {
            prop_assert_eq!(record.offset_delta as usize, i);
            prop_assert_eq!(record.offset(&batch), config.base_offset.wrapping_add(i as i64));
            let expected_ts = match config.timestamp_type {
                TimestampType::CreateTime => input.timestamp,
                TimestampType::LogAppendTime => max,
            };
            prop_assert_eq!(record.timestamp(&batch), expected_ts);
            prop_assert_eq!(&record.key, &input.key);
            prop_assert_eq!(&record.value, &input.value);
            prop_assert_eq!(&record.headers, &input.headers);
            if config.compression == Compression::None {
                for part in record.key.iter().chain(record.value.iter()) {
                    prop_assert!(is_within(part, batch.as_bytes()), "uncompressed data was copied");
                }
            }
        }
    }

    #[test]
    fn blobs_of_many_batches_split_back(
        batches in prop::collection::vec((config(), prop::collection::vec(record_input(), 1..4)), 1..5)
    ) {
        let mut blob = Vec::new();
        let mut expected = Vec::new();
        for (config, inputs) in &batches {
            let bytes = build(config, inputs);
            blob.extend_from_slice(&bytes);
            expected.push(bytes);
        }
        let blob = Bytes::from(blob);
        let mut iter = RecordBatch::iter_blob(blob.clone());
        let got: Vec<RecordBatch> = iter.by_ref().collect::<Result<_, _>>().unwrap();
        prop_assert!(!iter.truncated_tail());
        prop_assert_eq!(got.len(), expected.len());
        for (batch, bytes) in got.iter().zip(&expected) {
            prop_assert_eq!(batch.as_bytes(), bytes);
            prop_assert!(is_within(batch.as_bytes(), &blob), "batch was copied out of the blob");
            batch.verify_crc().unwrap();
        }
    }
}

#[test]
fn large_batches_round_trip_through_every_codec() {
    // Bigger than one xerial block (32 KiB) and one LZ4 block (64 KiB).
    let inputs: Vec<RecordInput> = (0..2_000)
        .map(|i| RecordInput {
            timestamp: 1_700_000_000_000 + i,
            key: Some(Bytes::from(format!("key-{i}"))),
            value: Some(Bytes::from(format!("value {i} ").repeat(20))),
            headers: vec![Header::new("n", i.to_string()), Header::null("n")],
        })
        .collect();
    for compression in Compression::ALL {
        let config = Config {
            compression,
            base_offset: 0,
            leader_epoch: -1,
            producer_id: -1,
            producer_epoch: -1,
            base_sequence: -1,
            transactional: false,
            timestamp_type: TimestampType::CreateTime,
        };
        let bytes = build(&config, &inputs);
        let batch = RecordBatch::new(bytes).unwrap();
        batch.verify_crc().unwrap();
        let records: Vec<Record> = batch.records().unwrap().collect::<Result<_, _>>().unwrap();
        assert_eq!(records.len(), inputs.len(), "{compression}");
        for (record, input) in records.iter().zip(&inputs) {
            assert_eq!(record.key, input.key);
            assert_eq!(record.value, input.value);
            assert_eq!(record.headers, input.headers);
        }
    }
}

#[test]
fn empty_builder_is_refused() {
    assert!(BatchBuilder::new().build().is_err());
}
