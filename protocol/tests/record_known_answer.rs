//! Byte-exact checks: a batch written out by hand, field by field, must be what the builder
//! produces and what the view reads; the same for a transaction marker.

use bytes::Bytes;
use ferrokafka_protocol::record::{
    control_batch, BatchBuilder, Compression, ControlRecordType, EndTxnMarker, RecordBatch,
    RecordError, RecordInput, TimestampType,
};

/// One record, timestamp 1000, null key, value "hi", no headers, no producer id.
fn hand_written_batch() -> Vec<u8> {
    #[rustfmt::skip]
    let mut bytes = vec![
        0, 0, 0, 0, 0, 0, 0, 0,         // baseOffset 0
        0, 0, 0, 58,                    // batchLength: 70 bytes in all, minus these 12
        0xff, 0xff, 0xff, 0xff,         // partitionLeaderEpoch -1
        2,                              // magic
        0, 0, 0, 0,                     // crc, filled in below
        0, 0,                           // attributes: no codec, CreateTime, plain
        0, 0, 0, 0,                     // lastOffsetDelta 0
        0, 0, 0, 0, 0, 0, 0x03, 0xe8,   // baseTimestamp 1000
        0, 0, 0, 0, 0, 0, 0x03, 0xe8,   // maxTimestamp 1000
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // producerId -1
        0xff, 0xff,                     // producerEpoch -1
        0xff, 0xff, 0xff, 0xff,         // baseSequence -1
        0, 0, 0, 1,                     // records count 1
        // the record
        0x10,                           // length 8, zigzag
        0x00,                           // attributes
        0x00,                           // timestampDelta 0
        0x00,                           // offsetDelta 0
        0x01,                           // keyLength -1: null
        0x04, b'h', b'i',               // valueLength 2, "hi"
        0x00,                           // no headers
    ];
    let crc = crc32c::crc32c(&bytes[21..]);
    bytes[17..21].copy_from_slice(&crc.to_be_bytes());
    bytes
}

#[test]
fn crc32c_is_castagnoli() {
    // The standard CRC-32C check value; a plain CRC-32 would give 0xcbf43926.
    assert_eq!(crc32c::crc32c(b"123456789"), 0xe306_9283);
}

#[test]
fn builder_matches_the_hand_written_batch() {
    let expected = hand_written_batch();
    assert_eq!(expected.len(), 70);
    // Pinned from an independent bit-by-bit CRC-32C (polynomial 0x82f63b78) over bytes 21..70,
    // so that a change in what is hashed, not just in how, is caught too.
    assert_eq!(&expected[17..21], &0x233d_ad44_u32.to_be_bytes());

    let mut builder = BatchBuilder::new();
    builder
        .push(RecordInput {
            timestamp: 1000,
            key: None,
            value: Some(Bytes::from_static(b"hi")),
            headers: Vec::new(),
        })
        .unwrap();
    let built = builder.build().unwrap();
    assert_eq!(&built[..], &expected[..]);
}

#[test]
fn view_reads_the_hand_written_batch() {
    let bytes = Bytes::from(hand_written_batch());
    let batch = RecordBatch::new(bytes.clone()).unwrap();
    batch.verify_crc().unwrap();
    assert_eq!(batch.crc(), crc32c::crc32c(&bytes[21..]));
    assert_eq!(batch.compute_crc(), batch.crc());
    assert_eq!(batch.base_offset(), 0);
    assert_eq!(batch.batch_length(), 58);
    assert_eq!(batch.partition_leader_epoch(), -1);
    assert_eq!(batch.magic(), 2);
    assert_eq!(batch.attributes(), 0);
    assert_eq!(batch.compression().unwrap(), Compression::None);
    assert_eq!(batch.timestamp_type(), TimestampType::CreateTime);
    assert!(!batch.is_transactional());
    assert!(!batch.is_control());
    assert_eq!(batch.last_offset_delta(), 0);
    assert_eq!((batch.last_offset(), batch.next_offset()), (0, 1));
    assert_eq!(
        (batch.base_timestamp(), batch.max_timestamp()),
        (1000, 1000)
    );
    assert_eq!(batch.producer_id(), -1);
    assert_eq!(batch.producer_epoch(), -1);
    assert_eq!((batch.base_sequence(), batch.last_sequence()), (-1, -1));
    assert_eq!(batch.records_count(), 1);

    let records: Vec<_> = batch.records().unwrap().collect::<Result<_, _>>().unwrap();
    assert_eq!(records.len(), 1);
    let record = &records[0];
    assert_eq!(record.key, None);
    assert_eq!(record.value.as_deref(), Some(&b"hi"[..]));
    assert!(record.headers.is_empty());
    assert_eq!((record.offset(&batch), record.timestamp(&batch)), (0, 1000));
}

#[test]
fn last_sequence_wraps_like_java() {
    let mut builder = BatchBuilder::new()
        .producer(7, 0)
        .base_sequence(i32::MAX - 1);
    for _ in 0..4 {
        builder.push(RecordInput::default()).unwrap();
    }
    let batch = RecordBatch::new(builder.build().unwrap()).unwrap();
    // MAX-1, MAX, 0, 1
    assert_eq!(batch.last_sequence(), 1);
}

#[test]
fn commit_marker_is_byte_exact_and_reads_back() {
    let marker = EndTxnMarker {
        kind: ControlRecordType::Commit,
        coordinator_epoch: 5,
    };
    let bytes = control_batch(marker, 42, 3, 1_000).unwrap();
    let batch = RecordBatch::new(bytes).unwrap();
    batch.verify_crc().unwrap();
    assert!(batch.is_control());
    assert!(batch.is_transactional());
    assert_eq!(batch.attributes(), 0x30);
    assert_eq!((batch.producer_id(), batch.producer_epoch()), (42, 3));
    assert_eq!(batch.base_sequence(), -1);
    assert_eq!(batch.compression().unwrap(), Compression::None);

    let records: Vec<_> = batch.records().unwrap().collect::<Result<_, _>>().unwrap();
    assert_eq!(records.len(), 1);
    // key: version 0, type 1 (commit); value: version 0, coordinator epoch 5
    assert_eq!(records[0].key.as_deref(), Some(&[0, 0, 0, 1][..]));
    assert_eq!(records[0].value.as_deref(), Some(&[0, 0, 0, 0, 0, 5][..]));
    assert_eq!(
        records[0].control_type().unwrap(),
        ControlRecordType::Commit
    );
    assert_eq!(records[0].end_txn_marker().unwrap(), marker);
}

#[test]
fn abort_marker_uses_the_builders_offset_and_epoch() {
    let marker = EndTxnMarker {
        kind: ControlRecordType::Abort,
        coordinator_epoch: -1,
    };
    let bytes = BatchBuilder::new()
        .base_offset(900)
        .partition_leader_epoch(4)
        .producer(1, 2)
        .end_txn_marker(marker, 5)
        .unwrap();
    let batch = RecordBatch::new(bytes).unwrap();
    assert_eq!(
        (batch.base_offset(), batch.partition_leader_epoch()),
        (900, 4)
    );
    let record = batch.records().unwrap().next().unwrap().unwrap();
    assert_eq!(record.end_txn_marker().unwrap(), marker);
}

#[test]
fn bad_markers() {
    let other = EndTxnMarker {
        kind: ControlRecordType::Other(3),
        coordinator_epoch: 0,
    };
    assert!(matches!(
        control_batch(other, 1, 1, 0),
        Err(RecordError::BadControlRecord(_))
    ));
    assert!(matches!(
        EndTxnMarker::parse(&[0, 0], &[0, 0, 0, 0, 0, 0]),
        Err(RecordError::BadControlRecord(_))
    ));
    assert!(matches!(
        EndTxnMarker::parse(&[0, 0, 0, 1], &[0, 0, 0]),
        Err(RecordError::BadControlRecord(_))
    ));
    // Newer value versions may carry more fields; the known prefix is still read.
    assert_eq!(
        EndTxnMarker::parse(&[0, 1, 0, 0], &[0, 1, 0, 0, 0, 9, 0xaa, 0xbb]).unwrap(),
        EndTxnMarker {
            kind: ControlRecordType::Abort,
            coordinator_epoch: 9
        }
    );
    assert_eq!(
        ControlRecordType::parse_key(&[0, 0, 0, 2]).unwrap(),
        ControlRecordType::Other(2)
    );
}
