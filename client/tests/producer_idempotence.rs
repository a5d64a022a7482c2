//! The idempotent producer under forced disconnects and sequence errors: every record is
//! written exactly once and in send order per partition, checked record by record.
//!
//! Disconnects come from the mini-broker's fault hook (`broker.faults()`: drop the connection
//! of the Nth Produce before or after applying it) and from a raw TCP proxy that cuts
//! connections the same way from outside the broker. Sequence errors
//! (OUT_OF_ORDER_SEQUENCE_NUMBER, UNKNOWN_PRODUCER_ID) are answered by the proxy, which makes
//! the producer bump its epoch (KIP-360) and renumber; so is the NOT_LEADER_OR_FOLLOWER that
//! lets later batches overtake a fresh partition's first one.

mod producer_support;

use std::collections::HashMap;
use std::time::Duration;

use ferrokafka::producer::{Acks, ProducerRecord};
use ferrokafka::{DeliveryFuture, ErrorCode, Producer};
use ferrokafka_mini_broker::{ApiKey, When};
use producer_support::proxy::broker_behind_proxy;
use producer_support::{broker, client, config, fetch_all, fetch_topic, producer, within};

const PARTITIONS: i32 = 3;
const KEYS: usize = 24;

/// Sends `n` records keyed `k0..k23`, each value `key:index-of-that-key`; returns the
/// deliveries with the key and index of each.
async fn send_numbered(
    p: &Producer,
    topic: &str,
    n: usize,
) -> Vec<(String, usize, DeliveryFuture)> {
    let mut per_key: HashMap<String, usize> = HashMap::new();
    let mut out = Vec::new();
    for i in 0..n {
        let key = format!("k{}", i % KEYS);
        let index = per_key.entry(key.clone()).or_default();
        let record = ProducerRecord::new(topic.to_owned())
            .key(key.clone())
            .value(format!("{key}:{index}:{}", "x".repeat(40)));
        out.push((key.clone(), *index, p.send(record).await.expect("send")));
        *index += 1;
    }
    out
}

/// Every record delivered once, at the offset it reports, and in send order per key.
async fn check_exactly_once_in_order(
    bootstrap: &str,
    topic: &str,
    deliveries: Vec<(String, usize, DeliveryFuture)>,
) {
    let mut sent_per_key: HashMap<String, usize> = HashMap::new();
    let mut reported: HashMap<(i32, i64), (String, usize)> = HashMap::new();
    for (key, index, d) in deliveries {
        let m = within("delivery", d).await.expect("delivered");
        let offset = m.offset.expect("offset");
        assert!(
            reported
                .insert((m.partition, offset), (key.clone(), index))
                .is_none(),
            "two records reported at {}/{offset}",
            m.partition
        );
        *sent_per_key.entry(key).or_default() += 1;
    }
    let reader = client(bootstrap).await;
    let log = fetch_topic(&reader, topic, PARTITIONS).await;
    reader.close().await;
    let mut seen_per_key: HashMap<String, usize> = HashMap::new();
    let mut total = 0;
    for (partition, records) in log.iter().enumerate() {
        for r in records {
            let value = String::from_utf8(r.value.clone().unwrap().to_vec()).unwrap();
            let mut parts = value.split(':');
            let key = parts.next().unwrap().to_owned();
            let index: usize = parts.next().unwrap().parse().unwrap();
            let next = seen_per_key.entry(key.clone()).or_default();
            assert_eq!(
                index, *next,
                "key {key} in partition {partition}: record {index} at offset {} where \
                 record {next} was due (a duplicate or a reordering)",
                r.offset
            );
            *next += 1;
            assert_eq!(
                reported.get(&(partition as i32, r.offset)),
                Some(&(key, index)),
                "the offset reported for this record"
            );
            total += 1;
        }
    }
    assert_eq!(seen_per_key, sent_per_key, "every record once");
    assert_eq!(total, reported.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_dropped_connections_neither_duplicate_nor_reorder() {
    let broker = broker(PARTITIONS).await;
    let faults = broker.faults();
    for (nth, when) in [
        (3, When::AfterApplying),
        (7, When::BeforeApplying),
        (12, When::AfterApplying),
        (20, When::AfterApplying),
        (27, When::BeforeApplying),
        (35, When::AfterApplying),
    ] {
        faults.drop_connection(ApiKey::Produce, nth, when);
    }
    let p = producer(
        config(&broker.bootstrap())
            .batch_size(1024)
            .linger(Duration::from_millis(1))
            .retry_backoff(Duration::from_millis(10), Duration::from_millis(50)),
    )
    .await;
    assert!(p.config().idempotent());
    let deliveries = send_numbered(&p, "drops", 4000).await;
    within("flush", p.flush()).await;
    assert_eq!(faults.pending(), 0, "every fault fired");
    check_exactly_once_in_order(&broker.bootstrap(), "drops", deliveries).await;
    p.close().await.expect("close");
    broker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_cut_connections_neither_duplicate_nor_reorder() {
    let (broker, proxy) = broker_behind_proxy(PARTITIONS).await;
    for (nth, when) in [
        (2, When::AfterApplying),
        (5, When::AfterApplying),
        (9, When::BeforeApplying),
        (15, When::AfterApplying),
        (24, When::BeforeApplying),
        (31, When::AfterApplying),
    ] {
        proxy.cut_produce(nth, when);
    }
    let p = producer(
        config(&proxy.bootstrap)
            .batch_size(2048)
            .linger(Duration::from_millis(2))
            .retry_backoff(Duration::from_millis(10), Duration::from_millis(50)),
    )
    .await;
    let deliveries = send_numbered(&p, "cuts", 4000).await;
    within("flush", p.flush()).await;
    assert_eq!(proxy.pending_cuts(), 0, "every cut came due");
    assert!(proxy.cuts() >= 3, "only {} cuts", proxy.cuts());
    check_exactly_once_in_order(&proxy.bootstrap, "cuts", deliveries).await;
    p.close().await.expect("close");
    drop(proxy);
    broker.shutdown().await;
}

/// The broker refuses a batch with a sequence error: the producer asks for a new epoch with
/// its current id and epoch (InitProducerId, KIP-360), renumbers from 0, and delivers.
async fn sequence_error_bumps_the_epoch(code: ErrorCode, topic: &str) {
    let (broker, proxy) = broker_behind_proxy(PARTITIONS).await;
    let p = producer(
        config(&proxy.bootstrap)
            .acks(Acks::All)
            .max_in_flight(1)
            .batch_size(512)
            .linger(Duration::ZERO)
            .retry_backoff(Duration::from_millis(10), Duration::from_millis(50)),
    )
    .await;
    // Warm up: producer id, metadata, the first sequences.
    let warm = send_numbered(&p, topic, 48).await;
    for (_, _, d) in warm {
        within("warm-up", d).await.expect("delivered");
    }
    proxy.answer_produce_with(1, code.0);
    let deliveries = send_numbered(&p, topic, 600).await;
    within("flush", p.flush()).await;
    let inits = proxy.requests().iter().filter(|r| r.api_key == 22).count();
    assert_eq!(inits, 2, "one InitProducerId, then one bump");
    // The warm-up records are in the log too; check the whole log from key index 0.
    let mut all = Vec::new();
    let mut per_key: HashMap<String, usize> = HashMap::new();
    for i in 0..48 {
        let key = format!("k{}", i % KEYS);
        *per_key.entry(key).or_default() += 1;
    }
    for (key, index, d) in deliveries {
        all.push((
            key.clone(),
            index + per_key.get(&key).copied().unwrap_or(0),
            d,
        ));
    }
    // Re-key the warm-up deliveries as already checked: compare only counts for them.
    let reader = client(&proxy.bootstrap).await;
    let log = fetch_topic(&reader, topic, PARTITIONS).await;
    reader.close().await;
    // Kafka (and the mini-broker) answer a non-transactional InitProducerId with a fresh
    // id at epoch 0, whatever the request names: two producer ids, before and after.
    let producers: std::collections::BTreeSet<(i64, i16)> = log
        .iter()
        .flatten()
        .map(|r| (r.producer.0, r.producer.1))
        .collect();
    assert_eq!(
        producers.len(),
        2,
        "batches before and after the bump: {producers:?}"
    );
    let total: usize = log.iter().map(Vec::len).sum();
    assert_eq!(total, 648, "every record once");
    // Order per key over the whole log.
    let mut next: HashMap<String, usize> = HashMap::new();
    for records in &log {
        for r in records {
            let value = String::from_utf8(r.value.clone().unwrap().to_vec()).unwrap();
            let mut parts = value.split(':');
            let key = parts.next().unwrap().to_owned();
            let index: usize = parts.next().unwrap().parse().unwrap();
            let want = next.entry(key.clone()).or_default();
            // Values restart at 0 for the second round of sends; the warm-up's come first.
            let expected = if *want >= per_key[&key] {
                *want - per_key[&key]
            } else {
                *want
            };
            assert_eq!(index, expected, "key {key} at offset {}", r.offset);
            *want += 1;
        }
    }
    for (_, _, d) in all {
        within("delivery", d).await.expect("delivered");
    }
    p.close().await.expect("close");
    drop(proxy);
    broker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_order_sequence_bumps_the_epoch_and_delivers() {
    sequence_error_bumps_the_epoch(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER, "oos").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_producer_id_bumps_the_epoch_and_delivers() {
    sequence_error_bumps_the_epoch(ErrorCode::UNKNOWN_PRODUCER_ID, "upid").await;
}

/// Right after a topic is created, Kafka may refuse a partition's first batch with
/// NOT_LEADER_OR_FOLLOWER and write the batches behind it, in the next requests, since a
/// partition that has not seen the producer takes any first sequence. The refused batch's
/// retry then gets OUT_OF_ORDER_SEQUENCE_NUMBER for good under this epoch (its successors are
/// in): the producer must bump the epoch and renumber it, not wait for a predecessor until
/// `delivery.timeout.ms` (the real-Kafka perf suite's "waiting to be retried ... timed out").
///
/// The current-thread runtime makes the trigger certain: every batch is queued before the
/// sender runs, so the requests behind the refused one are on the wire before its answer.
#[tokio::test]
async fn a_refused_first_batch_overtaken_by_written_ones_is_renumbered_and_delivered() {
    const RECORDS: usize = 60;
    let (broker, proxy) = broker_behind_proxy(2).await;
    let p = producer(
        config(&proxy.bootstrap)
            .batch_size(1024)
            .linger(Duration::ZERO)
            .retry_backoff(Duration::from_millis(10), Duration::from_millis(50))
            .delivery_timeout(Duration::from_secs(10)),
    )
    .await;
    let record = |partition: i32, value: String| {
        ProducerRecord::new("fresh")
            .partition(partition)
            .value(value)
    };
    // Producer id, metadata and connection through partition 1; partition 0 has not seen
    // this producer yet.
    let warm = p.send(record(1, "warm-up".into())).await.expect("send");
    within("warm-up", warm).await.expect("delivered");
    proxy.answer_produce_with(1, ErrorCode::NOT_LEADER_OR_FOLLOWER.0);
    let mut deliveries = Vec::new();
    for i in 0..RECORDS {
        let value = format!("{i}:{}", "x".repeat(90));
        deliveries.push(p.send(record(0, value)).await.expect("send"));
    }
    let mut reported = HashMap::new();
    for (i, d) in deliveries.into_iter().enumerate() {
        let m = within("delivery", d).await.expect("delivered");
        assert_eq!(reported.insert(m.offset.expect("offset"), i), None);
    }
    let reader = client(&proxy.bootstrap).await;
    let log = fetch_all(&reader, "fresh", 0).await;
    reader.close().await;
    let mut seen = vec![0; RECORDS];
    for r in &log {
        let value = String::from_utf8(r.value.clone().unwrap().to_vec()).unwrap();
        let i: usize = value.split(':').next().unwrap().parse().unwrap();
        seen[i] += 1;
        assert_eq!(reported.get(&r.offset), Some(&i), "offset {}", r.offset);
    }
    assert!(seen.iter().all(|n| *n == 1), "every record once: {seen:?}");
    // The trigger happened: a later batch was written first, the refused one after it under
    // the bumped producer.
    assert_ne!(log[0].producer.2, 0, "the log starts with a later batch");
    let producers: std::collections::BTreeSet<i64> = log.iter().map(|r| r.producer.0).collect();
    assert_eq!(
        producers.len(),
        2,
        "before and after the bump: {producers:?}"
    );
    let inits = proxy.requests().iter().filter(|r| r.api_key == 22).count();
    assert_eq!(inits, 2, "one InitProducerId, then one bump");
    p.close().await.expect("close");
    drop(proxy);
    broker.shutdown().await;
}
