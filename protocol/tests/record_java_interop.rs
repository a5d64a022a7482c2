//! Batches written by the Java client (kafka-clients 4.1.2, `MemoryRecordsBuilder` and
//! `MemoryRecords.withEndTransactionMarker`), captured as hex: proof that we read every codec as
//! Java frames it (xerial snappy, LZ4 frame, ...) and write uncompressed batches and markers
//! byte for byte as Java does.
//!
//! Each batch: base offset 7, producer 9 epoch 1, base sequence 3, transactional, leader epoch 4,
//! records (1000, "k", "first", []), (1005, null, "second", [h=1, h=null]), (999, "k3", null, [""=""]).

use bytes::Bytes;
use ferrokafka_protocol::record::{
    BatchBuilder, Compression, ControlRecordType, EndTxnMarker, Header, RecordBatch, RecordInput,
};

const JAVA_NONE: &[&str] = &[
    "00000000000000070000005d00000004021848016d00100000000200000000000003e800000000000003ed0000000000",
    "0000090001000000030000000318000000026b0a66697273740026000a02010c7365636f6e6404026802310268011400",
    "0104046b3301020000",
];

const JAVA_GZIP: &[&str] = &[
    "0000000000000007000000710000000402339a9f8d00110000000200000000000003e800000000000003ed0000000000",
    "000009000100000003000000031f8b08000000000000ff9360606060cae64acb2c2a2e615063e06262e4294e4dcecf4b",
    "6161ca603264ca601461606461c9366664626000002099dd352c000000",
];

const JAVA_SNAPPY: &[&str] = &[
    "0000000000000007000000730000000402df45d66400120000000200000000000003e800000000000003ed0000000000",
    "0000090001000000030000000382534e415050590000000001000000010000002e2cac18000000026b0a666972737400",
    "26000a02010c7365636f6e64040268023102680114000104046b3301020000",
];

const JAVA_LZ4: &[&str] = &[
    "00000000000000070000006c0000000402f8662a9300130000000200000000000003e800000000000003ed0000000000",
    "0000090001000000030000000304224d186040822c00008018000000026b0a66697273740026000a02010c7365636f6e",
    "64040268023102680114000104046b330102000000000000",
];

const JAVA_ZSTD: &[&str] = &[
    "0000000000000007000000690000000402e0d8333500140000000200000000000003e800000000000003ed0000000000",
    "0000090001000000030000000328b52ffd005860010018000000026b0a66697273740026000a02010c7365636f6e6404",
    "0268023102680114000104046b3301020000010000",
];

const JAVA_CONTROL: &[&str] = &[
    "000000000000003200000042000000040208b85f0b00300000000000000000000003e800000000000003e80000000000",
    "00002a0003ffffffff000000012000000008000000000c00000000000500",
];

/// The NONE and LZ4 batches after Java's broker-side calls `setLastOffset(502)`,
/// `setPartitionLeaderEpoch(8)`, `setMaxTimestamp(LOG_APPEND_TIME, 77)`.
const JAVA_NONE_STAMPED: &[&str] = &[
    "00000000000001f40000005d000000080263a6661900180000000200000000000003e8000000000000004d0000000000",
    "0000090001000000030000000318000000026b0a66697273740026000a02010c7365636f6e6404026802310268011400",
    "0104046b3301020000",
];

const JAVA_LZ4_STAMPED: &[&str] = &[
    "00000000000001f40000006c0000000802b85df374001b0000000200000000000003e8000000000000004d0000000000",
    "0000090001000000030000000304224d186040822c00008018000000026b0a66697273740026000a02010c7365636f6e",
    "64040268023102680114000104046b330102000000000000",
];

fn unhex(parts: &[&str]) -> Bytes {
    let hex: String = parts.concat();
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect::<Vec<u8>>()
        .into()
}

fn inputs() -> Vec<RecordInput> {
    vec![
        RecordInput {
            timestamp: 1000,
            key: Some(Bytes::from_static(b"k")),
            value: Some(Bytes::from_static(b"first")),
            headers: vec![],
        },
        RecordInput {
            timestamp: 1005,
            key: None,
            value: Some(Bytes::from_static(b"second")),
            headers: vec![Header::new("h", "1"), Header::null("h")],
        },
        RecordInput {
            timestamp: 999,
            key: Some(Bytes::from_static(b"k3")),
            value: None,
            headers: vec![Header::new("", "")],
        },
    ]
}

#[test]
fn java_batches_of_every_codec_read_back() {
    let cases = [
        (Compression::None, JAVA_NONE),
        (Compression::Gzip, JAVA_GZIP),
        (Compression::Snappy, JAVA_SNAPPY),
        (Compression::Lz4, JAVA_LZ4),
        (Compression::Zstd, JAVA_ZSTD),
    ];
    for (codec, hex) in cases {
        let batch = RecordBatch::new(unhex(hex)).unwrap();
        batch.verify_crc().unwrap();
        assert_eq!(batch.compression().unwrap(), codec);
        assert_eq!(batch.base_offset(), 7);
        assert_eq!(batch.partition_leader_epoch(), 4);
        assert_eq!((batch.producer_id(), batch.producer_epoch()), (9, 1));
        assert_eq!((batch.base_sequence(), batch.last_sequence()), (3, 5));
        assert!(batch.is_transactional());
        assert_eq!(
            (batch.base_timestamp(), batch.max_timestamp()),
            (1000, 1005)
        );
        assert_eq!((batch.last_offset(), batch.next_offset()), (9, 10));

        let records: Vec<_> = batch.records().unwrap().collect::<Result<_, _>>().unwrap();
        assert_eq!(records.len(), 3, "{codec}");
        for (i, (record, input)) in records.iter().zip(inputs()).enumerate() {
            assert_eq!(record.offset(&batch), 7 + i as i64, "{codec}");
            assert_eq!(record.timestamp(&batch), input.timestamp, "{codec}");
            assert_eq!(record.key, input.key, "{codec}");
            assert_eq!(record.value, input.value, "{codec}");
            assert_eq!(record.headers, input.headers, "{codec}");
        }
    }
}

#[test]
fn uncompressed_output_is_byte_identical_to_java() {
    let mut builder = BatchBuilder::new()
        .base_offset(7)
        .partition_leader_epoch(4)
        .producer(9, 1)
        .base_sequence(3)
        .transactional(true);
    for input in inputs() {
        builder.push(input).unwrap();
    }
    assert_eq!(builder.build().unwrap(), unhex(JAVA_NONE));
}

#[test]
fn abort_marker_is_byte_identical_to_java() {
    let java = unhex(JAVA_CONTROL);
    let marker = EndTxnMarker {
        kind: ControlRecordType::Abort,
        coordinator_epoch: 5,
    };
    let ours = BatchBuilder::new()
        .base_offset(50)
        .partition_leader_epoch(4)
        .producer(42, 3)
        .end_txn_marker(marker, 1000)
        .unwrap();
    assert_eq!(ours, java);

    let batch = RecordBatch::new(java).unwrap();
    assert!(batch.is_control());
    let record = batch.records().unwrap().next().unwrap().unwrap();
    assert_eq!(record.end_txn_marker().unwrap(), marker);
}

#[test]
fn broker_rewrite_is_byte_identical_to_java() {
    for (produced, stamped) in [(JAVA_NONE, JAVA_NONE_STAMPED), (JAVA_LZ4, JAVA_LZ4_STAMPED)] {
        let ours = RecordBatch::new(unhex(produced))
            .unwrap()
            .into_stored(500, 8, Some(77))
            .unwrap();
        assert_eq!(ours.as_bytes(), &unhex(stamped));
    }
}

#[test]
fn java_batches_survive_the_broker_rewrite() {
    for hex in [JAVA_NONE, JAVA_SNAPPY, JAVA_LZ4] {
        let stored = RecordBatch::new(unhex(hex))
            .unwrap()
            .into_stored(500, 8, Some(77))
            .unwrap();
        stored.verify_crc().unwrap();
        let records: Vec<_> = stored.records().unwrap().collect::<Result<_, _>>().unwrap();
        assert_eq!(records[2].offset(&stored), 502);
        assert_eq!(records[2].timestamp(&stored), 77);
    }
}
