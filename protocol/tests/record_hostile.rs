//! Bad input: random bytes, mutated batches, truncation, corrupted CRCs, lying counts and
//! lengths, bombs. Nothing here may panic, and lies must be caught before allocation.

use bytes::{BufMut, Bytes};
use ferrokafka_protocol::record::{
    varint, BatchBuilder, Compression, Header, RecordBatch, RecordError, RecordInput,
};
use proptest::prelude::*;

/// Decodes everything reachable from `blob`, discarding results: the only thing tested is that
/// it returns.
fn exercise(blob: Bytes) {
    let mut iter = RecordBatch::iter_blob(blob);
    for batch in iter.by_ref().flatten() {
        let _ = batch.verify_crc();
        let _ = batch.compression();
        let _ = (
            batch.last_offset(),
            batch.next_offset(),
            batch.last_sequence(),
        );
        if let Ok(records) = batch.records_with_limit(1 << 20) {
            for record in records.flatten() {
                let _ = (record.offset(&batch), record.timestamp(&batch));
                let _ = record.end_txn_marker();
            }
        }
    }
    let _ = iter.truncated_tail();
}

fn sample_batch(compression: Compression, n: usize) -> Bytes {
    let mut builder = BatchBuilder::new().compression(compression);
    for i in 0..n {
        builder
            .push(RecordInput {
                timestamp: 1_000 + i as i64,
                key: (i % 2 == 0).then(|| Bytes::from(format!("k{i}"))),
                value: Some(Bytes::from(format!("value number {i}"))),
                headers: vec![Header::new("h", "v"), Header::null("h")],
            })
            .unwrap();
    }
    builder.build().unwrap()
}

/// A v2 batch from raw parts, with a correct CRC, so that decoding goes past the header.
fn raw_batch(attributes: i16, count: i32, body: &[u8]) -> Bytes {
    let mut b = Vec::new();
    b.put_i64(0); // base offset
    b.put_i32((49 + body.len()) as i32);
    b.put_i32(-1); // leader epoch
    b.put_i8(2);
    b.put_u32(0); // crc, below
    b.put_i16(attributes);
    b.put_i32(count.saturating_sub(1).max(0));
    b.put_i64(0);
    b.put_i64(0);
    b.put_i64(-1);
    b.put_i16(-1);
    b.put_i32(-1);
    b.put_i32(count);
    b.extend_from_slice(body);
    let crc = crc32c::crc32c(&b[21..]);
    b[17..21].copy_from_slice(&crc.to_be_bytes());
    Bytes::from(b)
}

/// One record from raw fields: body is everything after the length prefix.
fn raw_record(body: &[u8]) -> Vec<u8> {
    let mut r = Vec::new();
    varint::put_varint(&mut r, body.len() as i32);
    r.extend_from_slice(body);
    r
}

fn records_error(batch: Bytes) -> RecordError {
    let batch = RecordBatch::new(batch).unwrap();
    match batch.records() {
        Err(e) => e,
        Ok(mut records) => loop {
            match records.next() {
                Some(Err(e)) => break e,
                Some(Ok(_)) => continue,
                None => panic!("decoded without error"),
            }
        },
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        exercise(Bytes::from(bytes));
    }

    #[test]
    fn random_bytes_behind_a_valid_header_never_panic(
        attributes in 0i16..8,
        count in prop_oneof![0i32..8, any::<i32>()],
        body in prop::collection::vec(any::<u8>(), 0..256),
    ) {
        exercise(raw_batch(attributes, count, &body));
    }

    #[test]
    fn mutated_batches_never_panic(
        codec in prop::sample::select(Compression::ALL.to_vec()),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        fix_crc in any::<bool>(),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut bytes = sample_batch(codec, 5).to_vec();
        for (at, value) in flips {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        if fix_crc {
            // Re-sign the damage so the decoder, not the CRC, has to catch it.
            let crc = crc32c::crc32c(&bytes[21..]);
            bytes[17..21].copy_from_slice(&crc.to_be_bytes());
        }
        exercise(Bytes::from(bytes.clone()));
        bytes.truncate(cut.index(bytes.len() + 1));
        exercise(Bytes::from(bytes));
    }
}

#[test]
fn truncated_last_batch_is_skipped_cleanly() {
    let batches = [
        sample_batch(Compression::None, 3),
        sample_batch(Compression::Zstd, 4),
        sample_batch(Compression::Gzip, 2),
    ];
    let full: Vec<u8> = batches.iter().flat_map(|b| b.to_vec()).collect();
    let complete_two = batches[0].len() + batches[1].len();
    for cut in complete_two..=full.len() {
        let mut iter = RecordBatch::iter_blob(Bytes::copy_from_slice(&full[..cut]));
        let got: Vec<RecordBatch> = iter.by_ref().collect::<Result<_, _>>().unwrap();
        let whole_third = cut == full.len();
        assert_eq!(got.len(), if whole_third { 3 } else { 2 }, "cut at {cut}");
        assert_eq!(got[0].as_bytes(), &batches[0]);
        assert_eq!(got[1].as_bytes(), &batches[1]);
        let tail_present = cut > complete_two && !whole_third;
        assert_eq!(iter.truncated_tail(), tail_present, "cut at {cut}");
        assert_eq!(
            iter.remaining().len(),
            cut - complete_two - if whole_third { batches[2].len() } else { 0 }
        );
        assert!(iter.next().is_none(), "iterator must stay finished");
    }
}

#[test]
fn a_lone_truncated_batch_is_not_an_error_but_a_view_of_it_is() {
    let batch = sample_batch(Compression::None, 2);
    let cut = batch.slice(..batch.len() - 1);
    let mut iter = RecordBatch::iter_blob(cut.clone());
    assert!(iter.next().is_none());
    assert!(iter.truncated_tail());
    assert!(matches!(
        RecordBatch::new(cut),
        Err(RecordError::Truncated { .. })
    ));
    let mut longer = batch.to_vec();
    longer.push(0);
    assert!(matches!(
        RecordBatch::new(Bytes::from(longer)),
        Err(RecordError::BatchLengthMismatch { .. })
    ));
}

#[test]
fn every_bit_flip_under_the_crc_is_detected() {
    let original = sample_batch(Compression::Snappy, 3);
    RecordBatch::new(original.clone())
        .unwrap()
        .verify_crc()
        .unwrap();
    // Flipping the CRC itself or anything after it must fail verification.
    for byte in 17..original.len() {
        for bit in 0..8 {
            let mut bytes = original.to_vec();
            bytes[byte] ^= 1 << bit;
            let batch = RecordBatch::new(Bytes::from(bytes)).unwrap();
            assert!(
                matches!(batch.verify_crc(), Err(RecordError::BadCrc { expected, actual }) if expected != actual),
                "flip at byte {byte} bit {bit} undetected"
            );
        }
    }
    // Base offset and leader epoch are outside the CRC, by design.
    let mut bytes = original.to_vec();
    bytes[0] ^= 0xff;
    bytes[12] ^= 0xff;
    RecordBatch::new(Bytes::from(bytes))
        .unwrap()
        .verify_crc()
        .unwrap();
}

#[test]
fn impossible_batch_lengths_are_errors() {
    for length in [i32::MIN, -1, 0, 1, 48] {
        let mut bytes = sample_batch(Compression::None, 1).to_vec();
        bytes[8..12].copy_from_slice(&length.to_be_bytes());
        let mut iter = RecordBatch::iter_blob(Bytes::from(bytes));
        assert!(
            matches!(iter.next(), Some(Err(RecordError::BadBatchLength(l))) if l == length),
            "length {length}"
        );
        assert!(iter.next().is_none(), "must stop after an error");
        assert!(!iter.truncated_tail());
    }
}

#[test]
fn legacy_magic_is_named() {
    for magic in [0i8, 1, 3, -1] {
        let mut bytes = sample_batch(Compression::None, 1).to_vec();
        bytes[16] = magic as u8;
        let err = RecordBatch::iter_blob(Bytes::from(bytes.clone()))
            .next()
            .unwrap()
            .unwrap_err();
        assert!(matches!(err, RecordError::UnsupportedMagic(m) if m == magic));
        assert!(matches!(
            RecordBatch::new(Bytes::from(bytes)),
            Err(RecordError::UnsupportedMagic(m)) if m == magic
        ));
    }
}

#[test]
fn hostile_record_counts_are_refused_before_allocating() {
    // 2 billion records claimed, 100 bytes present: refused up front, never `with_capacity`.
    let body = vec![0u8; 100];
    for count in [i32::MAX, 2_000_000_000, 15, -1, i32::MIN] {
        let err = RecordBatch::new(raw_batch(0, count, &body))
            .unwrap()
            .records()
            .unwrap_err();
        assert!(
            matches!(err, RecordError::BadRecordCount { count: c, available: 100 } if c == count),
            "{count}: {err}"
        );
    }
    // The same lie inside a compressed batch is caught after bounded inflation.
    for codec in [
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ] {
        let mut packed = Vec::new();
        codec.compress(&body, &mut packed).unwrap();
        let err = RecordBatch::new(raw_batch(codec.attribute_bits(), i32::MAX, &packed))
            .unwrap()
            .records()
            .unwrap_err();
        assert!(
            matches!(err, RecordError::BadRecordCount { .. }),
            "{codec}: {err}"
        );
    }
}

#[test]
fn hostile_header_count_is_refused_before_allocating() {
    let mut body = vec![0u8]; // attributes
    varint::put_varlong(&mut body, 0); // timestamp delta
    varint::put_varint(&mut body, 0); // offset delta
    varint::put_varint(&mut body, -1); // null key
    varint::put_varint(&mut body, -1); // null value
    varint::put_varint(&mut body, 1_000_000_000); // header count
    let err = records_error(raw_batch(0, 1, &raw_record(&body)));
    assert!(
        matches!(
            err,
            RecordError::BadHeaderCount {
                count: 1_000_000_000,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn record_level_lies_are_errors() {
    let base = |tail: &[u8]| {
        let mut body = vec![0u8];
        varint::put_varlong(&mut body, 0);
        varint::put_varint(&mut body, 0);
        body.extend_from_slice(tail);
        body
    };

    // Key length larger than the record.
    let mut tail = Vec::new();
    varint::put_varint(&mut tail, 1_000);
    tail.extend_from_slice(&[0; 5]);
    let err = records_error(raw_batch(0, 1, &raw_record(&base(&tail))));
    assert!(matches!(err, RecordError::Truncated { .. }), "{err}");

    // Key length below -1.
    let mut tail = Vec::new();
    varint::put_varint(&mut tail, -7);
    tail.extend_from_slice(&[0; 5]);
    let err = records_error(raw_batch(0, 1, &raw_record(&base(&tail))));
    assert!(
        matches!(
            err,
            RecordError::BadFieldLength {
                field: "key",
                len: -7
            }
        ),
        "{err}"
    );

    // Null header key.
    let mut tail = Vec::new();
    for v in [-1, -1, 1, -1, -1] {
        varint::put_varint(&mut tail, v);
    }
    let err = records_error(raw_batch(0, 1, &raw_record(&base(&tail))));
    assert!(
        matches!(
            err,
            RecordError::BadFieldLength {
                field: "header key",
                len: -1
            }
        ),
        "{err}"
    );

    // Header key that is not UTF-8.
    let mut tail = Vec::new();
    for v in [-1, -1, 1, 2] {
        varint::put_varint(&mut tail, v);
    }
    tail.extend_from_slice(&[0xff, 0xfe]);
    varint::put_varint(&mut tail, -1);
    let err = records_error(raw_batch(0, 1, &raw_record(&base(&tail))));
    assert!(matches!(err, RecordError::InvalidHeaderKey(_)), "{err}");

    // Record length prefix longer than its fields.
    let mut tail = Vec::new();
    for v in [-1, -1, 0] {
        varint::put_varint(&mut tail, v);
    }
    let mut body = base(&tail);
    body.push(0x00); // a stray byte inside the record
    let err = records_error(raw_batch(0, 1, &raw_record(&body)));
    assert!(
        matches!(err, RecordError::RecordLengthMismatch { used, declared } if used + 1 == declared),
        "{err}"
    );

    // Negative record length.
    let mut rec = Vec::new();
    varint::put_varint(&mut rec, -5);
    rec.extend_from_slice(&[0; 10]);
    let err = records_error(raw_batch(0, 1, &rec));
    assert!(matches!(err, RecordError::BadRecordLength(-5)), "{err}");

    // A varint that never ends.
    let err = records_error(raw_batch(0, 1, &[0xff; 12]));
    assert!(
        matches!(
            err,
            RecordError::Varint(varint::VarintError::TooLong { max_len: 5 })
        ),
        "{err}"
    );

    // Bytes after the declared records.
    let mut good = sample_batch(Compression::None, 2).to_vec();
    good.extend_from_slice(&[0; 8]);
    let len = (good.len() - 12) as i32;
    good[8..12].copy_from_slice(&len.to_be_bytes());
    let err = records_error(Bytes::from(good));
    assert!(matches!(err, RecordError::TrailingBytes(8)), "{err}");
}

#[test]
fn unknown_codec_ids_are_errors() {
    for id in 5..8 {
        let batch = RecordBatch::new(raw_batch(id, 1, &[0; 10])).unwrap();
        assert!(
            matches!(batch.compression(), Err(RecordError::UnknownCompression(i)) if i16::from(i) == id)
        );
        assert!(matches!(
            batch.records(),
            Err(RecordError::UnknownCompression(_))
        ));
    }
}

#[test]
fn compressed_bombs_stop_at_the_cap() {
    let mut builder = BatchBuilder::new().compression(Compression::Gzip);
    builder
        .push(RecordInput {
            timestamp: 0,
            key: None,
            value: Some(Bytes::from(vec![0u8; 8 << 20])),
            headers: Vec::new(),
        })
        .unwrap();
    let batch = RecordBatch::new(builder.build().unwrap()).unwrap();
    assert!(batch.size() < 100 << 10);
    assert!(matches!(
        batch.records_with_limit(1 << 20),
        Err(RecordError::DecompressedTooLarge { limit, .. }) if limit == 1 << 20
    ));
    assert_eq!(batch.records().unwrap().count(), 1);
}

#[test]
fn garbage_inside_a_compressed_batch_is_a_decompression_error() {
    for codec in [
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ] {
        let batch = RecordBatch::new(raw_batch(
            codec.attribute_bits(),
            1,
            b"definitely not compressed",
        ))
        .unwrap();
        assert!(
            matches!(batch.records(), Err(RecordError::Decompress { .. })),
            "{codec}"
        );
    }
}
