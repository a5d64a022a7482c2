//! The fault hook ([`ferrokafka_mini_broker::Faults`]) end to end: a connection dropped after
//! a Produce was applied leaves the client unsure, and an idempotent retry of the same batch
//! must get the original offset instead of a second copy. The other faults are checked for
//! doing exactly what they say.

mod common;

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use common::{
    batch, fetch_request, fetched_values, idem, init_producer, produce_request, produce_result,
    RawConn,
};
use ferrokafka_mini_broker::{ApiKey, MiniBroker, When};
use ferrokafka_protocol::header::{decode_response_header, response_header_version};
use kafka_protocol::messages::MetadataRequest;
use kafka_protocol::protocol::Encodable;

const TOPIC: &str = "faults";

/// Sends a one-partition produce and expects the broker to close without answering.
async fn produce_expecting_drop(conn: &mut RawConn, records: Bytes) {
    let mut body = BytesMut::new();
    produce_request(TOPIC, 0, records)
        .encode(&mut body, 9)
        .expect("encode");
    conn.send_raw(ApiKey::Produce as i16, 9, &body).await;
    assert!(
        conn.read_frame().await.is_none(),
        "expected the connection to drop"
    );
}

async fn produce(addr: &str, records: Bytes) -> (i16, i64) {
    let mut conn = RawConn::connect(addr).await;
    produce_result(&conn.request(9, &produce_request(TOPIC, 0, records)).await)
}

async fn stored(addr: &str) -> Vec<String> {
    let mut conn = RawConn::connect(addr).await;
    fetched_values(&conn.request(12, &fetch_request(TOPIC, 0, 0)).await)
        .into_iter()
        .map(|v| String::from_utf8(v.to_vec()).expect("utf-8"))
        .collect()
}

fn names(tag: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{tag}-{i}")).collect()
}

#[tokio::test]
async fn dropped_after_applying_then_retried_gets_the_original_offset() {
    let broker = MiniBroker::start().await.expect("start");
    let addr = broker.bootstrap();
    let mut conn = RawConn::connect(&addr).await;
    let p = init_producer(&mut conn).await;
    assert_eq!(produce(&addr, idem(p, 0, 2, "a")).await, (0, 0));

    broker
        .faults()
        .drop_connection(ApiKey::Produce, 1, When::AfterApplying);
    let unsure = idem(p, 2, 3, "b");
    produce_expecting_drop(&mut conn, unsure.clone()).await;
    assert_eq!(broker.faults().fired(), 1);
    let mut want = names("a", 2);
    want.extend(names("b", 3));
    assert_eq!(stored(&addr).await, want, "the write happened");

    // The client cannot know; it resends the same batch on a new connection.
    assert_eq!(produce(&addr, unsure).await, (0, 2), "original offset");
    assert_eq!(stored(&addr).await, want, "and no second copy");
    assert_eq!(produce(&addr, idem(p, 5, 1, "c")).await, (0, 5));
    broker.shutdown().await;
}

#[tokio::test]
async fn without_idempotence_the_same_retry_writes_twice() {
    // Why the hook exists: a plain producer in the same spot duplicates its records.
    let broker = MiniBroker::start().await.expect("start");
    let addr = broker.bootstrap();
    broker
        .faults()
        .drop_connection(ApiKey::Produce, 1, When::AfterApplying);
    let mut conn = RawConn::connect(&addr).await;
    produce_expecting_drop(&mut conn, batch(2)).await;
    assert_eq!(produce(&addr, batch(2)).await, (0, 2));
    assert_eq!(stored(&addr).await, ["v0", "v1", "v0", "v1"]);
    broker.shutdown().await;
}

#[tokio::test]
async fn dropped_before_applying_then_retried_is_written_once() {
    let broker = MiniBroker::start().await.expect("start");
    let addr = broker.bootstrap();
    let mut conn = RawConn::connect(&addr).await;
    let p = init_producer(&mut conn).await;
    assert_eq!(produce(&addr, idem(p, 0, 2, "a")).await, (0, 0));

    broker
        .faults()
        .drop_connection(ApiKey::Produce, 1, When::BeforeApplying);
    let lost = idem(p, 2, 2, "b");
    produce_expecting_drop(&mut conn, lost.clone()).await;
    assert_eq!(stored(&addr).await, names("a", 2), "nothing written");
    assert_eq!(produce(&addr, lost).await, (0, 2));
    let mut want = names("a", 2);
    want.extend(names("b", 2));
    assert_eq!(stored(&addr).await, want);
    broker.shutdown().await;
}

#[tokio::test]
async fn only_the_nth_request_of_the_api_counts() {
    let broker = MiniBroker::start().await.expect("start");
    let addr = broker.bootstrap();
    broker
        .faults()
        .drop_connection(ApiKey::Produce, 3, When::AfterApplying);
    let mut conn = RawConn::connect(&addr).await;
    for round in 0..2 {
        let (code, _) =
            produce_result(&conn.request(9, &produce_request(TOPIC, 0, batch(1))).await);
        assert_eq!(code, 0, "produce {round}");
        // Other APIs on the same connection are not counted.
        conn.request(9, &MetadataRequest::default()).await;
    }
    assert_eq!(broker.faults().pending(), 1);
    produce_expecting_drop(&mut conn, batch(1)).await;
    assert_eq!((broker.faults().fired(), broker.faults().pending()), (1, 0));
    assert_eq!(stored(&addr).await.len(), 3, "the third was applied");
    assert_eq!(produce(&addr, batch(1)).await, (0, 3), "then all is normal");
    assert_eq!(
        broker.state().connection_stats().rejected,
        0,
        "a fault is not bad input"
    );
    broker.shutdown().await;
}

#[tokio::test]
async fn delayed_response_arrives_late_and_in_order() {
    let broker = MiniBroker::start().await.expect("start");
    let addr = broker.bootstrap();
    let delay = Duration::from_millis(300);
    broker.faults().delay_response(ApiKey::Produce, 1, delay);
    let mut conn = RawConn::connect(&addr).await;
    let mut body = BytesMut::new();
    produce_request(TOPIC, 0, batch(1))
        .encode(&mut body, 9)
        .expect("encode");
    let started = Instant::now();
    let produce_id = conn.send_raw(ApiKey::Produce as i16, 9, &body).await;
    // Pipelined behind it: answered only after the delayed Produce.
    let mut body = BytesMut::new();
    MetadataRequest::default()
        .encode(&mut body, 9)
        .expect("encode");
    let metadata_id = conn.send_raw(ApiKey::Metadata as i16, 9, &body).await;
    for (key, expected) in [
        (ApiKey::Produce, produce_id),
        (ApiKey::Metadata, metadata_id),
    ] {
        let mut frame = conn.read_frame().await.expect("a response");
        let correlation =
            decode_response_header(&mut frame, response_header_version(key as i16, 9))
                .expect("header");
        assert_eq!(correlation, expected, "{key:?} answered in order");
        assert!(
            started.elapsed() >= delay,
            "{key:?} answered after the delay"
        );
    }
    assert_eq!(stored(&addr).await.len(), 1);
    broker.shutdown().await;
}
