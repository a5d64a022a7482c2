//! The broker's limits under hostile load, each hit on purpose: the connection limit
//! (`max.connections`), idle connections (`connections.max.idle.ms`), the partitions one
//! request, and the broker as a whole, may hold, and the memory budget for record data
//! (`--max-memory`). After each, well-behaved clients are still served.

mod common;

use std::time::{Duration, Instant};

use common::{batch, fetch_request, produce_request, produce_result, produces_and_fetches};
use common::{still_serves, wait_until, RawConn};
use ferrokafka_mini_broker::MiniBroker;
use ferrokafka_protocol::ErrorCode;
use kafka_protocol::messages::create_partitions_request::CreatePartitionsTopic;
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{
    ApiVersionsRequest, CreatePartitionsRequest, CreateTopicsRequest, DeleteTopicsRequest,
    MetadataRequest, TopicName,
};
use kafka_protocol::protocol::StrBytes;

/// Kafka's answer to a CreateTopics request over its per-request limit, word for word.
const TOO_MANY: &str = "Excessively large number of partitions per request.";

fn name(topic: &str) -> TopicName {
    TopicName(StrBytes::from_string(topic.to_owned()))
}

async fn api_versions(conn: &mut RawConn) {
    let resp = conn.request(3, &ApiVersionsRequest::default()).await;
    assert_eq!(resp.error_code, 0);
}

/// CreateTopics for `topics` (name, partitions): each topic's error code and message.
async fn create(
    conn: &mut RawConn,
    topics: &[(&str, i32)],
    validate_only: bool,
) -> Vec<(i16, Option<String>)> {
    let req = CreateTopicsRequest::default()
        .with_timeout_ms(10_000)
        .with_validate_only(validate_only)
        .with_topics(
            topics
                .iter()
                .map(|(topic, partitions)| {
                    CreatableTopic::default()
                        .with_name(name(topic))
                        .with_num_partitions(*partitions)
                        .with_replication_factor(1)
                })
                .collect(),
        );
    let resp = conn.request(5, &req).await;
    assert_eq!(resp.topics.len(), topics.len());
    resp.topics
        .into_iter()
        .map(|t| (t.error_code, message(t.error_message)))
        .collect()
}

/// CreatePartitions growing each topic to its count: each topic's error code and message.
async fn grow(conn: &mut RawConn, topics: &[(&str, i32)]) -> Vec<(i16, Option<String>)> {
    let req = CreatePartitionsRequest::default()
        .with_timeout_ms(10_000)
        .with_topics(
            topics
                .iter()
                .map(|(topic, count)| {
                    CreatePartitionsTopic::default()
                        .with_name(name(topic))
                        .with_count(*count)
                        .with_assignments(None)
                })
                .collect(),
        );
    let resp = conn.request(2, &req).await;
    resp.results
        .into_iter()
        .map(|t| (t.error_code, message(t.error_message)))
        .collect()
}

/// An error message, with an empty one as none.
fn message(m: Option<StrBytes>) -> Option<String> {
    m.map(|m| m.to_string()).filter(|m| !m.is_empty())
}

fn partitions_of(broker: &MiniBroker, topic: &str) -> Option<usize> {
    broker
        .state()
        .topics()
        .get(topic)
        .map(|t| t.partitions.len())
}

const OK: i16 = 0;
const POLICY: i16 = ErrorCode::POLICY_VIOLATION.0;

#[tokio::test]
async fn connections_over_the_limit_are_closed_and_the_others_served() {
    let broker = MiniBroker::builder()
        .max_connections(2)
        .start()
        .await
        .expect("start");
    let addr = broker.bootstrap();
    let mut first = RawConn::connect(&addr).await;
    let mut second = RawConn::connect(&addr).await;
    produces_and_fetches(&mut first, "limited").await;
    produces_and_fetches(&mut second, "limited").await;
    assert_eq!(broker.open_connections(), 2);

    let mut third = RawConn::connect(&addr).await;
    third.expect_closed().await;
    assert_eq!(broker.state().connection_stats().over_connection_limit, 1);

    // Those already in are served as before.
    produces_and_fetches(&mut first, "limited").await;
    produces_and_fetches(&mut second, "limited").await;

    // A closed connection frees its place for a newcomer.
    drop(first);
    wait_until("the closed connection's place to be freed", || {
        broker.open_connections() == 1
    })
    .await;
    still_serves(&addr, "limited").await;
    assert_eq!(broker.state().connection_stats().over_connection_limit, 1);
    broker.shutdown().await;
}

/// The idle limit of the idle-connection tests.
const IDLE: Duration = Duration::from_millis(300);

/// A broker that closes connections idle for `idle`, and a connection to it.
async fn idle_after(idle: Duration) -> (MiniBroker, RawConn) {
    let broker = MiniBroker::builder()
        .connections_max_idle(idle)
        .start()
        .await
        .expect("start");
    let conn = RawConn::connect(&broker.bootstrap()).await;
    (broker, conn)
}

#[tokio::test]
async fn idle_connections_are_closed_after_the_limit() {
    let (broker, mut conn) = idle_after(IDLE).await;
    api_versions(&mut conn).await;
    let answered = Instant::now();
    conn.expect_closed().await;
    // The broker's clock starts as it writes the answer, a moment before it arrives here.
    let waited = answered.elapsed();
    assert!(
        waited >= IDLE - Duration::from_millis(50),
        "closed after {waited:?}, before the idle limit"
    );
    assert_eq!(broker.state().connection_stats().idle_closed, 1);
    still_serves(&broker.bootstrap(), "after-idle").await;
    broker.shutdown().await;
}

#[tokio::test]
async fn requests_and_long_polls_keep_a_connection_open() {
    let (broker, mut conn) = idle_after(IDLE).await;
    // A request every 100 ms for a second, three idle limits in all: each one restarts the
    // clock.
    for _ in 0..10 {
        api_versions(&mut conn).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A long poll on an empty partition for four idle limits: a request being answered, so
    // the connection is not idle.
    let (code, _) = produce_result(
        &conn
            .request(9, &produce_request("quiet", 0, batch(1)))
            .await,
    );
    assert_eq!(code, 0);
    let max_wait = Duration::from_millis(1_200);
    let poll = fetch_request("quiet", 0, 1).with_max_wait_ms(1_200);
    let started = Instant::now();
    let resp = conn.request(12, &poll).await;
    assert!(started.elapsed() >= max_wait, "the fetch did not wait");
    let p = &resp.responses[0].partitions[0];
    assert_eq!(p.error_code, 0);
    assert!(p.records.as_ref().is_none_or(|r| r.is_empty()));
    api_versions(&mut conn).await;
    assert_eq!(broker.state().connection_stats().idle_closed, 0);
    broker.shutdown().await;
}

#[tokio::test]
async fn create_topics_over_the_per_request_limit_is_refused_whole() {
    let broker = MiniBroker::start().await.expect("start");
    let mut conn = RawConn::connect(&broker.bootstrap()).await;
    let too_many = Some(TOO_MANY.to_owned());
    // Each would fit alone; together they pass 10,000: both refused, nothing created.
    let refused = create(&mut conn, &[("many-a", 6_000), ("many-b", 4_001)], false).await;
    assert_eq!(
        refused,
        [(POLICY, too_many.clone()), (POLICY, too_many.clone())]
    );
    let checked = create(&mut conn, &[("one-topic", 10_001)], true).await;
    assert_eq!(checked, [(POLICY, too_many.clone())], "validate_only too");
    assert_eq!(partitions_of(&broker, "many-a"), None);
    assert_eq!(broker.state().partitions_held(), 0);

    // At the limit it is created.
    let created = create(&mut conn, &[("many-a", 6_000), ("many-b", 4_000)], false).await;
    assert_eq!(created, [(OK, None), (OK, None)]);
    assert_eq!(broker.state().partitions_held(), 10_000);

    // CreatePartitions is held to the same limit, over all its topics.
    let refused = grow(&mut conn, &[("many-a", 10_000), ("many-b", 10_001)]).await;
    assert_eq!(refused, [(POLICY, too_many.clone()), (POLICY, too_many)]);
    assert_eq!(partitions_of(&broker, "many-a"), Some(6_000));
    let grown = grow(&mut conn, &[("many-b", 14_000)]).await;
    assert_eq!(grown, [(OK, None)]);
    assert_eq!(broker.state().partitions_held(), 20_000);
    still_serves(&broker.bootstrap(), "after-many").await;
    broker.shutdown().await;
}

#[tokio::test]
async fn the_broker_partition_limit_holds_for_creation_growth_and_auto_creation() {
    let broker = MiniBroker::builder()
        .max_partitions(10)
        .start()
        .await
        .expect("start");
    let mut conn = RawConn::connect(&broker.bootstrap()).await;
    let created = create(&mut conn, &[("fits", 8), ("too-big", 3)], false).await;
    assert_eq!(created[0], (OK, None));
    let (code, message) = &created[1];
    assert_eq!(*code, POLICY);
    let message = message.as_deref().unwrap_or_default();
    assert!(
        message.contains("limit of 10") && message.contains("--max-partitions"),
        "{message}"
    );
    assert_eq!(partitions_of(&broker, "too-big"), None);
    assert_eq!(create(&mut conn, &[("check", 3)], true).await[0].0, POLICY);

    assert_eq!(grow(&mut conn, &[("fits", 11)]).await[0].0, POLICY);
    assert_eq!(partitions_of(&broker, "fits"), Some(8));
    assert_eq!(grow(&mut conn, &[("fits", 10)]).await, [(OK, None)]);

    // Full: auto-creation does not happen, by Metadata or by Produce.
    let metadata = MetadataRequest::default()
        .with_allow_auto_topic_creation(true)
        .with_topics(Some(vec![
            MetadataRequestTopic::default().with_name(Some(name("auto")))
        ]));
    let resp = conn.request(12, &metadata).await;
    assert_eq!(
        resp.topics[0].error_code,
        ErrorCode::UNKNOWN_TOPIC_OR_PARTITION.0
    );
    let (code, _) = produce_result(&conn.request(9, &produce_request("auto", 0, batch(1))).await);
    assert_eq!(code, ErrorCode::UNKNOWN_TOPIC_OR_PARTITION.0);
    assert_eq!(partitions_of(&broker, "auto"), None);

    // Deleting a topic makes room again.
    let delete = DeleteTopicsRequest::default()
        .with_timeout_ms(10_000)
        .with_topic_names(vec![name("fits")]);
    assert_eq!(conn.request(4, &delete).await.responses[0].error_code, 0);
    assert_eq!(broker.state().partitions_held(), 0);
    let resp = conn.request(12, &metadata).await;
    assert_eq!(resp.topics[0].error_code, 0);
    assert_eq!(partitions_of(&broker, "auto"), Some(1));
    broker.shutdown().await;
}

/// Writes past the memory budget are refused with KAFKA_STORAGE_ERROR naming the budget, on
/// every topic (the budget is the broker's); what was acknowledged stays readable; deleting
/// a topic makes room, and writes are taken again.
#[tokio::test]
async fn writes_past_the_memory_budget_are_refused_until_there_is_room() {
    const BUDGET: usize = 64 * 1024;
    let broker = MiniBroker::builder()
        .max_memory(BUDGET)
        .start()
        .await
        .expect("start");
    let mut conn = RawConn::connect(&broker.bootstrap()).await;
    let mut acknowledged = 0usize;
    let mut refusal = None;
    for _ in 0..1_000 {
        let resp = conn
            .request(9, &produce_request("filled", 0, batch(100)))
            .await;
        let p = &resp.responses[0].partition_responses[0];
        if p.error_code != 0 {
            refusal = Some((p.error_code, message(p.error_message.clone())));
            break;
        }
        acknowledged += 100;
    }
    let (code, text) = refusal.expect("refused within 1,000 writes of 100 records");
    assert_eq!(code, ErrorCode::KAFKA_STORAGE_ERROR.0);
    let text = text.unwrap_or_default();
    assert!(
        text.contains("memory budget") && text.contains("--max-memory"),
        "{text}"
    );
    assert!(acknowledged > 0, "some writes fit");
    let held = broker.state().memory().held();
    assert!(
        held <= BUDGET,
        "{held} bytes held past a budget of {BUDGET}"
    );

    // The budget is the broker's: another topic is refused too.
    let (code, _) = produce_result(
        &conn
            .request(9, &produce_request("other", 0, batch(100)))
            .await,
    );
    assert_eq!(code, ErrorCode::KAFKA_STORAGE_ERROR.0);

    // Everything acknowledged is still there.
    let mut offset = 0i64;
    let mut read = 0usize;
    for _ in 0..1_000 {
        let resp = conn.request(12, &fetch_request("filled", 0, offset)).await;
        let values = common::fetched_values(&resp);
        if values.is_empty() {
            break;
        }
        read += values.len();
        offset += i64::try_from(values.len()).expect("count");
    }
    assert_eq!(read, acknowledged);

    let delete = DeleteTopicsRequest::default()
        .with_timeout_ms(10_000)
        .with_topic_names(vec![name("filled")]);
    assert_eq!(conn.request(4, &delete).await.responses[0].error_code, 0);
    assert_eq!(broker.state().memory().held(), 0);
    produces_and_fetches(&mut conn, "other").await;
    broker.shutdown().await;
}
