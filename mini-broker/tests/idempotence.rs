//! Idempotent producers at the wire level: raw Produce requests whose batches carry producer
//! ids, epochs and sequences, checked against what Kafka's broker answers.
//!
//! Every scenario that describes Kafka runs twice: against the in-process mini-broker, and
//! against the real Kafka broker named by `KAFKA_BOOTSTRAP` (scripts/test.sh starts one and
//! exports it), so the expectations are Kafka's own and not only our reading of it. Without
//! `KAFKA_BOOTSTRAP` the real-Kafka half is skipped with a note (a failure under `CI=true`).
//! The few scenarios about what only this broker accepts (several batches per partition) run
//! against the mini-broker alone.

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{fetch_request, fetched_values, idem, RawConn, STEP};
use ferrokafka_mini_broker::MiniBroker;
use ferrokafka_protocol::ErrorCode;
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::produce_response::PartitionProduceResponse;
use kafka_protocol::messages::{
    BrokerId, CreateTopicsRequest, InitProducerIdRequest, InitProducerIdResponse,
    ListOffsetsRequest, ProduceRequest, ProducerId, TopicName, TransactionalId,
};
use kafka_protocol::protocol::StrBytes;

const PRODUCE_V: i16 = 9;

// ---- where scenarios run ------------------------------------------------------------------

/// The real broker's address, or `None` (with a note) when there is none.
fn real_kafka() -> Option<String> {
    match std::env::var("KAFKA_BOOTSTRAP") {
        Ok(addr) if !addr.is_empty() => Some(addr),
        _ => {
            let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
            assert!(!ci, "KAFKA_BOOTSTRAP is not set in CI: run scripts/test.sh");
            eprintln!(
                "skipped against real Kafka: set KAFKA_BOOTSTRAP (scripts/real-kafka.sh start)"
            );
            None
        }
    }
}

/// One module per scenario with a test against each broker.
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn mini_broker() {
                let broker = ferrokafka_mini_broker::MiniBroker::start().await.expect("start");
                super::$name(&broker.bootstrap()).await;
                broker.shutdown().await;
            }

            #[tokio::test]
            async fn real_kafka() {
                if let Some(addr) = super::real_kafka() {
                    super::$name(&addr).await;
                }
            }
        }
    )*};
}

// ---- helpers ------------------------------------------------------------------------------

fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    )
}

fn str_bytes(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_owned())
}

/// Creates `topic` and waits until every partition has a leader.
async fn create_topic(conn: &mut RawConn, topic: &str, partitions: i32, configs: &[(&str, &str)]) {
    let configs = configs
        .iter()
        .map(|(k, v)| {
            CreatableTopicConfig::default()
                .with_name(str_bytes(k))
                .with_value(Some(str_bytes(v)))
        })
        .collect();
    let req = CreateTopicsRequest::default()
        .with_timeout_ms(10_000)
        .with_topics(vec![CreatableTopic::default()
            .with_name(TopicName(str_bytes(topic)))
            .with_num_partitions(partitions)
            .with_replication_factor(1)
            .with_configs(configs)]);
    let resp = conn.request(5, &req).await;
    assert_eq!(resp.topics[0].error_code, 0, "create {topic}");
    // Kafka's metadata may name a leader before that broker serves the partition; ListOffsets
    // answers only once it does.
    let deadline = Instant::now() + STEP;
    let list = ListOffsetsRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_topics(vec![ListOffsetsTopic::default()
            .with_name(TopicName(str_bytes(topic)))
            .with_partitions(
                (0..partitions)
                    .map(|p| {
                        ListOffsetsPartition::default()
                            .with_partition_index(p)
                            .with_timestamp(-1)
                    })
                    .collect(),
            )]);
    loop {
        let resp = conn.request(7, &list).await;
        let answered: Vec<i16> = resp
            .topics
            .iter()
            .flat_map(|t| t.partitions.iter().map(|p| p.error_code))
            .collect();
        if answered.len() == usize::try_from(partitions).unwrap()
            && answered.iter().all(|c| *c == 0)
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{topic} not served after {STEP:?}: {answered:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// InitProducerId without a transactional id (the type's default is an empty one).
fn non_transactional(producer_id: i64, epoch: i16) -> InitProducerIdRequest {
    InitProducerIdRequest::default()
        .with_transactional_id(None)
        .with_transaction_timeout_ms(60_000)
        .with_producer_id(ProducerId(producer_id))
        .with_producer_epoch(epoch)
}

/// Sends InitProducerId, retrying while Kafka's id manager is still fetching its first block
/// of ids (COORDINATOR_LOAD_IN_PROGRESS, as a client would).
async fn init_producer_id(
    conn: &mut RawConn,
    version: i16,
    req: &InitProducerIdRequest,
) -> InitProducerIdResponse {
    let deadline = Instant::now() + STEP;
    loop {
        let resp = conn.request(version, req).await;
        if resp.error_code != ErrorCode::COORDINATOR_LOAD_IN_PROGRESS.0 {
            return resp;
        }
        assert!(
            Instant::now() < deadline,
            "producer ids still loading after {STEP:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A fresh producer id, as a non-transactional producer asks for one.
async fn init_producer(conn: &mut RawConn) -> (i64, i16) {
    let resp = init_producer_id(conn, 4, &non_transactional(-1, -1)).await;
    assert_eq!(resp.error_code, 0, "InitProducerId");
    (resp.producer_id.0, resp.producer_epoch)
}

/// Several batches for one partition, back to back (what only the mini-broker accepts).
fn concat(batches: &[Bytes]) -> Bytes {
    Bytes::from(batches.concat())
}

fn produce_req(topic: &str, parts: Vec<(i32, Bytes)>) -> ProduceRequest {
    ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(5000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(TopicName(str_bytes(topic)))
            .with_partition_data(
                parts
                    .into_iter()
                    .map(|(p, records)| {
                        PartitionProduceData::default()
                            .with_index(p)
                            .with_records(Some(records))
                    })
                    .collect(),
            )])
}

/// Produces one partition's records and returns its whole partition answer.
async fn produce(
    conn: &mut RawConn,
    topic: &str,
    partition: i32,
    records: Bytes,
) -> PartitionProduceResponse {
    let resp = conn
        .request(PRODUCE_V, &produce_req(topic, vec![(partition, records)]))
        .await;
    resp.responses[0].partition_responses[0].clone()
}

/// `(error code, base offset)` of a one-partition produce.
async fn send(conn: &mut RawConn, topic: &str, partition: i32, records: Bytes) -> (i16, i64) {
    let p = produce(conn, topic, partition, records).await;
    (p.error_code, p.base_offset)
}

fn ok(offset: i64) -> (i16, i64) {
    (0, offset)
}

fn rejected(code: ErrorCode) -> (i16, i64) {
    (code.0, -1)
}

/// Every value in `partition`, from offset 0.
async fn values(conn: &mut RawConn, topic: &str, partition: i32) -> Vec<String> {
    let resp = conn.request(12, &fetch_request(topic, partition, 0)).await;
    fetched_values(&resp)
        .into_iter()
        .map(|v| String::from_utf8(v.to_vec()).expect("utf-8"))
        .collect()
}

fn names(tag: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{tag}-{i}")).collect()
}

async fn setup(addr: &str, partitions: i32) -> (RawConn, String) {
    let mut conn = RawConn::connect(addr).await;
    let topic = unique("idem");
    create_topic(&mut conn, &topic, partitions, &[]).await;
    (conn, topic)
}

// ---- scenarios against both brokers -------------------------------------------------------

on_both!(
    retry_gets_original_offset_and_is_stored_once,
    gap_is_out_of_order_and_writes_nothing,
    unknown_producer_may_start_at_any_sequence,
    older_epoch_is_fenced,
    newer_epoch_starts_at_zero_and_resets_sequences,
    window_is_the_last_five_batches,
    partitions_are_independent,
    sequences_wrap_at_i32_max,
    retry_on_log_append_time_topic_reports_first_append_time,
    init_producer_id_always_hands_out_a_new_id,
);

async fn retry_gets_original_offset_and_is_stored_once(addr: &str) {
    let (mut c, t) = setup(addr, 1).await;
    let p = init_producer(&mut c).await;
    let first = idem(p, 0, 3, "a");
    let second = idem(p, 3, 2, "b");
    assert_eq!(send(&mut c, &t, 0, first.clone()).await, ok(0));
    assert_eq!(send(&mut c, &t, 0, second.clone()).await, ok(3));
    // Retries of both, in any order, on the same or a new connection.
    assert_eq!(send(&mut c, &t, 0, second).await, ok(3));
    let mut other = RawConn::connect(addr).await;
    let retry = produce(&mut other, &t, 0, first).await;
    assert_eq!((retry.error_code, retry.base_offset), ok(0), "{retry:?}");
    // Kafka answers a retry like the first write; on a CreateTime topic its
    // log_append_time is the batch's max timestamp (what Kafka remembers about it).
    assert_eq!(retry.log_append_time_ms, 1_700_000_000_002);
    let mut want = names("a", 3);
    want.extend(names("b", 2));
    assert_eq!(values(&mut c, &t, 0).await, want, "each batch stored once");
    // The sequence goes on after the retries.
    assert_eq!(send(&mut c, &t, 0, idem(p, 5, 1, "c")).await, ok(5));
}

async fn gap_is_out_of_order_and_writes_nothing(addr: &str) {
    let (mut c, t) = setup(addr, 1).await;
    let p = init_producer(&mut c).await;
    assert_eq!(send(&mut c, &t, 0, idem(p, 0, 3, "a")).await, ok(0));
    for seq in [4, 2, 100] {
        assert_eq!(
            send(&mut c, &t, 0, idem(p, seq, 1, "gap")).await,
            rejected(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER),
            "sequence {seq} after 0..=2"
        );
    }
    // A batch overlapping the last one is no retry either.
    assert_eq!(
        send(&mut c, &t, 0, idem(p, 2, 2, "overlap")).await,
        rejected(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER)
    );
    assert_eq!(send(&mut c, &t, 0, idem(p, 3, 1, "b")).await, ok(3));
    let mut want = names("a", 3);
    want.extend(names("b", 1));
    assert_eq!(values(&mut c, &t, 0).await, want);
}

async fn unknown_producer_may_start_at_any_sequence(addr: &str) {
    // Since KIP-360 a partition without state for a producer takes its first batch at any
    // sequence (the state may have expired while the producer was idle).
    let (mut c, t) = setup(addr, 1).await;
    let p = init_producer(&mut c).await;
    assert_eq!(send(&mut c, &t, 0, idem(p, 42, 2, "a")).await, ok(0));
    assert_eq!(send(&mut c, &t, 0, idem(p, 44, 1, "b")).await, ok(2));
    assert_eq!(
        send(&mut c, &t, 0, idem(p, 0, 1, "c")).await,
        rejected(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER),
        "once known, the sequence must continue"
    );
}

async fn older_epoch_is_fenced(addr: &str) {
    let (mut c, t) = setup(addr, 1).await;
    let (id, _) = init_producer(&mut c).await;
    assert_eq!(send(&mut c, &t, 0, idem((id, 3), 0, 2, "a")).await, ok(0));
    for (epoch, seq) in [(2, 2), (2, 0), (0, 0)] {
        assert_eq!(
            send(&mut c, &t, 0, idem((id, epoch), seq, 2, "zombie")).await,
            rejected(ErrorCode::INVALID_PRODUCER_EPOCH),
            "epoch {epoch} sequence {seq} after epoch 3"
        );
    }
    assert_eq!(values(&mut c, &t, 0).await, names("a", 2));
}

async fn newer_epoch_starts_at_zero_and_resets_sequences(addr: &str) {
    // Idempotent clients bump their epoch themselves (the Java producer does after an
    // unresolved sequence) and start every partition over at sequence 0.
    let (mut c, t) = setup(addr, 1).await;
    let (id, epoch) = init_producer(&mut c).await;
    let old = idem((id, epoch), 0, 3, "a");
    assert_eq!(send(&mut c, &t, 0, old.clone()).await, ok(0));
    let bumped = (id, epoch + 1);
    assert_eq!(
        send(&mut c, &t, 0, idem(bumped, 3, 1, "b")).await,
        rejected(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER),
        "a new epoch must start at 0"
    );
    assert_eq!(send(&mut c, &t, 0, idem(bumped, 0, 2, "b")).await, ok(3));
    assert_eq!(send(&mut c, &t, 0, idem(bumped, 2, 1, "c")).await, ok(5));
    // The old epoch is now fenced, retries included.
    assert_eq!(
        send(&mut c, &t, 0, old).await,
        rejected(ErrorCode::INVALID_PRODUCER_EPOCH)
    );
    let mut want = names("a", 3);
    want.extend(names("b", 2));
    want.extend(names("c", 1));
    assert_eq!(values(&mut c, &t, 0).await, want);
}

async fn window_is_the_last_five_batches(addr: &str) {
    let (mut c, t) = setup(addr, 1).await;
    let p = init_producer(&mut c).await;
    let batches: Vec<Bytes> = (0..6)
        .map(|i| idem(p, i * 2, 2, &format!("b{i}")))
        .collect();
    for (i, b) in batches.iter().enumerate() {
        assert_eq!(send(&mut c, &t, 0, b.clone()).await, ok(i as i64 * 2));
    }
    // The five most recent are remembered, newest to oldest...
    for i in (1..6).rev() {
        assert_eq!(
            send(&mut c, &t, 0, batches[i].clone()).await,
            ok(i as i64 * 2),
            "retry of batch {i}"
        );
    }
    // ...the sixth most recent is not: it is neither a retry nor in sequence.
    assert_eq!(
        send(&mut c, &t, 0, batches[0].clone()).await,
        rejected(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER)
    );
    assert_eq!(
        values(&mut c, &t, 0).await.len(),
        12,
        "nothing written twice"
    );
}

async fn partitions_are_independent(addr: &str) {
    let (mut c, t) = setup(addr, 2).await;
    let p = init_producer(&mut c).await;
    assert_eq!(send(&mut c, &t, 0, idem(p, 0, 3, "p0a")).await, ok(0));
    // The same producer starts partition 1 at its own sequence 0.
    assert_eq!(send(&mut c, &t, 1, idem(p, 0, 1, "p1a")).await, ok(0));
    // One request, a good batch for partition 0 and a gap for partition 1.
    let resp = c
        .request(
            PRODUCE_V,
            &produce_req(
                &t,
                vec![(0, idem(p, 3, 1, "p0b")), (1, idem(p, 5, 1, "p1gap"))],
            ),
        )
        .await;
    let parts = &resp.responses[0].partition_responses;
    let by_index = |i: i32| {
        let p = parts
            .iter()
            .find(|p| p.index == i)
            .expect("partition answer");
        (p.error_code, p.base_offset)
    };
    assert_eq!(by_index(0), ok(3));
    assert_eq!(
        by_index(1),
        rejected(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER)
    );
    // A retry on partition 0 is not a retry on partition 1.
    let p0_first = idem(p, 0, 3, "p0a");
    assert_eq!(send(&mut c, &t, 0, p0_first.clone()).await, ok(0));
    assert_eq!(
        send(&mut c, &t, 1, p0_first).await,
        rejected(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER)
    );
    assert_eq!(send(&mut c, &t, 1, idem(p, 1, 1, "p1b")).await, ok(1));
    let mut p0 = names("p0a", 3);
    p0.extend(names("p0b", 1));
    assert_eq!(values(&mut c, &t, 0).await, p0);
    let mut p1 = names("p1a", 1);
    p1.extend(names("p1b", 1));
    assert_eq!(values(&mut c, &t, 1).await, p1);
}

async fn sequences_wrap_at_i32_max(addr: &str) {
    let (mut c, t) = setup(addr, 1).await;
    let p = init_producer(&mut c).await;
    // MAX-1, MAX, 0: the last sequence wraps to 0, so the next batch starts at 1.
    let wrapping = idem(p, i32::MAX - 1, 3, "a");
    assert_eq!(send(&mut c, &t, 0, wrapping.clone()).await, ok(0));
    assert_eq!(
        send(&mut c, &t, 0, idem(p, 0, 1, "x")).await,
        rejected(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER)
    );
    assert_eq!(send(&mut c, &t, 0, idem(p, 1, 1, "b")).await, ok(3));
    assert_eq!(
        send(&mut c, &t, 0, wrapping).await,
        ok(0),
        "retry across the wrap"
    );
    // A batch ending exactly at MAX is followed by sequence 0.
    let (mut c, t) = setup(addr, 1).await;
    let p = init_producer(&mut c).await;
    assert_eq!(
        send(&mut c, &t, 0, idem(p, i32::MAX - 1, 2, "a")).await,
        ok(0)
    );
    assert_eq!(send(&mut c, &t, 0, idem(p, 0, 2, "b")).await, ok(2));
}

async fn retry_on_log_append_time_topic_reports_first_append_time(addr: &str) {
    let mut c = RawConn::connect(addr).await;
    let t = unique("idem-lat");
    create_topic(
        &mut c,
        &t,
        1,
        &[("message.timestamp.type", "LogAppendTime")],
    )
    .await;
    let p = init_producer(&mut c).await;
    let batch = idem(p, 0, 2, "a");
    let first = produce(&mut c, &t, 0, batch.clone()).await;
    assert_eq!((first.error_code, first.base_offset), ok(0));
    assert!(first.log_append_time_ms > 1_700_000_000_002, "{first:?}");
    let retry = produce(&mut c, &t, 0, batch).await;
    assert_eq!((retry.error_code, retry.base_offset), ok(0));
    assert_eq!(retry.log_append_time_ms, first.log_append_time_ms);
}

async fn init_producer_id_always_hands_out_a_new_id(addr: &str) {
    // Kafka gives a non-transactional producer a fresh id with epoch 0 every time, even when
    // the request names its current id and epoch (KIP-360's fields matter only with a
    // transactional id); idempotent clients bump their epoch themselves.
    let mut c = RawConn::connect(addr).await;
    let (a, epoch) = init_producer(&mut c).await;
    assert_eq!(epoch, 0);
    for version in [3, 4, 5] {
        let resp = c.request(version, &non_transactional(a, 0)).await;
        assert_eq!(resp.error_code, 0, "v{version}");
        assert_ne!(resp.producer_id.0, a, "v{version}: a new id");
        assert!(resp.producer_id.0 >= 0);
        assert_eq!(resp.producer_epoch, 0, "v{version}");
    }
    let resp = init_producer_id(
        &mut c,
        4,
        &InitProducerIdRequest::default()
            .with_transactional_id(Some(TransactionalId(str_bytes(""))))
            .with_transaction_timeout_ms(60_000)
            .with_producer_id(ProducerId(-1))
            .with_producer_epoch(-1),
    )
    .await;
    assert_eq!(
        resp.error_code,
        ErrorCode::INVALID_REQUEST.0,
        "empty transactional id"
    );
}

// ---- what only the mini-broker accepts: several batches per partition ----------------------

async fn mini() -> (MiniBroker, RawConn, String, (i64, i16)) {
    let broker = MiniBroker::start().await.expect("start");
    let mut conn = RawConn::connect(&broker.bootstrap()).await;
    let topic = unique("idem-multi");
    create_topic(&mut conn, &topic, 1, &[]).await;
    let p = init_producer(&mut conn).await;
    (broker, conn, topic, p)
}

#[tokio::test]
async fn batches_of_one_request_continue_each_other() {
    let (_b, mut c, t, p) = mini().await;
    let two = concat(&[idem(p, 0, 2, "a"), idem(p, 2, 3, "b")]);
    assert_eq!(send(&mut c, &t, 0, two.clone()).await, ok(0));
    assert_eq!(
        send(&mut c, &t, 0, two).await,
        ok(0),
        "retry of the whole request"
    );
    assert_eq!(send(&mut c, &t, 0, idem(p, 5, 1, "c")).await, ok(5));
    assert_eq!(values(&mut c, &t, 0).await.len(), 6);
}

#[tokio::test]
async fn one_bad_batch_rejects_the_partition() {
    let (b, mut c, t, p) = mini().await;
    let gap = concat(&[idem(p, 0, 2, "a"), idem(p, 3, 1, "b")]);
    assert_eq!(
        send(&mut c, &t, 0, gap).await,
        rejected(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER)
    );
    assert!(values(&mut c, &t, 0).await.is_empty(), "all or none");
    let topics = b.state().topics();
    let log = topics[&t].partition(0).expect("partition 0");
    assert!(
        log.producers().is_empty(),
        "no producer state from a refused request"
    );
}

#[tokio::test]
async fn retries_mixed_with_new_batches_are_refused() {
    let (_b, mut c, t, p) = mini().await;
    let first = idem(p, 0, 2, "a");
    assert_eq!(send(&mut c, &t, 0, first.clone()).await, ok(0));
    let mixed = concat(&[first, idem(p, 2, 1, "b")]);
    assert_eq!(
        send(&mut c, &t, 0, mixed).await,
        rejected(ErrorCode::INVALID_RECORD)
    );
    assert_eq!(values(&mut c, &t, 0).await, names("a", 2));
}
