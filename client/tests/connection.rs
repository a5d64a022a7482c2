//! One connection: version negotiation, pipelining, cancellation, timeouts, and what a broker
//! that misbehaves does to it (an error, never a panic, and a dead connection).

mod common;

use std::sync::Arc;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use common::{api_versions, config, encode, within, FakeBroker};
use ferrokafka::{ClientConfig, Connection, Error};
use ferrokafka_mini_broker::MiniBroker;
use ferrokafka_protocol::header::RequestHeader;
use ferrokafka_protocol::record::{BatchBuilder, RecordInput};
use ferrokafka_protocol::versions;
use ferrokafka_protocol::ErrorCode;
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::metadata_response::MetadataResponseTopic;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    ApiKey, MetadataRequest, MetadataResponse, ProduceRequest, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use tokio::task::JoinSet;

fn metadata_for(topic: &str) -> MetadataRequest {
    MetadataRequest::default()
        .with_topics(Some(vec![MetadataRequestTopic::default().with_name(Some(
            TopicName(StrBytes::from_string(topic.to_owned())),
        ))]))
        .with_allow_auto_topic_creation(false)
}

fn topic_names(response: &MetadataResponse) -> Vec<String> {
    response
        .topics
        .iter()
        .filter_map(|t| t.name.as_ref().map(|n| n.0.to_string()))
        .collect()
}

async fn expect_dead(conn: &Connection) -> String {
    within("the connection to die", conn.closed()).await
}

#[tokio::test]
async fn negotiation_with_the_mini_broker_picks_the_highest_common_versions() {
    let broker = MiniBroker::start().await.unwrap();
    let conn = Connection::connect(&broker.bootstrap(), &config(&broker.bootstrap()))
        .await
        .unwrap();
    let served: Vec<(i16, i16, i16)> = ferrokafka_mini_broker::handlers::served()
        .map(|r| (r.key as i16, r.min, r.max))
        .collect();
    assert!(!served.is_empty());
    for (key, min, max) in &served {
        let api = ApiKey::try_from(*key).unwrap();
        // The broker serves some APIs the client does not speak (AlterConfigs, which the
        // client's IncrementalAlterConfigs replaces): those are not negotiated.
        let expected = versions::supported(api).and_then(|ours| ours.highest_common(*min, *max));
        assert_eq!(conn.api_version(api), expected, "{api:?}");
        assert_eq!(conn.versions().broker_range(*key), Some((*min, *max)));
    }
    assert!(
        served
            .iter()
            .filter(|(k, ..)| versions::supported(ApiKey::try_from(*k).unwrap()).is_some())
            .count()
            > 30,
        "most served APIs are the client's too"
    );
    // An API the mini-broker does not serve (an inter-broker one) is not negotiated.
    assert_eq!(conn.api_version(ApiKey::AlterPartition), None);
    conn.close().await;
    broker.shutdown().await;
}

#[tokio::test]
async fn negotiation_with_an_older_broker_takes_its_maxima_and_drops_what_does_not_overlap() {
    let fake = FakeBroker::start(|mut raw| async move {
        raw.handshake_with(&[
            (ApiKey::ApiVersions as i16, 0, 3),
            (ApiKey::Metadata as i16, 0, 7),
            (ApiKey::Fetch as i16, 4, 20),
            (ApiKey::Produce as i16, 0, 2),
        ])
        .await;
        raw.until_closed().await;
    })
    .await;
    let conn = Connection::connect(&fake.bootstrap(), &config(&fake.bootstrap()))
        .await
        .unwrap();
    assert_eq!(conn.api_version(ApiKey::Metadata), Some(7));
    assert_eq!(
        conn.api_version(ApiKey::Fetch),
        Some(versions::supported(ApiKey::Fetch).unwrap().max)
    );
    assert_eq!(conn.api_version(ApiKey::Produce), None, "ours start at 3");
    assert_eq!(conn.api_version(ApiKey::CreateTopics), None, "not listed");
    // Sending an API the broker does not speak is an error, and harmless to the connection.
    let err = conn.send(ProduceRequest::default()).await.unwrap_err();
    assert!(matches!(err, Error::UnsupportedApi { .. }), "{err}");
    assert!(!conn.is_dead());
    conn.close().await;
    within("the fake broker", fake.task).await.unwrap();
}

#[tokio::test]
async fn unsupported_api_versions_version_is_retried_at_the_brokers_highest() {
    let fake = FakeBroker::start(|mut raw| async move {
        // First ask: at our highest; answer as an old broker does, in v0, with the error.
        let (first, _) = raw.read_request().await.unwrap();
        assert_eq!(first.api_key, ApiKey::ApiVersions as i16);
        assert_eq!(
            first.api_version,
            versions::supported(ApiKey::ApiVersions).unwrap().max
        );
        let listing = [
            (ApiKey::ApiVersions as i16, 0, 2),
            (ApiKey::Metadata as i16, 0, 9),
        ];
        let body = api_versions(ErrorCode::UNSUPPORTED_VERSION.0, &listing, 0);
        raw.respond(&first, &body).await;
        // Second ask: at v2.
        let (second, _) = raw.read_request().await.unwrap();
        assert_eq!(second.api_version, 2);
        let body = api_versions(0, &listing, 2);
        raw.respond(&second, &body).await;
        raw.until_closed().await;
    })
    .await;
    let conn = Connection::connect(&fake.bootstrap(), &config(&fake.bootstrap()))
        .await
        .unwrap();
    assert_eq!(conn.api_version(ApiKey::ApiVersions), Some(2));
    assert_eq!(conn.api_version(ApiKey::Metadata), Some(9));
    conn.close().await;
    within("the fake broker", fake.task).await.unwrap();
}

#[tokio::test]
async fn a_hundred_concurrent_requests_share_one_connection() {
    let broker = MiniBroker::start().await.unwrap();
    let mut cfg = config(&broker.bootstrap());
    cfg.set("max.in.flight.requests.per.connection", "100")
        .unwrap();
    let conn = Arc::new(
        Connection::connect(&broker.bootstrap(), &cfg)
            .await
            .unwrap(),
    );
    let mut tasks = JoinSet::new();
    for i in 0..100 {
        let conn = Arc::clone(&conn);
        tasks.spawn(async move {
            let topic = format!("pipelined-{i}");
            let response = conn.send(metadata_for(&topic)).await.unwrap();
            assert_eq!(
                topic_names(&response),
                [topic],
                "answer matched to its request"
            );
        });
    }
    while let Some(done) = within("100 responses", tasks.join_next()).await {
        done.unwrap();
    }
    assert_eq!(
        broker.state().connection_stats().accepted,
        1,
        "one connection"
    );
    assert!(!conn.is_dead());
    conn.close().await;
    broker.shutdown().await;
}

/// Kafka answers in order, but matching is by correlation id: answers in reverse order still
/// reach the right callers. Also shows the in-flight cap: the fake broker sees at most that
/// many requests before answering any.
#[tokio::test]
async fn responses_out_of_order_reach_the_right_callers_and_in_flight_is_capped() {
    const CAP: usize = 4;
    let fake = FakeBroker::start(|mut raw| async move {
        raw.handshake().await;
        for _round in 0..3 {
            let mut batch = Vec::new();
            for _ in 0..CAP {
                batch.push(raw.read_request().await.unwrap());
            }
            // A fifth request must not arrive while four are unanswered.
            let early = tokio::time::timeout(Duration::from_millis(100), raw.read_request()).await;
            assert!(early.is_err(), "more than {CAP} requests in flight");
            for (header, mut body) in batch.into_iter().rev() {
                let request = <MetadataRequest as kafka_protocol::protocol::Decodable>::decode(
                    &mut body,
                    header.api_version,
                )
                .unwrap();
                let name = request.topics.unwrap()[0].name.clone();
                let response = MetadataResponse::default()
                    .with_topics(vec![MetadataResponseTopic::default().with_name(name)]);
                raw.respond(&header, &encode(&response, header.api_version))
                    .await;
            }
        }
        raw.until_closed().await;
    })
    .await;
    let mut cfg = config(&fake.bootstrap());
    cfg.max_in_flight_per_connection = CAP;
    let conn = Arc::new(Connection::connect(&fake.bootstrap(), &cfg).await.unwrap());
    let mut tasks = JoinSet::new();
    for i in 0..3 * CAP {
        let conn = Arc::clone(&conn);
        tasks.spawn(async move {
            let topic = format!("t{i}");
            let response = conn.send(metadata_for(&topic)).await.unwrap();
            assert_eq!(topic_names(&response), [topic]);
        });
    }
    while let Some(done) = within("all responses", tasks.join_next()).await {
        done.unwrap();
    }
    conn.close().await;
    within("the fake broker", fake.task).await.unwrap();
}

#[tokio::test]
async fn dropped_send_futures_leave_the_connection_usable() {
    let broker = MiniBroker::start().await.unwrap();
    let mut cfg = config(&broker.bootstrap());
    cfg.max_in_flight_per_connection = 2;
    let conn = Connection::connect(&broker.bootstrap(), &cfg)
        .await
        .unwrap();
    // Cancel at many different points: before the hand-over, while waiting for a slot, while
    // waiting for the answer.
    for i in 0..200u64 {
        let cancelled = conn.send(metadata_for(&format!("dropped-{i}")));
        let _ = tokio::time::timeout(Duration::from_micros(i * 20), cancelled).await;
        if i % 3 == 0 {
            // Dropped after exactly one poll: the frame was handed over, its answer is not
            // awaited by anyone.
            let fut = conn.send(metadata_for("polled-once"));
            tokio::pin!(fut);
            tokio::select! {
                biased;
                _ = &mut fut => {}
                () = std::future::ready(()) => {}
            }
        }
    }
    let response = within(
        "a request after cancellations",
        conn.send(metadata_for("after")),
    )
    .await
    .unwrap();
    assert_eq!(topic_names(&response), ["after"]);
    assert!(!conn.is_dead());
    conn.close().await;
    broker.shutdown().await;
}

#[tokio::test]
async fn a_silent_broker_times_out_the_handshake() {
    let fake = FakeBroker::start(|raw| async move {
        // Accept, read whatever comes, never answer.
        raw.until_closed().await;
    })
    .await;
    let mut cfg = config(&fake.bootstrap());
    cfg.request_timeout = Duration::from_millis(200);
    let err = within("connect", Connection::connect(&fake.bootstrap(), &cfg))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err}");
    assert!(err.is_retriable());
    within("the fake broker to see the close", fake.task)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_request_timeout_kills_the_connection_and_frees_waiters() {
    let (seen_tx, seen) = tokio::sync::oneshot::channel();
    let fake = FakeBroker::start(|mut raw| async move {
        raw.handshake().await;
        raw.read_request().await.unwrap();
        let _ = seen_tx.send(());
        raw.until_closed().await;
    })
    .await;
    let mut cfg = config(&fake.bootstrap());
    cfg.request_timeout = Duration::from_millis(300);
    cfg.max_in_flight_per_connection = 1;
    let conn = Arc::new(Connection::connect(&fake.bootstrap(), &cfg).await.unwrap());
    let first = tokio::spawn({
        let conn = Arc::clone(&conn);
        async move { conn.send(metadata_for("a")).await }
    });
    within("the broker to read the first request", seen)
        .await
        .unwrap();
    // A deliberate offset, not a wait for a condition: it puts the second request's deadline
    // well after the first's, so the two cannot expire in the same timer tick.
    tokio::time::sleep(Duration::from_millis(100)).await;
    // The second request waits for the only in-flight slot; the first one's timeout kills
    // the connection, which fails the second at once instead of at its own deadline.
    let second = within("the second request", conn.send(metadata_for("b")))
        .await
        .unwrap_err();
    let first = within("the first request", first)
        .await
        .unwrap()
        .unwrap_err();
    assert!(matches!(first, Error::Timeout { .. }), "{first}");
    assert!(matches!(second, Error::Disconnected { .. }), "{second}");
    assert!(first.is_retriable() && second.is_retriable());
    let reason = expect_dead(&conn).await;
    assert!(reason.contains("no response within 300ms"), "{reason}");
    // A dead connection refuses at once.
    let err = conn.send(metadata_for("c")).await.unwrap_err();
    assert!(matches!(err, Error::Disconnected { .. }), "{err}");
    within("the fake broker to see the close", fake.task)
        .await
        .unwrap();
}

/// Requests whose callers gave up still expire: a silent broker cannot keep the in-flight
/// slots forever with answers nobody waits for.
#[tokio::test]
async fn abandoned_requests_still_expire_and_kill_a_silent_connection() {
    let fake = FakeBroker::start(|mut raw| async move {
        raw.handshake().await;
        raw.until_closed().await;
    })
    .await;
    let mut cfg = config(&fake.bootstrap());
    cfg.request_timeout = Duration::from_millis(300);
    cfg.max_in_flight_per_connection = 2;
    let conn = Connection::connect(&fake.bootstrap(), &cfg).await.unwrap();
    for topic in ["a", "b"] {
        // One poll hands the frame over; then the caller walks away.
        let fut = conn.send(metadata_for(topic));
        tokio::pin!(fut);
        tokio::select! {
            biased;
            _ = &mut fut => panic!("the fake broker never answers"),
            () = std::future::ready(()) => {}
        }
    }
    let reason = expect_dead(&conn).await;
    assert!(reason.contains("got no response within 300ms"), "{reason}");
    let err = conn.send(metadata_for("c")).await.unwrap_err();
    assert!(matches!(err, Error::Disconnected { .. }), "{err}");
    within("the fake broker to see the close", fake.task)
        .await
        .unwrap();
}

/// The timeout covers the write too: a broker that stops reading leaves a large request stuck
/// in the socket, and the request still fails on time.
#[tokio::test]
async fn a_request_timeout_covers_the_write() {
    let (stop_tx, stop) = tokio::sync::oneshot::channel::<()>();
    let fake = FakeBroker::start(|mut raw| async move {
        raw.handshake().await;
        // Stop reading, keep the socket open until the test is done.
        let _ = stop.await;
        drop(raw);
    })
    .await;
    let mut cfg = config(&fake.bootstrap());
    cfg.request_timeout = Duration::from_millis(300);
    let conn = Connection::connect(&fake.bootstrap(), &cfg).await.unwrap();
    let huge = Bytes::from(vec![0u8; 64 * 1024 * 1024]);
    let request =
        ProduceRequest::default()
            .with_acks(0)
            .with_topic_data(vec![TopicProduceData::default()
                .with_name(TopicName(StrBytes::from_static_str("big")))
                .with_partition_data(vec![PartitionProduceData::default()
                    .with_index(0)
                    .with_records(Some(huge))])]);
    let err = within("the timeout", conn.send_without_response(request))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err}");
    expect_dead(&conn).await;
    let _ = stop_tx.send(());
    within("the fake broker", fake.task).await.unwrap();
}

/// Connects to a fake broker that completes the handshake and then runs `misbehave` on the
/// next request; returns the error of that request and the connection.
async fn after_handshake<F, Fut>(misbehave: F) -> (Error, Connection)
where
    F: FnOnce(common::RawConn, RequestHeader) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let fake = FakeBroker::start(|mut raw| async move {
        raw.handshake().await;
        let (header, _) = raw.read_request().await.unwrap();
        misbehave(raw, header).await;
    })
    .await;
    let conn = Connection::connect(&fake.bootstrap(), &config(&fake.bootstrap()))
        .await
        .unwrap();
    let err = within("the answer", conn.send(metadata_for("x")))
        .await
        .unwrap_err();
    (err, conn)
}

#[tokio::test]
async fn a_garbage_body_is_an_error_and_kills_the_connection() {
    let (err, conn) = after_handshake(|mut raw, h| async move {
        raw.respond(&h, b"\xde\xad\xbe\xef garbage").await;
        raw.until_closed().await;
    })
    .await;
    assert!(matches!(err, Error::MalformedResponse { .. }), "{err}");
    assert!(!err.is_retriable());
    let reason = expect_dead(&conn).await;
    assert!(reason.contains("malformed"), "{reason}");
}

#[tokio::test]
async fn a_hostile_array_count_is_an_error_not_an_allocation() {
    let (err, conn) = after_handshake(|mut raw, h| async move {
        // Metadata v12 response: throttle_time_ms, then a compact array of brokers claiming
        // 2^31 - 1 entries with three bytes behind it.
        let mut body = BytesMut::new();
        body.put_i32(0);
        body.put_slice(&[0xff, 0xff, 0xff, 0xff, 0x07]);
        body.put_slice(&[0, 0, 0]);
        raw.respond(&h, &body).await;
        raw.until_closed().await;
    })
    .await;
    let Error::MalformedResponse { reason, api, .. } = &err else {
        panic!("expected a malformed response, got {err}");
    };
    assert_eq!(*api, ApiKey::Metadata);
    assert!(reason.contains("claims"), "{reason}");
    expect_dead(&conn).await;
}

#[tokio::test]
async fn an_unknown_correlation_id_fails_every_pending_request_retriably() {
    let fake = FakeBroker::start(|mut raw| async move {
        raw.handshake().await;
        for _ in 0..3 {
            raw.read_request().await.unwrap();
        }
        raw.respond_as(123_456, 1, b"").await;
        raw.until_closed().await;
    })
    .await;
    let conn = Arc::new(
        Connection::connect(&fake.bootstrap(), &config(&fake.bootstrap()))
            .await
            .unwrap(),
    );
    let mut tasks = JoinSet::new();
    for i in 0..3 {
        let conn = Arc::clone(&conn);
        tasks.spawn(async move { conn.send(metadata_for(&format!("t{i}"))).await });
    }
    let mut errors = Vec::new();
    while let Some(done) = within("the three failures", tasks.join_next()).await {
        errors.push(done.unwrap().unwrap_err());
    }
    for err in &errors {
        assert!(matches!(err, Error::Disconnected { .. }), "{err}");
        assert!(err.is_retriable());
        assert!(
            err.to_string().contains("unknown correlation id 123456"),
            "{err}"
        );
    }
    expect_dead(&conn).await;
    within("the fake broker to see the close", fake.task)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_bad_length_prefix_or_a_hang_up_kills_the_connection() {
    let (err, conn) = after_handshake(|mut raw, _| async move {
        raw.write_raw(&(-5i32).to_be_bytes()).await;
        raw.until_closed().await;
    })
    .await;
    assert!(matches!(err, Error::Disconnected { .. }), "{err}");
    assert!(expect_dead(&conn).await.contains("negative"));

    let (err, conn) = after_handshake(|raw, _| async move { drop(raw) }).await;
    assert!(matches!(err, Error::Disconnected { .. }), "{err}");
    assert!(err.is_retriable());
    assert!(expect_dead(&conn).await.contains("closed"));
}

#[tokio::test]
async fn a_response_too_short_for_its_header_is_an_error() {
    let (err, conn) = after_handshake(|mut raw, h| async move {
        // Right correlation id, then a truncated tagged-field section (header v1).
        let mut frame = BytesMut::new();
        frame.put_i32(5);
        frame.put_i32(h.correlation_id);
        frame.put_u8(0x80);
        raw.write_raw(&frame).await;
        raw.until_closed().await;
    })
    .await;
    assert!(matches!(err, Error::MalformedResponse { .. }), "{err}");
    expect_dead(&conn).await;
}

#[tokio::test]
async fn a_request_without_response_resolves_once_written() {
    let broker = MiniBroker::start().await.unwrap();
    let conn = Connection::connect(&broker.bootstrap(), &config(&broker.bootstrap()))
        .await
        .unwrap();
    let mut batch = BatchBuilder::new();
    batch
        .push(RecordInput {
            value: Some(Bytes::from_static(b"fire and forget")),
            ..RecordInput::default()
        })
        .unwrap();
    let request = ProduceRequest::default()
        .with_acks(0)
        .with_timeout_ms(1000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(TopicName(StrBytes::from_static_str("acks0")))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(0)
                .with_records(Some(batch.build().unwrap()))])]);
    within("the write", conn.send_without_response(request))
        .await
        .unwrap();
    common::wait_until("the record is stored", || {
        broker
            .state()
            .topics()
            .get("acks0")
            .and_then(|t| t.partition(0).map(|p| p.next_offset()))
            == Some(1)
    })
    .await;
    // The connection still works: no stray response confused it.
    let response = conn.send(metadata_for("acks0")).await.unwrap();
    assert_eq!(topic_names(&response), ["acks0"]);
    assert!(!conn.is_dead());
    conn.close().await;
    broker.shutdown().await;
}

#[tokio::test]
async fn connecting_to_a_closed_port_is_a_retriable_io_error() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let addr = format!("127.0.0.1:{port}");
    let err = Connection::connect(&addr, &ClientConfig::new(&addr).unwrap())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err}");
    assert!(err.is_retriable());
}
