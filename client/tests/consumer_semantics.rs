//! The offset-commit strategies of `ferrokafka::semantics`, against the mini-broker: what
//! is committed when, what a handler error does, what a dropped `process_one` does, and which
//! combinations are refused.

mod consumer_support;

use std::time::Duration;

use consumer_support::*;
use ferrokafka::consumer::TopicPartition;
use ferrokafka::{
    AtLeastOnce, AtMostOnce, AutoCommit, AutoOffsetReset, Batches, Consumer, Error, ProcessError,
};
use tokio::time::timeout;

const TOPIC: &str = "sem";

async fn setup(broker: &ferrokafka_mini_broker::MiniBroker) {
    let client = client(&broker.bootstrap()).await;
    create_topic(&client, TOPIC, 1).await;
    produce_values(&client, TOPIC, 0, &values("v", 10), 3).await;
    client.close().await;
}

async fn consumer(bootstrap: &str, group: &str, auto_commit: bool) -> Consumer {
    let mut c = Consumer::new(
        config(bootstrap)
            .group_id(group)
            .enable_auto_commit(auto_commit)
            .auto_commit_interval(Duration::from_millis(50))
            .auto_offset_reset(AutoOffsetReset::Earliest)
            .build()
            .unwrap(),
    )
    .await
    .unwrap();
    c.assign([TopicPartition::new(TOPIC, 0)]).unwrap();
    c
}

fn t0() -> TopicPartition {
    TopicPartition::new(TOPIC, 0)
}

async fn committed(c: &Consumer) -> Option<i64> {
    c.committed(&[t0()]).await.unwrap()[&t0()]
}

#[tokio::test]
async fn at_least_once_commits_after_success_and_redelivers_after_failure() {
    let broker = broker(1).await;
    setup(&broker).await;
    let mut c = consumer(&broker.bootstrap(), "alo", false).await;
    for expected in 0..3 {
        let (_, offset) = c
            .process_one(AtLeastOnce, |_| async { Ok::<_, String>(()) })
            .await
            .unwrap();
        assert_eq!(offset, expected);
        assert_eq!(committed(&c).await, Some(expected + 1));
    }
    // The handler fails on offset 3: nothing committed, and the same record comes again.
    let err = c
        .process_one(AtLeastOnce, |_| async { Err::<(), _>("boom".to_owned()) })
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ProcessError::Handler { offset: 3, error, .. } if error == "boom"),
        "{err}"
    );
    assert_eq!(committed(&c).await, Some(3));
    let (_, offset) = c
        .process_one(AtLeastOnce, |_| async { Ok::<_, String>(()) })
        .await
        .unwrap();
    assert_eq!(offset, 3, "redelivered");

    // Dropped while the handler runs: the record comes again too.
    let slow = c.process_one(AtLeastOnce, |_| async {
        tokio::time::sleep(Duration::from_secs(3600)).await;
        Ok::<_, String>(())
    });
    assert!(timeout(Duration::from_millis(200), slow).await.is_err());
    let (_, offset) = c
        .process_one(AtLeastOnce, |_| async { Ok::<_, String>(()) })
        .await
        .unwrap();
    assert_eq!(offset, 4, "redelivered after cancellation");
    assert_eq!(committed(&c).await, Some(5));
    c.close().await.unwrap();
    broker.shutdown().await;
}

#[tokio::test]
async fn at_most_once_commits_before_and_never_redelivers() {
    let broker = broker(1).await;
    setup(&broker).await;
    let mut c = consumer(&broker.bootstrap(), "amo", false).await;
    let mut committed_in_handler = None;
    let (_, offset) = c
        .process_one(AtMostOnce, |r| {
            committed_in_handler = Some(r.offset);
            async { Ok::<_, String>(()) }
        })
        .await
        .unwrap();
    assert_eq!((offset, committed_in_handler), (0, Some(0)));
    let err = c
        .process_one(AtMostOnce, |_| async { Err::<(), _>("lost".to_owned()) })
        .await
        .unwrap_err();
    assert!(
        matches!(err, ProcessError::Handler { offset: 1, .. }),
        "{err}"
    );
    // Committed before the handler ran, so the failed record is gone.
    assert_eq!(committed(&c).await, Some(2));
    let (_, offset) = c
        .process_one(AtMostOnce, |_| async { Ok::<_, String>(()) })
        .await
        .unwrap();
    assert_eq!(offset, 2);
    c.close().await.unwrap();

    // A new consumer in the group starts after everything committed.
    let mut again = consumer(&broker.bootstrap(), "amo", false).await;
    let (_, offset) = again
        .process_one(AtMostOnce, |_| async { Ok::<_, String>(()) })
        .await
        .unwrap();
    assert_eq!(offset, 3);
    again.close().await.unwrap();
    broker.shutdown().await;
}

#[tokio::test]
async fn auto_commit_commits_what_was_handed_out_on_its_interval_and_on_close() {
    let broker = broker(1).await;
    setup(&broker).await;
    let mut c = consumer(&broker.bootstrap(), "auto", true).await;
    for _ in 0..4 {
        c.process_one(AutoCommit, |_| async { Ok::<_, String>(()) })
            .await
            .unwrap();
    }
    // The next poll after the interval commits the position (4): everything handed out.
    tokio::time::sleep(Duration::from_millis(60)).await;
    let mut handed = c.poll(Duration::ZERO).await.unwrap();
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while committed(&c).await != Some(4) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{:?}",
            committed(&c).await
        );
        tokio::task::yield_now().await;
    }
    // close commits the rest of what was handed out.
    while handed.last().map(|r| r.offset) != Some(9) {
        handed.extend(c.poll(DEADLINE).await.unwrap());
    }
    let end = 10;
    let probe = consumer(&broker.bootstrap(), "auto", false).await;
    c.close().await.unwrap();
    assert_eq!(committed(&probe).await, Some(end));
    probe.close().await.unwrap();
    broker.shutdown().await;
}

#[tokio::test]
async fn combinations_that_would_weaken_the_semantics_are_refused() {
    let broker = broker(1).await;
    setup(&broker).await;
    let ok = |_| async { Ok::<_, String>(()) };
    let mut auto = consumer(&broker.bootstrap(), "refuse", true).await;
    for err in [
        auto.process_one(AtLeastOnce, ok).await.unwrap_err(),
        auto.process_one(AtMostOnce, ok).await.unwrap_err(),
    ] {
        assert!(
            matches!(&err, ProcessError::Consumer(Error::InvalidConfig { key, .. }) if key == "enable.auto.commit"),
            "{err}"
        );
    }
    let mut manual = consumer(&broker.bootstrap(), "refuse", false).await;
    let err = manual.process_one(AutoCommit, ok).await.unwrap_err();
    assert!(err.to_string().contains("enable.auto.commit"), "{err}");
    let mut groupless = Consumer::new(config(&broker.bootstrap()).build().unwrap())
        .await
        .unwrap();
    groupless.assign([t0()]).unwrap();
    let err = groupless.process_one(AtLeastOnce, ok).await.unwrap_err();
    assert!(err.to_string().contains("group.id"), "{err}");
    for c in [auto, manual, groupless] {
        c.close().await.unwrap();
    }
    broker.shutdown().await;
}

async fn batch_consumer(bootstrap: &str, group: &str, max_poll_records: usize) -> Consumer {
    let mut c = Consumer::new(
        config(bootstrap)
            .group_id(group)
            .enable_auto_commit(false)
            .max_poll_records(max_poll_records)
            .auto_offset_reset(AutoOffsetReset::Earliest)
            .build()
            .unwrap(),
    )
    .await
    .unwrap();
    c.assign([t0()]).unwrap();
    c
}

/// Offsets of a batch, for assertions.
fn offsets(records: &[ferrokafka::ConsumerRecord]) -> Vec<i64> {
    records.iter().map(|r| r.offset).collect()
}

/// The offsets of the next non-empty batch (after a seek an empty poll can come first: a
/// fetch from the old position was out).
async fn next_batch<S: ferrokafka::semantics::Semantics>(
    c: &mut Consumer,
    batches: &mut Batches<S>,
) -> Vec<i64> {
    let give_up = tokio::time::Instant::now() + DEADLINE;
    loop {
        assert!(tokio::time::Instant::now() < give_up, "no batch came");
        let mut seen = Vec::new();
        c.process_batch(batches, |records| {
            seen = offsets(&records);
            async {}
        })
        .await
        .unwrap();
        if !seen.is_empty() {
            return seen;
        }
    }
}

/// Waits until the group's committed offset is `expected` (a background commit lands
/// soon after the call that started it).
async fn committed_becomes(c: &Consumer, expected: i64) {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let now = committed(c).await;
        if now == Some(expected) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "committed {now:?}, expected {expected}"
        );
        tokio::task::yield_now().await;
    }
}

#[tokio::test]
async fn at_least_once_batches_commit_after_the_handler_and_redeliver_a_failed_batch() {
    let broker = broker(1).await;
    setup(&broker).await;
    let mut c = batch_consumer(&broker.bootstrap(), "alo-batch", 4).await;
    let mut batches = Batches::new(AtLeastOnce);
    let mut seen = Vec::new();
    let n = c
        .process_batch(&mut batches, |records| {
            seen = offsets(&records);
            async {}
        })
        .await
        .unwrap();
    assert_eq!((n, seen.clone()), (seen.len(), (0..n as i64).collect()));
    // The commit runs in the background; it lands after the handler succeeded.
    committed_becomes(&c, n as i64).await;
    let first_of_next = n as i64;

    // The handler fails: nothing committed for this batch, and the same batch comes again.
    let err = c
        .process_batch(&mut batches, |_| async { Err::<(), _>("boom".to_owned()) })
        .await
        .unwrap_err();
    match &err {
        ProcessError::Batch { first, error, .. } => {
            assert_eq!(error, "boom");
            assert_eq!(first.get(&t0()), Some(&first_of_next), "{err}");
        }
        other => panic!("{other}"),
    }
    assert_eq!(committed(&c).await, Some(first_of_next));
    let again = next_batch(&mut c, &mut batches).await;
    assert_eq!(
        again.first(),
        Some(&first_of_next),
        "redelivered: {again:?}"
    );

    // Dropped while the handler runs: the batch comes again too.
    let before_drop = *again.last().unwrap() + 1;
    let slow = c.process_batch(&mut batches, |_| async {
        tokio::time::sleep(Duration::from_secs(3600)).await;
    });
    assert!(timeout(Duration::from_millis(200), slow).await.is_err());
    let after = next_batch(&mut c, &mut batches).await;
    assert_eq!(
        after.first(),
        Some(&before_drop),
        "redelivered after cancellation"
    );
    batches.commit_pending(&c).await.unwrap();
    assert_eq!(committed(&c).await, Some(after.last().unwrap() + 1));
    c.close().await.unwrap();
    broker.shutdown().await;
}

#[tokio::test]
async fn at_least_once_batches_commit_on_their_policy() {
    let broker = broker(1).await;
    setup(&broker).await;
    let mut c = batch_consumer(&broker.bootstrap(), "alo-policy", 3).await;
    // Every 6 records: the first batch (3 records or fewer) commits nothing.
    let mut batches = Batches::new(AtLeastOnce).commit_every_records(6);
    let mut handled = 0;
    while handled < 6 {
        handled += c.process_batch(&mut batches, |_| async {}).await.unwrap();
        if handled < 6 {
            assert_eq!(committed(&c).await, None, "committed before 6 records");
        }
    }
    committed_becomes(&c, handled as i64).await;
    // By time: nothing is due until the interval passed, then an empty poll commits.
    let mut batches = Batches::new(AtLeastOnce)
        .commit_every(Duration::from_millis(300))
        .poll_timeout(Duration::from_millis(10));
    let more = c.process_batch(&mut batches, |_| async {}).await.unwrap();
    assert!(more > 0);
    assert_eq!(committed(&c).await, Some(handled as i64), "not due yet");
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while committed(&c).await != Some((handled + more) as i64) {
        assert!(tokio::time::Instant::now() < deadline);
        // Seek past the rest so the polls come back empty.
        c.seek(&t0(), 10).unwrap();
        c.process_batch(&mut batches, |_| async {}).await.unwrap();
    }
    c.close().await.unwrap();
    broker.shutdown().await;
}

#[tokio::test]
async fn at_most_once_batches_commit_before_the_handler() {
    let broker = broker(1).await;
    setup(&broker).await;
    let mut c = batch_consumer(&broker.bootstrap(), "amo-batch", 4).await;
    let mut batches = Batches::new(AtMostOnce);
    let probe = batch_consumer(&broker.bootstrap(), "amo-batch", 4).await;
    // Inside the handler the batch is already committed.
    let (tx, rx) = tokio::sync::oneshot::channel();
    let n = c
        .process_batch(&mut batches, |records| {
            let end = records.last().unwrap().offset + 1;
            let probe = &probe;
            async move {
                let _ = tx.send((end, committed(probe).await));
            }
        })
        .await
        .unwrap();
    let (end, in_handler) = rx.await.unwrap();
    assert_eq!((end, in_handler), (n as i64, Some(n as i64)));
    // A failed batch is skipped, not redelivered.
    let err = c
        .process_batch(&mut batches, |_| async { Err::<(), _>("lost") })
        .await
        .unwrap_err();
    let ProcessError::Batch { records, .. } = err else {
        panic!("{err}")
    };
    let next = next_batch(&mut c, &mut batches).await;
    assert_eq!(next.first(), Some(&((n + records) as i64)), "skipped");
    for c in [c, probe] {
        c.close().await.unwrap();
    }
    broker.shutdown().await;
}
