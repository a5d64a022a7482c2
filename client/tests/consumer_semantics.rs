//! The offset-commit strategies of `ferrokafka::semantics`, against the mini-broker: what
//! is committed when, what a handler error does, what a dropped `process_one` does, and which
//! combinations are refused.

mod consumer_support;

use std::time::Duration;

use consumer_support::*;
use ferrokafka::consumer::TopicPartition;
use ferrokafka::{
    AtLeastOnce, AtMostOnce, AutoCommit, AutoOffsetReset, Consumer, Error, ProcessError,
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
