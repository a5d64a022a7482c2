//! Transactions against the in-process mini-broker: what `read_committed` and
//! `read_uncommitted` readers see after commits and aborts, interleaved transactions on one
//! partition, zombie fencing, the coordinator's timeout, transactional offsets, and the
//! `ExactlyOnce` consume-transform-produce loop (with a failing transform rewinding).

mod consumer_support;

use std::collections::BTreeMap;
use std::time::Duration;

mod producer_support;

use consumer_support::{broker, client, config, create_topic, DEADLINE};
use ferrokafka::consumer::TopicPartition;
use ferrokafka::{
    AutoOffsetReset, Consumer, ExactlyOnce, IsolationLevel, Producer, ProducerConfig,
    ProducerRecord, TransactionalProducer, TxnError,
};
use ferrokafka_mini_broker::MiniBroker;
use tokio::time::Instant;

/// A transactional producer whose every `send` goes out at once (`batch.size=0`).
async fn txn_producer(bootstrap: &str, id: &str, timeout_ms: u64) -> TransactionalProducer {
    let mut c = ProducerConfig::new(bootstrap).unwrap();
    c.set("transactional.id", id).unwrap();
    c.set("batch.size", "0").unwrap();
    c.set("retry.backoff.ms", "20").unwrap();
    c.set("transaction.timeout.ms", &timeout_ms.to_string())
        .unwrap();
    let mut p = TransactionalProducer::connect(c).await.unwrap();
    p.init_transactions().await.unwrap();
    p
}

fn rec(topic: &str, value: &str) -> ProducerRecord {
    ProducerRecord::new(topic.to_owned())
        .partition(0)
        .value(value.to_owned())
}

async fn reader(bootstrap: &str, topic: &str, level: IsolationLevel) -> Consumer {
    let mut c = Consumer::new(
        config(bootstrap)
            .isolation_level(level)
            .auto_offset_reset(AutoOffsetReset::Earliest)
            .build()
            .unwrap(),
    )
    .await
    .unwrap();
    c.assign([TopicPartition::new(topic, 0)]).unwrap();
    c
}

/// Values of partition 0 of `topic` up to and including the value `last`.
async fn read_until(
    bootstrap: &str,
    topic: &str,
    level: IsolationLevel,
    last: &str,
) -> Vec<String> {
    let mut c = reader(bootstrap, topic, level).await;
    let deadline = Instant::now() + DEADLINE;
    let mut seen = Vec::new();
    loop {
        assert!(Instant::now() < deadline, "{last} never came; saw {seen:?}");
        for r in c.poll(Duration::from_millis(200)).await.unwrap() {
            let v = String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into_owned();
            let done = v == last;
            seen.push(v);
            if done {
                return seen;
            }
        }
    }
}

async fn setup(topic: &str) -> MiniBroker {
    let broker = broker(1).await;
    let c = client(&broker.bootstrap()).await;
    create_topic(&c, topic, 1).await;
    c.close().await;
    broker
}

// Transaction version 2 (KIP-890, what the mini-broker and Kafka 4.x finalize by default):
// every transaction ends with a new epoch.
#[tokio::test]
async fn committed_records_are_visible_and_aborted_ones_only_uncommitted() {
    let broker = setup("vis").await;
    visibility(&broker, true).await;
}

// Transaction version 1 (a broker that finalizes transaction.version 1): AddPartitionsToTxn,
// AddOffsetsToTxn, and the epoch moves only after an error.
#[tokio::test]
async fn transaction_version_1_is_kept_for_brokers_that_finalize_it() {
    let broker = MiniBroker::builder()
        .transaction_version(1)
        .start()
        .await
        .unwrap();
    let c = client(&broker.bootstrap()).await;
    create_topic(&c, "vis", 1).await;
    c.close().await;
    visibility(&broker, false).await;
}

/// Commits, aborts, a dropped transaction: what read_committed and read_uncommitted readers
/// see, and the epoch after each transaction under the version the broker states.
async fn visibility(broker: &MiniBroker, v2: bool) {
    let b = broker.bootstrap();
    let mut p = txn_producer(&b, "vis-1", 60_000).await;
    assert_eq!(p.transaction_version_2(), v2);
    let (_, first_epoch) = p.producer_id_and_epoch().unwrap();
    let mut t = p.begin().await.unwrap();
    t.send(rec("vis", "a1")).await.unwrap();
    t.send(rec("vis", "a2")).await.unwrap();
    t.commit().await.unwrap();
    // Flushed, so they are in the log (an abort drops what is still queued).
    let mut t = p.begin().await.unwrap();
    t.send(rec("vis", "b1")).await.unwrap();
    t.send(rec("vis", "b2")).await.unwrap();
    t.flush().await.unwrap();
    t.abort().await.unwrap();
    // Dropped without commit: aborted by the next begin.
    let mut t = p.begin().await.unwrap();
    t.send(rec("vis", "d1")).await.unwrap();
    t.flush().await.unwrap();
    drop(t);
    // Queued when the transaction is aborted: never written at all.
    let mut t = p.begin().await.unwrap();
    t.send(rec("vis", "never")).await.unwrap();
    t.abort().await.unwrap();
    let mut t = p.begin().await.unwrap();
    t.send(rec("vis", "c1")).await.unwrap();
    t.send(rec("vis", "end")).await.unwrap();
    t.commit().await.unwrap();

    let committed = read_until(&b, "vis", IsolationLevel::ReadCommitted, "end").await;
    assert_eq!(committed, ["a1", "a2", "c1", "end"]);
    let all = read_until(&b, "vis", IsolationLevel::ReadUncommitted, "end").await;
    assert_eq!(all, ["a1", "a2", "b1", "b2", "d1", "c1", "end"]);
    // Version 2 moves the epoch with every EndTxn; version 1 kept it (no error happened).
    let (_, epoch) = p.producer_id_and_epoch().unwrap();
    if v2 {
        assert!(epoch > first_epoch, "{first_epoch} -> {epoch}");
    } else {
        assert_eq!(epoch, first_epoch);
    }
    p.close().await.unwrap();
}

#[tokio::test]
async fn interleaved_transactions_on_one_partition() {
    let broker = setup("mix").await;
    let b = broker.bootstrap();
    let mut x = txn_producer(&b, "mix-x", 60_000).await;
    let mut y = txn_producer(&b, "mix-y", 60_000).await;
    let mut tx = x.begin().await.unwrap();
    let mut ty = y.begin().await.unwrap();
    tx.send(rec("mix", "x1")).await.unwrap();
    tx.flush().await.unwrap();
    ty.send(rec("mix", "y1")).await.unwrap();
    ty.flush().await.unwrap();
    tx.send(rec("mix", "x2")).await.unwrap();
    tx.flush().await.unwrap();
    ty.send(rec("mix", "y2")).await.unwrap();
    ty.flush().await.unwrap();
    // Nothing is stable yet: a read_committed reader gets nothing.
    let mut early = reader(&b, "mix", IsolationLevel::ReadCommitted).await;
    assert!(early
        .poll(Duration::from_millis(300))
        .await
        .unwrap()
        .is_empty());
    ty.abort().await.unwrap();
    tx.commit().await.unwrap();
    let mut t = y.begin().await.unwrap();
    t.send(rec("mix", "end")).await.unwrap();
    t.commit().await.unwrap();
    let seen = read_until(&b, "mix", IsolationLevel::ReadCommitted, "end").await;
    assert_eq!(seen, ["x1", "x2", "end"]);
    let seen = read_until(&b, "mix", IsolationLevel::ReadUncommitted, "end").await;
    assert_eq!(seen, ["x1", "y1", "x2", "y2", "end"]);
}

#[tokio::test]
async fn a_second_producer_with_the_same_id_fences_the_first() {
    let broker = setup("zombie").await;
    let b = broker.bootstrap();
    let mut old = txn_producer(&b, "zombie-1", 60_000).await;
    let mut t = old.begin().await.unwrap();
    t.send(rec("zombie", "old-1")).await.unwrap();
    t.flush().await.unwrap();
    let mut new = txn_producer(&b, "zombie-1", 60_000).await;
    // The new producer's init aborted the old transaction and bumped the epoch. The partition
    // leader refuses the old epoch (INVALID_PRODUCER_EPOCH): abortable, as for Java (KIP-588),
    // since the coordinator may have aborted on its own...
    t.send(rec("zombie", "old-2")).await.unwrap();
    let err = t.flush().await.unwrap_err();
    assert!(matches!(err, TxnError::Abortable(_)), "{err}");
    let err = t.send(rec("zombie", "old-3")).await.unwrap_err();
    assert!(
        matches!(err, TxnError::Abortable(_)),
        "only abort is left: {err}"
    );
    drop(t);
    // ...and the abort asks the coordinator, which knows a newer instance: fenced for good.
    let err = old.begin().await.unwrap_err();
    assert!(matches!(err, TxnError::Fatal(_)), "{err}");
    let err = old.begin().await.unwrap_err();
    assert!(matches!(err, TxnError::Fatal(_)), "stays fatal: {err}");

    let mut t = new.begin().await.unwrap();
    t.send(rec("zombie", "new-1")).await.unwrap();
    t.send(rec("zombie", "end")).await.unwrap();
    t.commit().await.unwrap();
    let seen = read_until(&b, "zombie", IsolationLevel::ReadCommitted, "end").await;
    assert_eq!(seen, ["new-1", "end"]);
}

#[tokio::test]
async fn a_commit_after_the_old_epoch_is_fenced_too() {
    let broker = setup("zcommit").await;
    let b = broker.bootstrap();
    let mut old = txn_producer(&b, "zc-1", 60_000).await;
    let mut t = old.begin().await.unwrap();
    t.send(rec("zcommit", "old-1")).await.unwrap();
    let _new = txn_producer(&b, "zc-1", 60_000).await;
    let err = t.commit().await.unwrap_err();
    assert!(err.is_fatal(), "{err}");
}

#[tokio::test]
async fn the_coordinator_aborts_a_transaction_that_outlives_its_timeout() {
    let broker = MiniBroker::builder()
        .default_partitions(1)
        .transaction_abort_interval(Duration::from_millis(50))
        .start()
        .await
        .unwrap();
    let b = broker.bootstrap();
    let c = client(&b).await;
    create_topic(&c, "slow", 1).await;
    let mut slow = txn_producer(&b, "slow-1", 300).await;
    let mut t = slow.begin().await.unwrap();
    t.send(rec("slow", "late")).await.unwrap();
    let mut other = txn_producer(&b, "slow-2", 60_000).await;
    let mut t2 = other.begin().await.unwrap();
    t2.send(rec("slow", "end")).await.unwrap();
    t2.commit().await.unwrap();
    // "end" is only stable once the slow transaction was aborted by the coordinator.
    let seen = read_until(&b, "slow", IsolationLevel::ReadCommitted, "end").await;
    assert_eq!(seen, ["end"]);
    let err = t.commit().await.unwrap_err();
    assert!(err.is_fatal(), "a timed-out producer is fenced: {err}");
}

#[tokio::test]
async fn offsets_sent_to_a_transaction_count_only_when_it_commits() {
    let broker = setup("offs").await;
    let b = broker.bootstrap();
    let group_reader = Consumer::new(
        config(&b)
            .group_id("offs-group")
            .enable_auto_commit(false)
            .build()
            .unwrap(),
    )
    .await
    .unwrap();
    let group = group_reader.group_metadata().unwrap();
    let tp = TopicPartition::new("offs", 0);
    let mut p = txn_producer(&b, "offs-1", 60_000).await;
    let mut t = p.begin().await.unwrap();
    t.send_offsets([(tp.clone(), 5)], &group).await.unwrap();
    t.abort().await.unwrap();
    let committed = group_reader
        .committed(std::slice::from_ref(&tp))
        .await
        .unwrap();
    assert_eq!(committed[&tp], None);
    let mut t = p.begin().await.unwrap();
    t.send_offsets([(tp.clone(), 7)], &group).await.unwrap();
    t.commit().await.unwrap();
    let committed = group_reader
        .committed(std::slice::from_ref(&tp))
        .await
        .unwrap();
    assert_eq!(committed[&tp], Some(7));
}

#[tokio::test]
async fn exactly_once_pipeline_rewinds_after_a_failed_transform() {
    let largest = rewinding_pipeline(Duration::ZERO).await;
    assert!(largest <= 7, "one transaction per poll batch: {largest}");
}

// A transaction spanning several poll batches (`transaction_every`): the same guarantees,
// and transactions larger than one batch.
#[tokio::test]
async fn exactly_once_transactions_can_span_several_batches() {
    let largest = rewinding_pipeline(Duration::from_millis(400)).await;
    assert!(largest > 7, "spanned more than one batch of 7: {largest}");
}

/// 40 records through an exactly-once pipeline whose transform fails once; checks that the
/// output has each once and the input offsets are committed. Returns the most input records
/// one transaction took.
async fn rewinding_pipeline(span: Duration) -> usize {
    let broker = broker(2).await;
    let b = broker.bootstrap();
    let c = client(&b).await;
    create_topic(&c, "in", 2).await;
    create_topic(&c, "out", 2).await;
    let plain = Producer::connect(ProducerConfig::new(&b).unwrap())
        .await
        .unwrap();
    for i in 0..40 {
        let delivery = plain
            .send(
                ProducerRecord::new("in")
                    .key(format!("k{i}"))
                    .value(format!("{i}")),
            )
            .await
            .unwrap();
        delivery.await.unwrap();
    }
    let mut consumer = Consumer::new(
        config(&b)
            .group_id("eos")
            .enable_auto_commit(false)
            .isolation_level(IsolationLevel::ReadCommitted)
            .auto_offset_reset(AutoOffsetReset::Earliest)
            .max_poll_records(7)
            .build()
            .unwrap(),
    )
    .await
    .unwrap();
    consumer.subscribe(["in"]).unwrap();
    let mut producer = txn_producer(&b, "eos-1", 60_000).await;
    let mut eos = ExactlyOnce::new(&mut producer).transaction_every(span);
    let mut failed_once = false;
    let mut done = 0;
    let mut largest = 0;
    let deadline = Instant::now() + DEADLINE;
    while done < 40 {
        assert!(Instant::now() < deadline, "processed {done} of 40");
        let result = consumer
            .process_exactly_once_batch(&mut eos, |r| {
                let value =
                    String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into_owned();
                let fail = value == "17" && !failed_once;
                failed_once |= fail;
                async move {
                    if fail {
                        return Err("transform failed once");
                    }
                    Ok(vec![ProducerRecord::new("out")
                        .key(r.key.clone().unwrap_or_default())
                        .value(format!("out-{value}"))])
                }
            })
            .await;
        match result {
            Ok(n) => {
                done += n;
                largest = largest.max(n);
            }
            Err(ferrokafka::ProcessError::Handler { .. }) => {}
            Err(err) => panic!("{err}"),
        }
    }
    assert!(failed_once);
    let mut out = Consumer::new(
        config(&b)
            .isolation_level(IsolationLevel::ReadCommitted)
            .auto_offset_reset(AutoOffsetReset::Earliest)
            .build()
            .unwrap(),
    )
    .await
    .unwrap();
    out.assign([TopicPartition::new("out", 0), TopicPartition::new("out", 1)])
        .unwrap();
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    let deadline = Instant::now() + DEADLINE;
    while counts.values().sum::<usize>() < 40 {
        assert!(Instant::now() < deadline, "read {counts:?}");
        for r in out.poll(Duration::from_millis(200)).await.unwrap() {
            let v = String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into_owned();
            *counts.entry(v).or_default() += 1;
        }
    }
    // Nothing more arrives, and every output is there once.
    assert!(out
        .poll(Duration::from_millis(300))
        .await
        .unwrap()
        .is_empty());
    assert_eq!(counts.len(), 40, "{counts:?}");
    assert!(counts.values().all(|&n| n == 1), "{counts:?}");
    let ins = [TopicPartition::new("in", 0), TopicPartition::new("in", 1)];
    let committed = consumer.committed(&ins).await.unwrap();
    let total: i64 = committed.values().map(|o| o.unwrap_or(0)).sum();
    assert_eq!(total, 40);
    largest
}

#[tokio::test]
async fn after_an_abortable_error_only_abort_is_allowed_and_the_producer_goes_on() {
    let broker = setup("abortable").await;
    let b = broker.bootstrap();
    let mut c = ProducerConfig::new(&b).unwrap();
    c.set("transactional.id", "abortable-1").unwrap();
    c.set("batch.size", "0").unwrap();
    c.set("max.block.ms", "300").unwrap();
    c.set("retry.backoff.ms", "20").unwrap();
    let mut p = TransactionalProducer::connect(c).await.unwrap();
    p.init_transactions().await.unwrap();
    let mut t = p.begin().await.unwrap();
    t.send(rec("abortable", "kept-out")).await.unwrap();
    // Partition 5 of a one-partition topic: AddPartitionsToTxn keeps failing until
    // max.block.ms; the transaction must be aborted.
    let err = t
        .send(ProducerRecord::new("abortable").partition(5).value("x"))
        .await
        .unwrap_err();
    assert!(matches!(err, TxnError::Abortable(_)), "{err}");
    let err = t.send(rec("abortable", "more")).await.unwrap_err();
    assert!(matches!(err, TxnError::Abortable(_)), "{err}");
    t.abort().await.unwrap();
    let mut t = p.begin().await.unwrap();
    t.send(rec("abortable", "end")).await.unwrap();
    t.commit().await.unwrap();
    let seen = read_until(&b, "abortable", IsolationLevel::ReadCommitted, "end").await;
    assert_eq!(seen, ["end"]);
}

/// Who does what in `exactly_once_through_a_rebalance`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    /// Starts at once; once `after` inputs are committed it only takes part in rebalances
    /// (no records) until the joiner holds partitions, so that both process some.
    First { after: usize },
    /// Joins once `after` inputs are committed, and says when it holds partitions.
    Joiner { after: usize },
}

/// One member of an exactly-once group: processes batches until `total` inputs are
/// committed by the group as a whole.
async fn eos_member(
    b: &str,
    id: &str,
    total: &std::cell::Cell<usize>,
    want: usize,
    role: Role,
    joined: &std::cell::Cell<bool>,
) -> usize {
    let start_after = match role {
        Role::Joiner { after } => after,
        Role::First { .. } => 0,
    };
    // The second member joins mid-way: a rebalance revokes partitions from the first.
    while total.get() < start_after {
        tokio::task::yield_now().await;
    }
    let mut consumer = Consumer::new(
        config(b)
            .group_id("eos-rebalance")
            .enable_auto_commit(false)
            .isolation_level(IsolationLevel::ReadCommitted)
            .auto_offset_reset(AutoOffsetReset::Earliest)
            .session_timeout(Duration::from_millis(3_000))
            .heartbeat_interval(Duration::from_millis(100))
            .max_poll_records(5)
            .build()
            .unwrap(),
    )
    .await
    .unwrap();
    consumer.subscribe(["rb-in"]).unwrap();
    let mut producer = txn_producer(b, id, 60_000).await;
    let mut eos = ExactlyOnce::new(&mut producer);
    eos.poll_timeout = Duration::from_millis(50);
    let deadline = Instant::now() + DEADLINE;
    let mut mine = 0;
    while total.get() < want {
        assert!(
            Instant::now() < deadline,
            "{id}: the group processed {}",
            total.get()
        );
        match role {
            Role::First { after } if total.get() >= after && !joined.get() => {
                // Paused, nothing is ready: `wait_ready` waits, and handles the rebalance.
                let assigned = consumer.assignment();
                consumer.pause(&assigned).unwrap();
                consumer
                    .wait_ready(Duration::from_millis(20))
                    .await
                    .unwrap();
                continue;
            }
            Role::First { .. } if !consumer.paused().is_empty() => {
                let paused = consumer.paused();
                consumer.resume(&paused).unwrap();
            }
            Role::Joiner { .. } if !joined.get() && !consumer.assignment().is_empty() => {
                joined.set(true);
            }
            _ => {}
        }
        let result = consumer
            .process_exactly_once_batch(&mut eos, |r| async move {
                Ok::<_, String>(vec![ProducerRecord::new("rb-out")
                    .key(r.key.clone().unwrap_or_default())
                    .value(r.value.clone().unwrap_or_default())])
            })
            .await;
        match result {
            Ok(n) => {
                total.set(total.get() + n);
                mine += n;
            }
            // The group moved on while the batch ran: aborted, it comes again (here or at
            // the new owner).
            Err(ferrokafka::ProcessError::Transaction(e)) if !e.is_fatal() => {}
            Err(e) => panic!("{id}: {e}"),
        }
    }
    consumer.close().await.unwrap();
    mine
}

#[tokio::test]
async fn exactly_once_through_a_rebalance() {
    let broker = broker(4).await;
    let b = broker.bootstrap();
    let c = client(&b).await;
    create_topic(&c, "rb-in", 4).await;
    create_topic(&c, "rb-out", 4).await;
    let plain = Producer::connect(ProducerConfig::new(&b).unwrap())
        .await
        .unwrap();
    let mut deliveries = Vec::new();
    for i in 0..400 {
        deliveries.push(
            plain
                .send(
                    ProducerRecord::new("rb-in")
                        .key(format!("k{i}"))
                        .value(format!("{i}")),
                )
                .await
                .unwrap(),
        );
    }
    for d in deliveries {
        d.await.unwrap();
    }
    let total = std::cell::Cell::new(0);
    let joined = std::cell::Cell::new(false);
    let (a, b2) = tokio::join!(
        eos_member(&b, "rb-a", &total, 400, Role::First { after: 100 }, &joined),
        eos_member(
            &b,
            "rb-b",
            &total,
            400,
            Role::Joiner { after: 100 },
            &joined
        ),
    );
    assert!(a >= 100 && b2 > 0, "both members processed: {a} and {b2}");
    let mut out = Consumer::new(
        config(&b)
            .isolation_level(IsolationLevel::ReadCommitted)
            .auto_offset_reset(AutoOffsetReset::Earliest)
            .build()
            .unwrap(),
    )
    .await
    .unwrap();
    let tps: Vec<TopicPartition> = (0..4).map(|p| TopicPartition::new("rb-out", p)).collect();
    out.assign(tps.clone()).unwrap();
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    let deadline = Instant::now() + DEADLINE;
    loop {
        assert!(Instant::now() < deadline, "read {}", counts.len());
        let batch = out.poll(Duration::from_millis(200)).await.unwrap();
        if batch.is_empty() && tps.iter().all(|tp| out.lag(tp) == Some(0)) {
            break;
        }
        for r in batch {
            let v = String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into_owned();
            *counts.entry(v).or_default() += 1;
        }
    }
    assert_eq!(counts.len(), 400, "every input has an output");
    let twice: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "outputs written twice: {twice:?}");
}

#[tokio::test]
async fn a_commit_cancelled_half_way_is_aborted_by_the_next_begin() {
    let broker = setup("cut").await;
    let b = broker.bootstrap();
    let mut p = txn_producer(&b, "cut-1", 60_000).await;
    let mut t = p.begin().await.unwrap();
    t.send(rec("cut", "first")).await.unwrap();
    t.flush().await.unwrap();
    t.send(rec("cut", "cut")).await.unwrap();
    // Polled once (the flush of "cut" is under way), then dropped: in doubt, so aborted.
    let cut = futures::FutureExt::now_or_never(t.commit());
    assert!(cut.is_none(), "the commit finished within one poll");
    let mut t = p.begin().await.unwrap();
    t.send(rec("cut", "end")).await.unwrap();
    t.commit().await.unwrap();
    let seen = read_until(&b, "cut", IsolationLevel::ReadCommitted, "end").await;
    assert_eq!(seen, ["end"]);
}

// One produce path: a transactional producer places records with the configured partitioner
// (here round robin over the partitions, keys ignored) and batches them by `linger.ms` like
// `Producer`, adding each partition to the transaction before its first batch.
#[tokio::test]
async fn transactional_records_follow_the_configured_partitioner_and_batching() {
    let broker = broker(1).await;
    let b = broker.bootstrap();
    let c = client(&b).await;
    create_topic(&c, "rr", 3).await;
    let mut config = ProducerConfig::new(&b).unwrap();
    config
        .set("transactional.id", "rr-1")
        .unwrap()
        .set(
            "partitioner.class",
            "org.apache.kafka.clients.producer.RoundRobinPartitioner",
        )
        .unwrap()
        .set("linger.ms", "50")
        .unwrap();
    let mut p = TransactionalProducer::connect(config).await.unwrap();
    p.init_transactions().await.unwrap();
    let mut t = p.begin().await.unwrap();
    for i in 0..9 {
        let record = ProducerRecord::new("rr")
            .key("same-key")
            .value(format!("v{i}"));
        t.send(record).await.unwrap();
    }
    t.commit().await.unwrap();
    let (pid, epoch) = p.producer_id_and_epoch().unwrap();
    for partition in 0..3 {
        // Markers (control batches) carry no sequence.
        let records: Vec<_> = producer_support::fetch_all(&c, "rr", partition)
            .await
            .into_iter()
            .filter(|r| r.producer.2 >= 0)
            .collect();
        let values: Vec<String> = records
            .iter()
            .filter_map(|r| r.value.as_ref())
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .collect();
        // Round robin ignores the key: three records on each partition, in send order.
        let expected: Vec<String> = (0..3).map(|k| format!("v{}", k * 3 + partition)).collect();
        assert_eq!(values, expected, "partition {partition}");
        // Lingered together: one transactional batch (one base sequence), then the marker.
        let data = &records;
        assert!(
            data.iter()
                .all(|r| r.producer.0 == pid && r.producer.2 == 0),
            "{data:?}"
        );
        // Transaction version 2 moves the epoch at the commit; version 1 keeps it.
        assert!(data.iter().all(|r| r.producer.1 <= epoch), "{data:?}");
    }
    c.close().await;
    p.close().await.unwrap();
}
