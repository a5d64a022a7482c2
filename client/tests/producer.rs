//! The producer against the in-process mini-broker: what it writes is what a raw Fetch reads
//! back, for every ack mode and codec, with keys, null values, duplicate headers and
//! timestamps; offsets come back as the broker assigned them.

mod producer_support;

use std::time::Duration;

use bytes::Bytes;
use ferrokafka::producer::{Acks, ProducerRecord};
use ferrokafka::Error;
use ferrokafka_protocol::record::{Compression, Header};
use producer_support::{broker, client, config, fetch_all, producer, within};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_ack_mode_and_codec_round_trips() {
    let broker = broker(1).await;
    let reader = client(&broker.bootstrap()).await;
    for acks in [Acks::None, Acks::Leader, Acks::All] {
        for codec in Compression::ALL {
            let topic = format!("acks{}-{}", acks.as_i16(), codec.name());
            let p = producer(config(&broker.bootstrap()).acks(acks).compression(codec)).await;
            let mut futures = Vec::new();
            for i in 0..200 {
                let record = ProducerRecord::new(topic.clone())
                    .key(format!("key-{i}"))
                    .value(format!("{codec} payload {i} {}", "x".repeat(i % 50)))
                    .header("codec", codec.name());
                futures.push(p.send(record).await.expect("send"));
            }
            for (i, f) in futures.into_iter().enumerate() {
                let m = within("delivery", f).await.expect("delivered");
                assert_eq!(m.partition, 0);
                match acks {
                    Acks::None => assert_eq!(m.offset, None, "acks=0 learns no offset"),
                    _ => assert_eq!(m.offset, Some(i as i64), "{topic} record {i}"),
                }
            }
            p.close().await.expect("close");
            let got = fetch_all(&reader, &topic, 0).await;
            assert_eq!(got.len(), 200, "{topic}");
            for (i, r) in got.iter().enumerate() {
                assert_eq!(r.offset, i as i64);
                assert_eq!(r.key.as_deref(), Some(format!("key-{i}").as_bytes()));
                assert_eq!(
                    r.value.as_deref(),
                    Some(format!("{codec} payload {i} {}", "x".repeat(i % 50)).as_bytes())
                );
                assert_eq!(r.headers, vec![Header::new("codec", codec.name())]);
                assert_eq!(r.codec, codec.name(), "{topic}: batch codec");
                // Idempotence is on by default with acks=all only (as in Java).
                let idempotent = acks == Acks::All;
                assert_eq!(r.producer.0 >= 0, idempotent, "{topic}: producer id");
            }
        }
    }
    reader.close().await;
    broker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_null_values_duplicate_headers_and_timestamps_are_kept() {
    let broker = broker(1).await;
    let p = producer(config(&broker.bootstrap())).await;
    let records = vec![
        ProducerRecord::new("fields")
            .key("k")
            .value("v")
            .timestamp(1_600_000_000_000),
        // Null key and null value.
        ProducerRecord::new("fields").timestamp(1_600_000_000_001),
        // Empty key and value, distinct from null.
        ProducerRecord::new("fields")
            .key(Bytes::new())
            .value(Bytes::new())
            .timestamp(1_600_000_000_002),
        // Duplicate header keys in order, a null header value, binary bytes.
        ProducerRecord::new("fields")
            .key(vec![0u8, 255, 128])
            .value(vec![1u8, 2, 3])
            .header("h", "one")
            .header("h", "two")
            .null_header("nil")
            .header("bin", vec![0u8, 255])
            .timestamp(1_500_000_000_000),
        // No timestamp: stamped at send.
        ProducerRecord::new("fields").value("now"),
    ];
    let before = now_ms();
    let mut futures = Vec::new();
    for r in records.clone() {
        futures.push(p.send(r).await.expect("send"));
    }
    let mut metas = Vec::new();
    for f in futures {
        metas.push(within("delivery", f).await.expect("delivered"));
    }
    let after = now_ms();
    let reader = client(&broker.bootstrap()).await;
    let got = fetch_all(&reader, "fields", 0).await;
    assert_eq!(got.len(), records.len());
    for (i, (sent, read)) in records.iter().zip(&got).enumerate() {
        assert_eq!(read.key, sent.key, "record {i} key");
        assert_eq!(read.value, sent.value, "record {i} value");
        assert_eq!(read.headers, sent.headers, "record {i} headers");
        assert_eq!(Some(read.offset), metas[i].offset);
        assert_eq!(read.timestamp, metas[i].timestamp, "record {i} timestamp");
        match sent.timestamp {
            Some(ts) => assert_eq!(read.timestamp, ts),
            None => assert!((before..=after).contains(&read.timestamp)),
        }
    }
    p.close().await.expect("close");
    reader.close().await;
    broker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flush_sends_without_waiting_for_linger_and_close_refuses_more() {
    let broker = broker(1).await;
    // A linger far beyond the test's patience: only flush can send these.
    let p = producer(
        config(&broker.bootstrap())
            .linger(Duration::from_secs(3600))
            .delivery_timeout(Duration::from_secs(4000)),
    )
    .await;
    let f = p
        .send(ProducerRecord::new("flushed").value("v"))
        .await
        .expect("send");
    within("flush", p.flush()).await;
    let m = within("delivery", f).await.expect("delivered");
    assert_eq!(m.offset, Some(0));
    // Close drains what is queued.
    let queued = p
        .send(ProducerRecord::new("flushed").value("w"))
        .await
        .expect("send");
    within("close", p.close()).await.expect("close");
    assert_eq!(
        within("delivery", queued).await.expect("delivered").offset,
        Some(1)
    );
    let err = p
        .send(ProducerRecord::new("flushed").value("late"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Closed), "{err}");
    broker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clones_send_from_spawned_tasks() {
    let broker = broker(3).await;
    let p = producer(config(&broker.bootstrap())).await;
    let mut tasks = Vec::new();
    for t in 0..4 {
        let p = p.clone();
        // `send` and its delivery future are Send: they run on any worker.
        tasks.push(tokio::spawn(async move {
            let mut out = Vec::new();
            for i in 0..250 {
                let d = p
                    .send(
                        ProducerRecord::new("spawned")
                            .key(format!("t{t}"))
                            .value(format!("{i}")),
                    )
                    .await
                    .expect("send");
                out.push(d);
            }
            let mut offsets = Vec::new();
            for d in out {
                offsets.push(d.await.expect("delivered").offset.expect("offset"));
            }
            offsets
        }));
    }
    for task in tasks {
        let offsets = within("task", task).await.expect("task");
        assert!(offsets.windows(2).all(|w| w[0] < w[1]), "per-key order");
    }
    drop(p);
    broker.shutdown().await;
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}
