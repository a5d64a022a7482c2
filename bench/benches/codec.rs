//! Micro-benchmarks of the hot paths both the client and the broker run per record: building a
//! batch, iterating its records, the CRC check, and splitting frames.

use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use ferrokafka_protocol::frame::{encode_frame, split_frame, DEFAULT_MAX_FRAME_SIZE};
use ferrokafka_protocol::record::{BatchBuilder, Compression, RecordBatch, RecordInput};

const RECORDS: usize = 1000;

fn inputs(size: usize) -> Vec<RecordInput> {
    (0..RECORDS)
        .map(|i| RecordInput {
            timestamp: 1_700_000_000_000 + i as i64,
            key: Some(Bytes::from(format!("key-{i}"))),
            value: Some(Bytes::from(vec![b'x'; size])),
            headers: Vec::new(),
        })
        .collect()
}

fn build(records: &[RecordInput], compression: Compression) -> Bytes {
    let mut b = BatchBuilder::new().compression(compression);
    for r in records {
        b.push(r.clone()).expect("push");
    }
    b.build().expect("build")
}

fn batches(c: &mut Criterion) {
    let mut group = c.benchmark_group("batch");
    group.throughput(Throughput::Elements(RECORDS as u64));
    for compression in [Compression::None, Compression::Lz4, Compression::Zstd] {
        let records = inputs(100);
        group.bench_function(format!("build 1000x100B {compression}"), |b| {
            b.iter_batched(
                || records.clone(),
                |r| build(&r, compression),
                BatchSize::SmallInput,
            )
        });
        let built = build(&records, compression);
        group.bench_function(format!("iterate 1000x100B {compression}"), |b| {
            b.iter(|| {
                let batch = RecordBatch::new(built.clone()).expect("batch");
                batch
                    .records()
                    .expect("records")
                    .filter(Result::is_ok)
                    .count()
            })
        });
    }
    let built = build(&inputs(100), Compression::None);
    group.bench_function("crc check 1000x100B", |b| {
        b.iter(|| RecordBatch::new(built.clone()).expect("batch").verify_crc())
    });
    group.finish();
}

fn frames(c: &mut Criterion) {
    let mut stream = BytesMut::new();
    for _ in 0..1000 {
        encode_frame(&[7u8; 200], &mut stream);
    }
    let stream = stream.freeze();
    let mut group = c.benchmark_group("frame");
    group.throughput(Throughput::Elements(1000));
    group.bench_function("split 1000 frames of 200B", |b| {
        b.iter_batched(
            || BytesMut::from(&stream[..]),
            |mut buf| {
                let mut n = 0;
                while let Ok(Some(_)) = split_frame(&mut buf, DEFAULT_MAX_FRAME_SIZE) {
                    n += 1;
                }
                n
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, batches, frames);
criterion_main!(benches);
