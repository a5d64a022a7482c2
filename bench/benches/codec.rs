//! Micro-benchmarks of the hot paths both the client and the broker run per record: building a
//! batch, appending records to it, iterating its records, the CRC check, the lz4 codec, varints,
//! the keyed partitioner, and splitting frames.

use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use ferrokafka::partitioner::partition_for_key;
use ferrokafka_protocol::frame::{encode_frame, split_frame, DEFAULT_MAX_FRAME_SIZE};
use ferrokafka_protocol::record::varint::{decode_varint, decode_varlong, put_varint, put_varlong};
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

/// What the producer does per record: append to an open batch (no build, no clone of inputs).
fn append(c: &mut Criterion) {
    let mut group = c.benchmark_group("append");
    group.throughput(Throughput::Elements(RECORDS as u64));
    let value = Bytes::from((0..100).map(|i| (i % 251) as u8).collect::<Vec<u8>>());
    group.bench_function("append 1000x100B keyless", |b| {
        b.iter(|| {
            let mut builder = BatchBuilder::new();
            for i in 0..RECORDS {
                builder
                    .push(RecordInput {
                        timestamp: 1_700_000_000_000 + i as i64 / 10,
                        key: None,
                        value: Some(value.clone()),
                        headers: Vec::new(),
                    })
                    .expect("push");
            }
            builder.estimated_size()
        })
    });
    group.finish();
}

/// lz4 on a batch's record area as the perf tool's payloads make it (bytes cycling mod 251).
fn lz4(c: &mut Criterion) {
    let mut group = c.benchmark_group("lz4");
    for (name, size, count) in [("16x1KiB", 1024, 16), ("160x100B", 100, 160)] {
        let value: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
        let records: Vec<u8> = (0..count).flat_map(|_| value.iter().copied()).collect();
        group.throughput(Throughput::Bytes(records.len() as u64));
        group.bench_function(format!("compress {name}"), |b| {
            b.iter(|| {
                let mut out = Vec::new();
                Compression::Lz4.compress(&records, &mut out).expect("lz4");
                out.len()
            })
        });
        let mut compressed = Vec::new();
        Compression::Lz4
            .compress(&records, &mut compressed)
            .expect("lz4");
        group.bench_function(format!("decompress {name}"), |b| {
            b.iter(|| {
                Compression::Lz4
                    .decompress(&compressed, 1 << 20)
                    .expect("lz4")
                    .len()
            })
        });
    }
    group.finish();
}

fn varints(c: &mut Criterion) {
    // What a batch holds: mostly one- and two-byte values, some longer.
    let values: Vec<i64> = (0..1000i64)
        .map(|i| match i % 4 {
            0 => i % 60,
            1 => 100 + i,
            2 => -i,
            _ => i * 1_000_003,
        })
        .collect();
    let mut group = c.benchmark_group("varint");
    group.throughput(Throughput::Elements(values.len() as u64));
    group.bench_function("put_varint 1000", |b| {
        let mut out = Vec::with_capacity(5 * values.len());
        b.iter(|| {
            out.clear();
            for v in &values {
                put_varint(&mut out, *v as i32);
            }
            out.len()
        })
    });
    group.bench_function("put_varlong 1000", |b| {
        let mut out = Vec::with_capacity(10 * values.len());
        b.iter(|| {
            out.clear();
            for v in &values {
                put_varlong(&mut out, *v);
            }
            out.len()
        })
    });
    let mut ints = Vec::new();
    let mut longs = Vec::new();
    for v in &values {
        put_varint(&mut ints, *v as i32);
        put_varlong(&mut longs, *v);
    }
    group.bench_function("decode_varint 1000", |b| {
        b.iter(|| {
            let (mut rest, mut sum) = (&ints[..], 0i64);
            while let Ok((v, used)) = decode_varint(rest) {
                sum += i64::from(v);
                rest = &rest[used..];
            }
            sum
        })
    });
    group.bench_function("decode_varlong 1000", |b| {
        b.iter(|| {
            let (mut rest, mut sum) = (&longs[..], 0i64);
            while let Ok((v, used)) = decode_varlong(rest) {
                sum = sum.wrapping_add(v);
                rest = &rest[used..];
            }
            sum
        })
    });
    group.finish();
}

fn partitioner(c: &mut Criterion) {
    let keys: Vec<Vec<u8>> = (0..1000)
        .map(|i| format!("user-{i}").into_bytes())
        .collect();
    let mut group = c.benchmark_group("partitioner");
    group.throughput(Throughput::Elements(keys.len() as u64));
    group.bench_function("partition_for_key 1000 keys, 6 partitions", |b| {
        b.iter(|| keys.iter().map(|k| partition_for_key(k, 6)).sum::<i32>())
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

criterion_group!(benches, batches, append, lz4, varints, partitioner, frames);
criterion_main!(benches);
