//! Long-polling fetches wait on their own partitions only: appends elsewhere do not wake
//! them (the broker counts every wake-up in [`FetchStats::woken`]), while an append to one of
//! theirs, or their topic's deletion, answers them at once rather than at their timeout.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::{batch, fetch_request, fetched_values, produce_request, produce_result};
use common::{wait_until, RawConn, STEP};
use ferrokafka_mini_broker::state::FetchStats;
use ferrokafka_mini_broker::MiniBroker;
use ferrokafka_protocol::ErrorCode;
use kafka_protocol::messages::{DeleteTopicsRequest, FetchResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Longer than the rest of a test takes, shorter than [`STEP`] (a response not there by then
/// fails the test): a fetch answered before its max wait was woken, not timed out.
const MAX_WAIT_MS: i32 = 8_000;

async fn produce(conn: &mut RawConn, topic: &str, records: Bytes) -> i64 {
    let (code, base) = produce_result(&conn.request(9, &produce_request(topic, 0, records)).await);
    assert_eq!(code, 0, "produce to {topic}");
    base
}

/// Starts a fetch of `topic` partition 0 at `offset` that waits up to [`MAX_WAIT_MS`] for
/// data, on its own connection; resolves to the response and how long it took.
fn long_poll(addr: &str, topic: &str, offset: i64) -> JoinHandle<(FetchResponse, Duration)> {
    let (addr, topic) = (addr.to_owned(), topic.to_owned());
    tokio::spawn(async move {
        let mut conn = RawConn::connect(&addr).await;
        let req = fetch_request(&topic, 0, offset).with_max_wait_ms(MAX_WAIT_MS);
        let started = Instant::now();
        let resp = conn.request(12, &req).await;
        (resp, started.elapsed())
    })
}

fn stats(broker: &MiniBroker) -> FetchStats {
    broker.state().fetch_stats()
}

#[tokio::test]
async fn a_waiting_fetch_sleeps_through_other_topics_and_wakes_for_its_own() {
    let broker = MiniBroker::start().await.expect("start");
    let addr = broker.bootstrap();
    let mut conn = RawConn::connect(&addr).await;
    let end = produce(&mut conn, "quiet", batch(1)).await + 1;
    produce(&mut conn, "busy", batch(1)).await;

    let poll = long_poll(&addr, "quiet", end);
    wait_until("the fetch to wait", || stats(&broker).waiting == 1).await;
    for _ in 0..50 {
        produce(&mut conn, "busy", batch(2)).await;
    }
    assert_eq!(
        stats(&broker),
        FetchStats {
            waiting: 1,
            woken: 0
        },
        "50 appends to another topic woke the fetch"
    );
    assert!(!poll.is_finished());

    produce(&mut conn, "quiet", batch(3)).await;
    let (resp, took) = tokio::time::timeout(STEP, poll)
        .await
        .expect("the fetch was not answered on its own append")
        .expect("fetch task");
    assert!(took < Duration::from_millis(MAX_WAIT_MS as u64), "{took:?}");
    let values: Vec<Bytes> = (0..3).map(|i| Bytes::from(format!("v{i}"))).collect();
    assert_eq!(fetched_values(&resp), values);
    assert_eq!(
        stats(&broker),
        FetchStats {
            waiting: 0,
            woken: 1
        }
    );
    broker.shutdown().await;
}

#[tokio::test]
async fn deleting_the_topic_answers_its_waiting_fetch_at_once() {
    let broker = MiniBroker::start().await.expect("start");
    let addr = broker.bootstrap();
    let mut conn = RawConn::connect(&addr).await;
    let end = produce(&mut conn, "doomed", batch(1)).await + 1;

    let poll = long_poll(&addr, "doomed", end);
    wait_until("the fetch to wait", || stats(&broker).waiting == 1).await;
    let delete = DeleteTopicsRequest::default()
        .with_timeout_ms(10_000)
        .with_topic_names(vec![TopicName(StrBytes::from_static_str("doomed"))]);
    assert_eq!(conn.request(4, &delete).await.responses[0].error_code, 0);

    let (resp, took) = tokio::time::timeout(STEP, poll)
        .await
        .expect("the fetch was not answered when its topic went")
        .expect("fetch task");
    assert!(took < Duration::from_millis(MAX_WAIT_MS as u64), "{took:?}");
    assert_eq!(
        resp.responses[0].partitions[0].error_code,
        ErrorCode::UNKNOWN_TOPIC_OR_PARTITION.0
    );
    assert_eq!(stats(&broker).woken, 1);
    broker.shutdown().await;
}
