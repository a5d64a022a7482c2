//! The broker's append rewrite: new offsets and leader epoch, optional LogAppendTime, and a
//! CRC that stays valid without records being re-encoded.

use bytes::Bytes;
use ferrokafka_protocol::record::{
    BatchBuilder, Compression, Header, RecordBatch, RecordError, RecordInput, TimestampType,
};

fn produced(compression: Compression) -> Bytes {
    let mut builder = BatchBuilder::new()
        .compression(compression)
        .producer(77, 1)
        .base_sequence(10)
        .transactional(true);
    for i in 0..3 {
        builder
            .push(RecordInput {
                timestamp: 5_000 + i,
                key: Some(Bytes::from(format!("k{i}"))),
                value: Some(Bytes::from(format!("v{i}"))),
                headers: vec![Header::new("h", "x")],
            })
            .unwrap();
    }
    builder.build().unwrap()
}

#[test]
fn log_append_time_rewrite_keeps_a_valid_crc() {
    for compression in Compression::ALL {
        let original = RecordBatch::new(produced(compression)).unwrap();
        let before: Vec<_> = original
            .records()
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();

        let stored = original
            .clone()
            .into_stored(1_000, 7, Some(99_999))
            .unwrap();
        stored.verify_crc().unwrap();
        assert_ne!(stored.crc(), original.crc(), "{compression}");
        assert_eq!(stored.base_offset(), 1_000);
        assert_eq!(stored.last_offset(), 1_002);
        assert_eq!(stored.next_offset(), 1_003);
        assert_eq!(stored.partition_leader_epoch(), 7);
        assert_eq!(stored.timestamp_type(), TimestampType::LogAppendTime);
        assert_eq!(stored.max_timestamp(), 99_999);
        // As on a Java broker, only maxTimestamp takes the append time.
        assert_eq!(stored.base_timestamp(), original.base_timestamp());
        // Everything else in the header is untouched.
        assert_eq!(stored.compression().unwrap(), compression);
        assert!(stored.is_transactional());
        assert_eq!(stored.attributes(), original.attributes() | 0x08);
        assert_eq!(stored.producer_id(), 77);
        assert_eq!(stored.base_sequence(), 10);
        assert_eq!(stored.size(), original.size());
        // The record area is byte-for-byte the same: nothing was re-encoded.
        assert_eq!(&stored.as_bytes()[61..], &original.as_bytes()[61..]);

        let after: Vec<_> = stored.records().unwrap().collect::<Result<_, _>>().unwrap();
        assert_eq!(after, before);
        for (i, record) in after.iter().enumerate() {
            assert_eq!(record.offset(&stored), 1_000 + i as i64);
            assert_eq!(record.timestamp(&stored), 99_999);
        }
    }
}

#[test]
fn create_time_rewrite_leaves_the_crc_alone() {
    let original = RecordBatch::new(produced(Compression::Lz4)).unwrap();
    let stored = original.clone().into_stored(123, 2, None).unwrap();
    stored.verify_crc().unwrap();
    assert_eq!(stored.crc(), original.crc());
    assert_eq!(stored.base_offset(), 123);
    assert_eq!(stored.partition_leader_epoch(), 2);
    assert_eq!(stored.timestamp_type(), TimestampType::CreateTime);
    assert_eq!(&stored.as_bytes()[16..], &original.as_bytes()[16..]);
}

#[test]
fn rewrite_refuses_a_corrupt_batch() {
    let mut bytes = produced(Compression::None).to_vec();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    let batch = RecordBatch::new(Bytes::from(bytes)).unwrap();
    assert!(matches!(
        batch.into_stored(0, 0, Some(1)),
        Err(RecordError::BadCrc { .. })
    ));
}

#[test]
fn rewrite_of_a_batch_inside_a_shared_blob_leaves_the_blob_alone() {
    let first = produced(Compression::None);
    let second = produced(Compression::Gzip);
    let blob = Bytes::from([first.to_vec(), second.to_vec()].concat());
    let batches: Vec<_> = RecordBatch::iter_blob(blob.clone())
        .collect::<Result<_, _>>()
        .unwrap();
    let stored: Vec<_> = batches
        .into_iter()
        .enumerate()
        .map(|(i, b)| b.into_stored(10 * i as i64, 1, Some(42)).unwrap())
        .collect();
    assert_eq!(stored[1].base_offset(), 10);
    // The request buffer the batches came from is unchanged.
    assert_eq!(&blob[..first.len()], &first[..]);
    assert_eq!(&blob[first.len()..], &second[..]);
}
