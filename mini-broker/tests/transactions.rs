//! Transactions at the wire level: raw transactional requests (InitProducerId with a
//! transactional id, AddPartitionsToTxn, Produce of transactional batches, AddOffsetsToTxn,
//! TxnOffsetCommit, EndTxn) and what readers see afterwards (Fetch at both isolation levels,
//! ListOffsets, OffsetFetch with `require_stable`, DescribeTransactions, ListTransactions).
//!
//! Every scenario runs against a fresh mini-broker (with a 20 ms transaction-timeout check)
//! and against the real Kafka broker named by `KAFKA_BOOTSTRAP` (or the state file of
//! `scripts/real-kafka.sh`), so the expectations are Kafka's own. Kafka writes markers after
//! answering EndTxn; scenarios wait (bounded) for what they then check, which the mini-broker
//! satisfies at the first look. Most requests use the classic protocol's versions (EndTxn v3,
//! AddPartitionsToTxn v3, Produce v9), as a client does against a broker without KIP-890's
//! transaction version 2; the `tv2_` scenarios speak version 2 (Produce v12 and TxnOffsetCommit
//! v5 add to the transaction, EndTxn v5 bumps the epoch), which both brokers advertise in
//! ApiVersions, and `tv1_` checks that the newest version-1 requests keep the old behaviour.

mod common;
mod groups_common;

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use common::{RawConn, STEP};
use ferrokafka_protocol::record::{BatchBuilder, ControlRecordType, RecordBatch, RecordInput};
use ferrokafka_protocol::ErrorCode;
use groups_common::{Broker, JoinSpec, Member};
use kafka_protocol::messages::add_partitions_to_txn_request::{
    AddPartitionsToTxnTopic, AddPartitionsToTxnTransaction,
};
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::txn_offset_commit_request::{
    TxnOffsetCommitRequestPartition, TxnOffsetCommitRequestTopic,
};
use kafka_protocol::messages::{
    AddOffsetsToTxnRequest, AddPartitionsToTxnRequest, AddPartitionsToTxnResponse,
    ApiVersionsRequest, ApiVersionsResponse, BrokerId, CreateTopicsRequest,
    DescribeTransactionsRequest, EndTxnRequest, FetchRequest, FindCoordinatorRequest, GroupId,
    InitProducerIdRequest, InitProducerIdResponse, ListOffsetsRequest, ListTransactionsRequest,
    OffsetFetchRequest, ProduceRequest, ProducerId, TopicName, TransactionalId,
    TxnOffsetCommitRequest,
};
use kafka_protocol::protocol::StrBytes;
use tokio::time::Instant;

const PRODUCE_V: i16 = 9;
const FETCH_V: i16 = 12;
const INIT_V: i16 = 4;
const ADD_PARTITIONS_V: i16 = 3;
const ADD_OFFSETS_V: i16 = 3;
const TXN_COMMIT_V: i16 = 3;
const END_TXN_V: i16 = 3;
/// Transaction version 2 (KIP-890): the first versions of each request that speak it.
const PRODUCE_V2: i16 = 12;
const TXN_COMMIT_V2: i16 = 5;
const END_TXN_V2: i16 = 5;

/// Errors a client retries after a pause while the coordinator finishes something.
const RETRIABLE: [ErrorCode; 4] = [
    ErrorCode::COORDINATOR_LOAD_IN_PROGRESS,
    ErrorCode::COORDINATOR_NOT_AVAILABLE,
    ErrorCode::NOT_COORDINATOR,
    ErrorCode::CONCURRENT_TRANSACTIONS,
];

// ---- where scenarios run ------------------------------------------------------------------

/// One module per scenario with a test against each broker.
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn mini_broker() {
                let broker = ferrokafka_mini_broker::MiniBroker::builder()
                    .transaction_abort_interval(std::time::Duration::from_millis(20))
                    .start()
                    .await
                    .expect("start");
                super::$name(&broker.bootstrap()).await;
                broker.shutdown().await;
            }

            #[tokio::test]
            async fn real_kafka() {
                if let Some(addr) = super::groups_common::real_kafka() {
                    super::$name(&addr).await;
                }
            }
        }
    )*};
}

// ---- helpers ------------------------------------------------------------------------------

fn unique(prefix: &str) -> String {
    groups_common::unique(prefix)
}

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_owned())
}

fn tid(v: &str) -> TransactionalId {
    TransactionalId(s(v))
}

fn tname(v: &str) -> TopicName {
    TopicName(s(v))
}

fn code(c: ErrorCode) -> i16 {
    c.0
}

/// Calls `probe` until it returns `Some`, pausing briefly between calls; fails after [`STEP`].
async fn eventually<T, F, Fut>(what: &str, probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    groups_common::eventually(what, STEP, Duration::from_millis(20), probe).await
}

/// Creates `topic` and waits until Kafka serves every partition.
async fn create_topic(conn: &mut RawConn, topic: &str, partitions: i32) {
    let req = CreateTopicsRequest::default()
        .with_timeout_ms(10_000)
        .with_topics(vec![CreatableTopic::default()
            .with_name(tname(topic))
            .with_num_partitions(partitions)
            .with_replication_factor(1)]);
    let resp = conn.request(5, &req).await;
    assert_eq!(resp.topics[0].error_code, 0, "create {topic}");
    let deadline = Instant::now() + STEP;
    for p in 0..partitions {
        while list_offset(conn, topic, p, -1, 0).await.0 != 0 {
            assert!(Instant::now() < deadline, "{topic}-{p} not served");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Finds the coordinator of `key` (0 group, 1 transaction), waiting while Kafka creates its
/// internal topic.
async fn find_coordinator(conn: &mut RawConn, key: &str, key_type: i8) {
    let req = FindCoordinatorRequest::default()
        .with_key_type(key_type)
        .with_coordinator_keys(vec![s(key)]);
    let deadline = Instant::now() + STEP;
    loop {
        let resp = conn.request(4, &req).await;
        if resp.coordinators[0].error_code == 0 {
            return;
        }
        assert!(Instant::now() < deadline, "no coordinator for {key}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn init_request(id: &str, timeout_ms: i32, current: Option<(i64, i16)>) -> InitProducerIdRequest {
    let (pid, epoch) = current.unwrap_or((-1, -1));
    InitProducerIdRequest::default()
        .with_transactional_id(Some(tid(id)))
        .with_transaction_timeout_ms(timeout_ms)
        .with_producer_id(ProducerId(pid))
        .with_producer_epoch(epoch)
}

/// InitProducerId, retried as a client retries while the coordinator is busy.
async fn init_retrying(
    conn: &mut RawConn,
    version: i16,
    req: &InitProducerIdRequest,
) -> InitProducerIdResponse {
    let deadline = Instant::now() + STEP;
    loop {
        let resp = conn.request(version, req).await;
        if !RETRIABLE.contains(&ErrorCode(resp.error_code)) {
            return resp;
        }
        assert!(
            Instant::now() < deadline,
            "InitProducerId still {}",
            resp.error_code
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A transactional producer on its own connection, speaking the classic protocol.
struct Producer {
    conn: RawConn,
    id: String,
    pid: i64,
    epoch: i16,
    seq: HashMap<(String, i32), i32>,
}

impl Producer {
    async fn init(addr: &str, id: &str, timeout_ms: i32) -> Producer {
        let mut conn = RawConn::connect(addr).await;
        find_coordinator(&mut conn, id, 1).await;
        let resp = init_retrying(&mut conn, INIT_V, &init_request(id, timeout_ms, None)).await;
        assert_eq!(resp.error_code, 0, "InitProducerId {id}");
        Producer {
            conn,
            id: id.to_owned(),
            pid: resp.producer_id.0,
            epoch: resp.producer_epoch,
            seq: HashMap::new(),
        }
    }

    /// AddPartitionsToTxn v3, retried while the previous transaction completes; one error per
    /// partition, in partition order.
    async fn add(&mut self, topic: &str, partitions: &[i32]) -> Vec<i16> {
        let req = AddPartitionsToTxnRequest::default()
            .with_v3_and_below_transactional_id(tid(&self.id))
            .with_v3_and_below_producer_id(ProducerId(self.pid))
            .with_v3_and_below_producer_epoch(self.epoch)
            .with_v3_and_below_topics(vec![AddPartitionsToTxnTopic::default()
                .with_name(tname(topic))
                .with_partitions(partitions.to_vec())]);
        let resp = self.retrying(ADD_PARTITIONS_V, &req, add_errors).await;
        add_errors(&resp)
    }

    /// Sends `req` until its first error is not retriable.
    async fn retrying<R, F>(&mut self, version: i16, req: &R, errors: F) -> R::Response
    where
        R: kafka_protocol::protocol::Request,
        F: Fn(&R::Response) -> Vec<i16>,
    {
        let deadline = Instant::now() + STEP;
        loop {
            let resp = self.conn.request(version, req).await;
            let first = errors(&resp).first().copied().unwrap_or(0);
            if !RETRIABLE.contains(&ErrorCode(first)) {
                return resp;
            }
            assert!(Instant::now() < deadline, "still {first}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A transactional batch of `values` to one partition at the producer's next sequence;
    /// `(error, base offset)`. The sequence moves on only when the batch is written.
    async fn send(&mut self, topic: &str, partition: i32, values: &[&str]) -> (i16, i64) {
        self.send_with(PRODUCE_V, topic, partition, values, true, true)
            .await
    }

    async fn send_with(
        &mut self,
        version: i16,
        topic: &str,
        partition: i32,
        values: &[&str],
        transactional: bool,
        with_id: bool,
    ) -> (i16, i64) {
        let key = (topic.to_owned(), partition);
        let seq = self.seq.get(&key).copied().unwrap_or(0);
        let records = batch(self.pid, self.epoch, seq, transactional, values);
        let req = produce_request(topic, partition, records)
            .with_transactional_id(with_id.then(|| tid(&self.id)));
        let resp = self.conn.request(version, &req).await;
        let p = &resp.responses[0].partition_responses[0];
        if p.error_code == 0 {
            self.seq.insert(key, seq + values.len() as i32);
        }
        (p.error_code, p.base_offset)
    }

    /// EndTxn v3 once.
    async fn end_once(&mut self, version: i16, commit: bool) -> i16 {
        let req = end_request(&self.id, self.pid, self.epoch, commit);
        self.conn.request(version, &req).await.error_code
    }

    /// EndTxn, retried while Kafka is still completing an earlier EndTxn.
    async fn end(&mut self, commit: bool) -> i16 {
        let req = end_request(&self.id, self.pid, self.epoch, commit);
        let resp = self.retrying(END_TXN_V, &req, |r| vec![r.error_code]).await;
        resp.error_code
    }

    /// A transactional Produce v12 (transaction version 2: the partition is added by the
    /// write), retried while a transaction is being completed (Kafka writes markers after
    /// answering EndTxn); `(error, base offset)`.
    async fn send_v2(&mut self, topic: &str, partition: i32, values: &[&str]) -> (i16, i64) {
        let deadline = Instant::now() + STEP;
        loop {
            let got = self
                .send_with(PRODUCE_V2, topic, partition, values, true, true)
                .await;
            if got.0 != code(ErrorCode::CONCURRENT_TRANSACTIONS) {
                return got;
            }
            assert!(Instant::now() < deadline, "Produce v12 still {}", got.0);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// EndTxn at `version` with `epoch`, retried while Kafka completes an earlier one:
    /// `(error, producer id, producer epoch)` (the last two are -1 below v5).
    async fn end_at(&mut self, version: i16, epoch: i16, commit: bool) -> (i16, i64, i16) {
        let req = end_request(&self.id, self.pid, epoch, commit);
        let resp = self.retrying(version, &req, |r| vec![r.error_code]).await;
        (resp.error_code, resp.producer_id.0, resp.producer_epoch)
    }

    /// EndTxn v5 at the producer's epoch; on success the producer goes on with the answer's
    /// id and epoch, its sequences starting over.
    async fn end_v2(&mut self, commit: bool) -> (i16, i64, i16) {
        let answer = self.end_at(END_TXN_V2, self.epoch, commit).await;
        if answer.0 == 0 {
            self.pid = answer.1;
            self.epoch = answer.2;
            self.seq.clear();
        }
        answer
    }

    /// TxnOffsetCommit v5 (the group is added by the commit) of one partition's offset.
    async fn commit_offset_v2(
        &mut self,
        group: &str,
        topic: &str,
        partition: i32,
        offset: i64,
    ) -> i16 {
        let req =
            txn_offset_commit_request(&self.id, self.pid, self.epoch, group).with_topics(vec![
                TxnOffsetCommitRequestTopic::default()
                    .with_name(tname(topic))
                    .with_partitions(vec![TxnOffsetCommitRequestPartition::default()
                        .with_partition_index(partition)
                        .with_committed_offset(offset)]),
            ]);
        let resp = self
            .retrying(TXN_COMMIT_V2, &req, |r| {
                vec![r.topics[0].partitions[0].error_code]
            })
            .await;
        resp.topics[0].partitions[0].error_code
    }

    async fn add_offsets(&mut self, group: &str) -> i16 {
        let req = AddOffsetsToTxnRequest::default()
            .with_transactional_id(tid(&self.id))
            .with_producer_id(ProducerId(self.pid))
            .with_producer_epoch(self.epoch)
            .with_group_id(GroupId(s(group)));
        self.retrying(ADD_OFFSETS_V, &req, |r| vec![r.error_code])
            .await
            .error_code
    }

    /// TxnOffsetCommit of one partition's offset; `member` is `(generation, member id)`.
    async fn commit_offset(
        &mut self,
        group: &str,
        topic: &str,
        partition: i32,
        offset: i64,
        member: Option<(i32, &str)>,
    ) -> i16 {
        let (generation, member_id) = member.unwrap_or((-1, ""));
        let req = TxnOffsetCommitRequest::default()
            .with_transactional_id(tid(&self.id))
            .with_group_id(GroupId(s(group)))
            .with_producer_id(ProducerId(self.pid))
            .with_producer_epoch(self.epoch)
            .with_generation_id(generation)
            .with_member_id(s(member_id))
            .with_topics(vec![TxnOffsetCommitRequestTopic::default()
                .with_name(tname(topic))
                .with_partitions(vec![TxnOffsetCommitRequestPartition::default()
                    .with_partition_index(partition)
                    .with_committed_offset(offset)
                    .with_committed_metadata(Some(s("txn")))])]);
        let resp = self
            .retrying(TXN_COMMIT_V, &req, |r| {
                vec![r.topics[0].partitions[0].error_code]
            })
            .await;
        resp.topics[0].partitions[0].error_code
    }
}

/// The partition errors of a v0-3 answer, in partition order (Kafka answers in any order).
fn add_errors(resp: &AddPartitionsToTxnResponse) -> Vec<i16> {
    let mut errors: Vec<(i32, i16)> = resp
        .results_by_topic_v3_and_below
        .iter()
        .flat_map(|t| {
            t.results_by_partition
                .iter()
                .map(|p| (p.partition_index, p.partition_error_code))
        })
        .collect();
    errors.sort();
    errors.into_iter().map(|(_, e)| e).collect()
}

/// A TxnOffsetCommit without a member (generation -1) and without topics yet.
fn txn_offset_commit_request(
    id: &str,
    pid: i64,
    epoch: i16,
    group: &str,
) -> TxnOffsetCommitRequest {
    TxnOffsetCommitRequest::default()
        .with_transactional_id(tid(id))
        .with_group_id(GroupId(s(group)))
        .with_producer_id(ProducerId(pid))
        .with_producer_epoch(epoch)
        .with_generation_id(-1)
}

fn end_request(id: &str, pid: i64, epoch: i16, commit: bool) -> EndTxnRequest {
    EndTxnRequest::default()
        .with_transactional_id(tid(id))
        .with_producer_id(ProducerId(pid))
        .with_producer_epoch(epoch)
        .with_committed(commit)
}

/// A batch of `values` from `(pid, epoch)` at sequence `seq`; plain when `pid` is -1.
fn batch(pid: i64, epoch: i16, seq: i32, transactional: bool, values: &[&str]) -> Bytes {
    let mut b = BatchBuilder::new();
    if pid >= 0 {
        b = b
            .producer(pid, epoch)
            .base_sequence(seq)
            .transactional(transactional);
    }
    for (i, v) in values.iter().enumerate() {
        b.push(RecordInput {
            timestamp: 1_700_000_000_000 + i as i64,
            key: None,
            value: Some(Bytes::from(v.to_string())),
            headers: Vec::new(),
        })
        .expect("push");
    }
    b.build().expect("build")
}

fn produce_request(topic: &str, partition: i32, records: Bytes) -> ProduceRequest {
    ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(5000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(tname(topic))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(partition)
                .with_records(Some(records))])])
}

/// Plain (non-transactional, non-idempotent) records; `(error, base offset)`.
async fn send_plain(
    conn: &mut RawConn,
    topic: &str,
    partition: i32,
    values: &[&str],
) -> (i16, i64) {
    let req = produce_request(topic, partition, batch(-1, -1, -1, false, values));
    let resp = conn.request(PRODUCE_V, &req).await;
    let p = &resp.responses[0].partition_responses[0];
    (p.error_code, p.base_offset)
}

/// One stored batch as a reader sees it.
#[derive(Debug)]
struct Batch {
    last_offset: i64,
    producer_id: i64,
    producer_epoch: i16,
    transactional: bool,
    control: Option<ControlRecordType>,
    values: Vec<String>,
}

/// One partition of a Fetch response.
#[derive(Debug)]
struct Read {
    high_watermark: i64,
    last_stable: i64,
    /// `(producer id, first offset)`; `None` when the broker sent a null list.
    aborted: Option<Vec<(i64, i64)>>,
    batches: Vec<Batch>,
}

impl Read {
    /// What a read_committed consumer delivers: Kafka's consumer algorithm (aborted
    /// transactions become active at their first offset and end at their ABORT marker).
    fn visible(&self) -> Vec<String> {
        let mut pending = self.aborted.clone().unwrap_or_default();
        pending.sort_by_key(|(_, first)| *first);
        let mut pending = pending.into_iter().peekable();
        let mut active: Vec<i64> = Vec::new();
        let mut out = Vec::new();
        for b in &self.batches {
            while let Some((pid, _)) = pending.next_if(|(_, first)| *first <= b.last_offset) {
                active.push(pid);
            }
            if b.control == Some(ControlRecordType::Abort) {
                active.retain(|p| *p != b.producer_id);
            }
            if b.control.is_some() || (b.transactional && active.contains(&b.producer_id)) {
                continue;
            }
            out.extend(b.values.iter().cloned());
        }
        out
    }

    /// Every data record returned, aborted ones included (what read_uncommitted delivers).
    fn all_values(&self) -> Vec<String> {
        self.batches
            .iter()
            .filter(|b| b.control.is_none())
            .flat_map(|b| b.values.iter().cloned())
            .collect()
    }

    /// The markers returned, in offset order.
    fn markers(&self) -> Vec<ControlRecordType> {
        self.batches.iter().filter_map(|b| b.control).collect()
    }

    /// The markers returned with the producer epoch each was written with, in offset order.
    fn marker_epochs(&self) -> Vec<(ControlRecordType, i16)> {
        self.batches
            .iter()
            .filter_map(|b| Some((b.control?, b.producer_epoch)))
            .collect()
    }
}

/// Fetches one partition from `offset` (v12) at an isolation level.
async fn read(
    conn: &mut RawConn,
    topic: &str,
    partition: i32,
    offset: i64,
    committed: bool,
) -> Read {
    let req = FetchRequest::default()
        .with_max_wait_ms(0)
        .with_max_bytes(1 << 20)
        .with_isolation_level(i8::from(committed))
        .with_topics(vec![FetchTopic::default()
            .with_topic(tname(topic))
            .with_partitions(vec![FetchPartition::default()
                .with_partition(partition)
                .with_fetch_offset(offset)
                .with_partition_max_bytes(1 << 20)])]);
    let resp = conn.request(FETCH_V, &req).await;
    let p = &resp.responses[0].partitions[0];
    assert_eq!(p.error_code, 0, "fetch {topic}-{partition} at {offset}");
    let mut batches = Vec::new();
    for b in RecordBatch::iter_blob(p.records.clone().unwrap_or_default()) {
        let b = b.expect("batch");
        let records: Vec<_> = b
            .records()
            .expect("records")
            .map(|r| r.expect("record"))
            .collect();
        let control = if b.is_control() {
            Some(records[0].control_type().expect("control record"))
        } else {
            None
        };
        batches.push(Batch {
            last_offset: b.last_offset(),
            producer_id: b.producer_id(),
            producer_epoch: b.producer_epoch(),
            transactional: b.is_transactional(),
            control,
            values: records
                .iter()
                .filter(|_| control.is_none())
                .map(|r| String::from_utf8(r.value.clone().unwrap_or_default().to_vec()).unwrap())
                .collect(),
        });
    }
    Read {
        high_watermark: p.high_watermark,
        last_stable: p.last_stable_offset,
        aborted: p.aborted_transactions.as_ref().map(|list| {
            list.iter()
                .map(|a| (a.producer_id.0, a.first_offset))
                .collect()
        }),
        batches,
    }
}

/// Reads the whole partition as a consumer does, fetch after fetch from where the last one
/// ended, up to the last stable offset (read_committed) or the high watermark (Kafka may end
/// a response before the end, e.g. before a marker just written).
async fn read_all(conn: &mut RawConn, topic: &str, partition: i32, committed: bool) -> Read {
    let mut all = read(conn, topic, partition, 0, committed).await;
    for _ in 0..100 {
        let next = all.batches.last().map_or(0, |b| b.last_offset + 1);
        let end = if committed {
            all.last_stable
        } else {
            all.high_watermark
        };
        if next >= end {
            return all;
        }
        let more = read(conn, topic, partition, next, committed).await;
        if more.batches.is_empty() {
            return all;
        }
        if let (Some(list), Some(extra)) = (all.aborted.as_mut(), more.aborted) {
            for a in extra {
                if !list.contains(&a) {
                    list.push(a);
                }
            }
        }
        all.batches.extend(more.batches);
        all.high_watermark = more.high_watermark;
        all.last_stable = more.last_stable;
    }
    panic!("{topic}-{partition}: more than 100 fetches to read it");
}

/// Reads (read_committed) until the partition's last stable offset reaches `lso`: Kafka
/// writes markers after answering EndTxn.
async fn read_when_stable(conn: &mut RawConn, topic: &str, partition: i32, lso: i64) -> Read {
    let deadline = Instant::now() + STEP;
    loop {
        let r = read_all(conn, topic, partition, true).await;
        if r.last_stable == lso {
            return r;
        }
        assert!(
            Instant::now() < deadline,
            "{topic}-{partition}: last stable offset stayed at {} (want {lso})",
            r.last_stable
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// ListOffsets v7 for one partition at an isolation level: `(error, offset)`.
async fn list_offset(
    conn: &mut RawConn,
    topic: &str,
    partition: i32,
    timestamp: i64,
    isolation: i8,
) -> (i16, i64) {
    let req = ListOffsetsRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_isolation_level(isolation)
        .with_topics(vec![ListOffsetsTopic::default()
            .with_name(tname(topic))
            .with_partitions(vec![ListOffsetsPartition::default()
                .with_partition_index(partition)
                .with_timestamp(timestamp)])]);
    let resp = conn.request(7, &req).await;
    let p = &resp.topics[0].partitions[0];
    (p.error_code, p.offset)
}

/// OffsetFetch v7 of one partition: `(error, offset)`.
async fn fetch_offset(
    conn: &mut RawConn,
    group: &str,
    topic: &str,
    partition: i32,
    require_stable: bool,
) -> (i16, i64) {
    let req = OffsetFetchRequest::default()
        .with_group_id(GroupId(s(group)))
        .with_require_stable(require_stable)
        .with_topics(Some(vec![OffsetFetchRequestTopic::default()
            .with_name(tname(topic))
            .with_partition_indexes(vec![partition])]));
    let resp = conn.request(7, &req).await;
    assert_eq!(resp.error_code, 0, "OffsetFetch {group}");
    let p = &resp.topics[0].partitions[0];
    (p.error_code, p.committed_offset)
}

/// DescribeTransactions of one id: `(error, state, producer id, epoch, partitions)`.
async fn describe(conn: &mut RawConn, id: &str) -> (i16, String, i64, i16, Vec<(String, i32)>) {
    let req = DescribeTransactionsRequest::default().with_transactional_ids(vec![tid(id)]);
    let resp = conn.request(0, &req).await;
    let t = &resp.transaction_states[0];
    let mut partitions: Vec<(String, i32)> = t
        .topics
        .iter()
        .flat_map(|d| d.partitions.iter().map(|p| (d.topic.0.to_string(), *p)))
        .collect();
    partitions.sort();
    (
        t.error_code,
        t.transaction_state.to_string(),
        t.producer_id.0,
        t.producer_epoch,
        partitions,
    )
}

/// A topic with `partitions` partitions, and a connection for the reader's side.
async fn setup(addr: &str, partitions: i32) -> (RawConn, String) {
    let mut conn = RawConn::connect(addr).await;
    let topic = unique("txn");
    create_topic(&mut conn, &topic, partitions).await;
    (conn, topic)
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

// ---- scenarios ----------------------------------------------------------------------------

on_both!(
    commit_becomes_visible_to_read_committed,
    abort_is_hidden_from_read_committed_only,
    interleaved_transactions_hold_the_lso_at_the_earliest,
    a_new_instance_fences_the_old_one,
    timed_out_transaction_is_aborted_and_its_producer_fenced,
    end_txn_retries_and_bad_transitions,
    transactional_batches_need_their_partition_in_the_transaction,
    init_producer_id_timeouts_and_kip360_bumps,
    add_partitions_checks_partitions_and_producer,
    verify_only_checks_membership,
    txn_offsets_apply_only_on_commit,
    txn_offset_commit_checks_the_member,
    describe_and_list_transactions,
    api_versions_advertise_transaction_version_2,
    tv2_transactions_add_implicitly_and_bump_the_epoch,
    tv2_fenced_producers_get_kafka_codes,
    tv1_requests_keep_the_epoch,
);

async fn commit_becomes_visible_to_read_committed(addr: &str) {
    let (mut c, t) = setup(addr, 1).await;
    let mut p = Producer::init(addr, &unique("tx"), 60_000).await;
    assert_eq!(p.add(&t, &[0]).await, vec![0]);
    assert_eq!(p.send(&t, 0, &["a", "b"]).await, (0, 0));
    assert_eq!(p.send(&t, 0, &["c"]).await, (0, 2));

    // Open: read_uncommitted sees the records, read_committed stops at the first of them.
    let dirty = read(&mut c, &t, 0, 0, false).await;
    assert_eq!(dirty.all_values(), strings(&["a", "b", "c"]));
    assert_eq!((dirty.high_watermark, dirty.last_stable), (3, 0));
    assert_eq!(dirty.aborted, None, "read_uncommitted gets no list");
    let clean = read(&mut c, &t, 0, 0, true).await;
    assert!(clean.batches.is_empty(), "{clean:?}");
    assert_eq!(clean.last_stable, 0);
    assert_eq!(list_offset(&mut c, &t, 0, -1, 1).await, (0, 0));
    assert_eq!(list_offset(&mut c, &t, 0, -1, 0).await, (0, 3));

    assert_eq!(p.end(true).await, 0);
    let clean = read_when_stable(&mut c, &t, 0, 4).await;
    assert_eq!(clean.high_watermark, 4, "the COMMIT marker takes offset 3");
    assert_eq!(clean.visible(), strings(&["a", "b", "c"]));
    assert_eq!(clean.markers(), vec![ControlRecordType::Commit]);
    assert_eq!(clean.aborted, Some(vec![]));
    assert_eq!(list_offset(&mut c, &t, 0, -1, 1).await, (0, 4));
}

async fn abort_is_hidden_from_read_committed_only(addr: &str) {
    let (mut c, t) = setup(addr, 1).await;
    assert_eq!(send_plain(&mut c, &t, 0, &["p0", "p1"]).await, (0, 0));
    let mut p = Producer::init(addr, &unique("tx"), 60_000).await;
    assert_eq!(p.add(&t, &[0]).await, vec![0]);
    assert_eq!(p.send(&t, 0, &["x", "y"]).await, (0, 2));
    assert_eq!(p.send(&t, 0, &["z"]).await, (0, 4));
    assert_eq!(p.end(false).await, 0);
    let clean = read_when_stable(&mut c, &t, 0, 6).await;
    assert_eq!(send_plain(&mut c, &t, 0, &["p2"]).await, (0, 6));

    let clean_all = read_all(&mut c, &t, 0, true).await;
    assert_eq!(clean.markers(), vec![ControlRecordType::Abort]);
    // The aborted records are returned, with the list that tells readers to drop them.
    assert_eq!(clean_all.aborted, Some(vec![(p.pid, 2)]));
    assert_eq!(clean_all.visible(), strings(&["p0", "p1", "p2"]));
    assert_eq!(
        clean_all.all_values(),
        strings(&["p0", "p1", "x", "y", "z", "p2"])
    );
    // Reading from inside the aborted range still gets the entry, and from the marker too.
    assert_eq!(
        read(&mut c, &t, 0, 4, true).await.aborted,
        Some(vec![(p.pid, 2)])
    );
    assert_eq!(
        read(&mut c, &t, 0, 5, true).await.aborted,
        Some(vec![(p.pid, 2)])
    );
    // After the marker, nothing of it is left to skip.
    let after = read(&mut c, &t, 0, 6, true).await;
    assert_eq!(
        (after.aborted.clone(), after.visible()),
        (Some(vec![]), strings(&["p2"]))
    );
    // read_uncommitted delivers everything and no list.
    let dirty = read_all(&mut c, &t, 0, false).await;
    assert_eq!(dirty.aborted, None);
    assert_eq!(
        dirty.all_values(),
        strings(&["p0", "p1", "x", "y", "z", "p2"])
    );
    assert_eq!(list_offset(&mut c, &t, 0, -1, 1).await, (0, 7));
}

async fn interleaved_transactions_hold_the_lso_at_the_earliest(addr: &str) {
    let (mut c, t) = setup(addr, 1).await;
    let mut a = Producer::init(addr, &unique("tx-a"), 60_000).await;
    let mut b = Producer::init(addr, &unique("tx-b"), 60_000).await;
    assert_eq!(a.add(&t, &[0]).await, vec![0]);
    assert_eq!(b.add(&t, &[0]).await, vec![0]);
    assert_eq!(a.send(&t, 0, &["a1", "a2"]).await, (0, 0));
    assert_eq!(b.send(&t, 0, &["b1", "b2"]).await, (0, 2));
    assert_eq!(a.send(&t, 0, &["a3"]).await, (0, 4));
    assert_eq!(read(&mut c, &t, 0, 0, true).await.last_stable, 0);

    // B commits first: its marker lands, but A still holds the LSO at its first offset.
    assert_eq!(b.end(true).await, 0);
    let r = eventually("B's COMMIT marker", || async {
        let r = read(&mut RawConn::connect(addr).await, &t, 0, 0, false).await;
        (r.high_watermark == 6).then_some(r)
    })
    .await;
    assert_eq!(r.last_stable, 0);
    assert_eq!(list_offset(&mut c, &t, 0, -1, 1).await, (0, 0));
    assert!(read(&mut c, &t, 0, 0, true).await.batches.is_empty());

    // A aborts: everything is stable; only B's records are visible.
    assert_eq!(a.end(false).await, 0);
    let r = read_when_stable(&mut c, &t, 0, 7).await;
    assert_eq!(r.aborted, Some(vec![(a.pid, 0)]));
    assert_eq!(r.visible(), strings(&["b1", "b2"]));
    assert_eq!(
        r.markers(),
        vec![ControlRecordType::Commit, ControlRecordType::Abort]
    );
}

async fn a_new_instance_fences_the_old_one(addr: &str) {
    let (mut c, t) = setup(addr, 1).await;
    let id = unique("tx");
    let mut old = Producer::init(addr, &id, 60_000).await;
    assert_eq!(old.add(&t, &[0]).await, vec![0]);
    assert_eq!(old.send(&t, 0, &["zombie"]).await, (0, 0));

    // The new instance's first try aborts the open transaction and is told to retry.
    let mut conn = RawConn::connect(addr).await;
    let first = conn.request(INIT_V, &init_request(&id, 60_000, None)).await;
    assert_eq!(first.error_code, code(ErrorCode::CONCURRENT_TRANSACTIONS));
    let new = init_retrying(&mut conn, INIT_V, &init_request(&id, 60_000, None)).await;
    assert_eq!(new.error_code, 0);
    assert_eq!(new.producer_id.0, old.pid);
    assert_eq!(
        new.producer_epoch,
        old.epoch + 2,
        "fenced once, then bumped for the new one"
    );

    // The aborted transaction is over: stable, and its record dropped by readers.
    let r = read_when_stable(&mut c, &t, 0, 2).await;
    assert_eq!(r.markers(), vec![ControlRecordType::Abort]);
    assert!(r.visible().is_empty());

    // The zombie gets fenced everywhere.
    assert_eq!(
        old.send(&t, 0, &["late"]).await.0,
        code(ErrorCode::INVALID_PRODUCER_EPOCH)
    );
    assert_eq!(
        old.end_once(END_TXN_V, true).await,
        code(ErrorCode::PRODUCER_FENCED)
    );
    assert_eq!(
        old.end_once(1, true).await,
        code(ErrorCode::INVALID_PRODUCER_EPOCH)
    );
    assert_eq!(
        old.add(&t, &[0]).await,
        vec![code(ErrorCode::PRODUCER_FENCED)]
    );
    // Its KIP-360 bump is refused too.
    let bump = init_request(&id, 60_000, Some((old.pid, old.epoch)));
    assert_eq!(
        init_retrying(&mut old.conn, INIT_V, &bump).await.error_code,
        code(ErrorCode::PRODUCER_FENCED)
    );

    // The new instance works, starting its sequences over.
    let mut fresh = Producer {
        conn,
        id,
        pid: new.producer_id.0,
        epoch: new.producer_epoch,
        seq: HashMap::new(),
    };
    assert_eq!(fresh.add(&t, &[0]).await, vec![0]);
    assert_eq!(fresh.send(&t, 0, &["ok"]).await, (0, 2));
    assert_eq!(fresh.end(true).await, 0);
    let r = read_when_stable(&mut c, &t, 0, 4).await;
    assert_eq!(r.visible(), strings(&["ok"]));
}

async fn timed_out_transaction_is_aborted_and_its_producer_fenced(addr: &str) {
    let (mut c, t) = setup(addr, 1).await;
    let id = unique("tx");
    let mut p = Producer::init(addr, &id, 1_000).await;
    assert_eq!(p.add(&t, &[0]).await, vec![0]);
    assert_eq!(p.send(&t, 0, &["slow"]).await, (0, 0));
    // The broker aborts it once it is older than its 1 s timeout, with a bumped epoch.
    let fenced = eventually("the timed-out transaction to be aborted", || async {
        let d = describe(&mut RawConn::connect(addr).await, &id).await;
        (d.1 == "CompleteAbort").then_some(d)
    })
    .await;
    assert_eq!((fenced.2, fenced.3), (p.pid, p.epoch + 1));
    let r = read_when_stable(&mut c, &t, 0, 2).await;
    assert_eq!(r.markers(), vec![ControlRecordType::Abort]);
    assert!(r.visible().is_empty());
    assert_eq!(r.aborted, Some(vec![(p.pid, 0)]));
    // The producer finds out it was fenced.
    assert_eq!(
        p.end_once(END_TXN_V, true).await,
        code(ErrorCode::PRODUCER_FENCED)
    );
    assert_eq!(
        p.send(&t, 0, &["later"]).await.0,
        code(ErrorCode::INVALID_PRODUCER_EPOCH)
    );
}

async fn end_txn_retries_and_bad_transitions(addr: &str) {
    let (_c, t) = setup(addr, 1).await;
    let mut p = Producer::init(addr, &unique("tx"), 60_000).await;
    // Nothing to end yet.
    assert_eq!(p.end(true).await, code(ErrorCode::INVALID_TXN_STATE));
    assert_eq!(p.end(false).await, code(ErrorCode::INVALID_TXN_STATE));

    assert_eq!(p.add(&t, &[0]).await, vec![0]);
    assert_eq!(p.send(&t, 0, &["a"]).await, (0, 0));
    assert_eq!(p.end(true).await, 0);
    // A retry of the same outcome succeeds (once Kafka has completed it); the other is refused.
    assert_eq!(p.end(true).await, 0);
    assert_eq!(p.end(false).await, code(ErrorCode::INVALID_TXN_STATE));

    assert_eq!(p.add(&t, &[0]).await, vec![0]);
    assert_eq!(p.send(&t, 0, &["b"]).await, (0, 2));
    assert_eq!(p.end(false).await, 0);
    assert_eq!(p.end(false).await, 0);
    assert_eq!(p.end(true).await, code(ErrorCode::INVALID_TXN_STATE));

    // Wrong producer id, unknown transactional id.
    let mut conn = RawConn::connect(addr).await;
    let wrong_pid = end_request(&p.id, p.pid + 1_000_000, p.epoch, true);
    assert_eq!(
        conn.request(END_TXN_V, &wrong_pid).await.error_code,
        code(ErrorCode::INVALID_PRODUCER_ID_MAPPING)
    );
    let unknown = end_request(&unique("never"), p.pid, p.epoch, true);
    assert_eq!(
        conn.request(END_TXN_V, &unknown).await.error_code,
        code(ErrorCode::INVALID_PRODUCER_ID_MAPPING)
    );
}

async fn transactional_batches_need_their_partition_in_the_transaction(addr: &str) {
    let (mut c, t) = setup(addr, 2).await;
    let mut p = Producer::init(addr, &unique("tx"), 60_000).await;
    // No transaction yet: nothing is added.
    assert_eq!(
        p.send(&t, 0, &["early"]).await.0,
        code(ErrorCode::INVALID_TXN_STATE)
    );
    assert_eq!(p.add(&t, &[0]).await, vec![0]);
    // Partition 1 was not added: INVALID_TXN_STATE, TRANSACTION_ABORTABLE for v11 clients.
    assert_eq!(
        p.send_with(PRODUCE_V, &t, 1, &["stray"], true, true)
            .await
            .0,
        code(ErrorCode::INVALID_TXN_STATE)
    );
    assert_eq!(
        p.send_with(11, &t, 1, &["stray"], true, true).await.0,
        code(ErrorCode::TRANSACTION_ABORTABLE)
    );
    // A transactional batch in a request without the transactional id.
    assert_eq!(
        p.send_with(PRODUCE_V, &t, 0, &["anonymous"], true, false)
            .await
            .0,
        code(ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED)
    );
    // Another epoch than the transaction's.
    p.epoch += 1;
    assert_eq!(
        p.send(&t, 0, &["future"]).await.0,
        code(ErrorCode::INVALID_PRODUCER_EPOCH)
    );
    p.epoch -= 1;
    assert_eq!(p.send(&t, 0, &["in"]).await, (0, 0));
    // While its transaction is open here, the producer may not write outside it.
    assert_eq!(
        p.send_with(PRODUCE_V, &t, 0, &["plain"], false, true)
            .await
            .0,
        code(ErrorCode::INVALID_TXN_STATE)
    );
    assert_eq!(p.end(true).await, 0);
    let r = read_when_stable(&mut c, &t, 0, 2).await;
    assert_eq!(r.visible(), strings(&["in"]));
    assert!(read(&mut c, &t, 1, 0, false).await.batches.is_empty());
}

async fn init_producer_id_timeouts_and_kip360_bumps(addr: &str) {
    let mut conn = RawConn::connect(addr).await;
    let id = unique("tx");
    find_coordinator(&mut conn, &id, 1).await;
    for bad in [900_001, 0, -5] {
        let resp = init_retrying(&mut conn, INIT_V, &init_request(&id, bad, None)).await;
        assert_eq!(
            resp.error_code,
            code(ErrorCode::INVALID_TRANSACTION_TIMEOUT),
            "timeout {bad}"
        );
    }
    let empty = init_retrying(&mut conn, INIT_V, &init_request("", 60_000, None)).await;
    assert_eq!(empty.error_code, code(ErrorCode::INVALID_REQUEST));
    let first = init_retrying(&mut conn, INIT_V, &init_request(&id, 900_000, None)).await;
    assert_eq!((first.error_code, first.producer_epoch), (0, 0));
    let pid = first.producer_id.0;
    // Only one of id and epoch given.
    let half = init_request(&id, 60_000, None).with_producer_id(ProducerId(pid));
    assert_eq!(
        init_retrying(&mut conn, INIT_V, &half).await.error_code,
        code(ErrorCode::INVALID_REQUEST)
    );
    // KIP-360: the current producer bumps its own epoch; a retry of that bump gets the same.
    let bump = init_request(&id, 60_000, Some((pid, 0)));
    let bumped = init_retrying(&mut conn, INIT_V, &bump).await;
    assert_eq!(
        (
            bumped.error_code,
            bumped.producer_id.0,
            bumped.producer_epoch
        ),
        (0, pid, 1)
    );
    let again = init_retrying(&mut conn, INIT_V, &bump).await;
    assert_eq!((again.error_code, again.producer_epoch), (0, 1));
    // A plain re-init fences: the old epoch can no longer bump.
    let fence = init_retrying(&mut conn, INIT_V, &init_request(&id, 60_000, None)).await;
    assert_eq!((fence.error_code, fence.producer_epoch), (0, 2));
    let stale = init_request(&id, 60_000, Some((pid, 1)));
    assert_eq!(
        init_retrying(&mut conn, INIT_V, &stale).await.error_code,
        code(ErrorCode::PRODUCER_FENCED)
    );
    assert_eq!(
        init_retrying(&mut conn, 3, &stale).await.error_code,
        code(ErrorCode::INVALID_PRODUCER_EPOCH),
        "versions before 4 get the old code"
    );
}

async fn add_partitions_checks_partitions_and_producer(addr: &str) {
    let (_c, t) = setup(addr, 1).await;
    let mut p = Producer::init(addr, &unique("tx"), 60_000).await;
    let missing = unique("missing");
    // One unknown partition: it is named, the others are not attempted, nothing is added.
    assert_eq!(
        p.add(&t, &[0, 5]).await,
        vec![
            code(ErrorCode::OPERATION_NOT_ATTEMPTED),
            code(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION)
        ]
    );
    assert_eq!(
        p.add(&missing, &[0]).await,
        vec![code(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION)]
    );
    let d = describe(&mut p.conn, &p.id.clone()).await;
    assert_eq!((d.1.as_str(), d.4.len()), ("Empty", 0));
    // The wrong producer id, then the wrong epoch (PRODUCER_FENCED; v1 clients get the old code).
    p.pid += 1_000_000;
    assert_eq!(
        p.add(&t, &[0]).await,
        vec![code(ErrorCode::INVALID_PRODUCER_ID_MAPPING)]
    );
    p.pid -= 1_000_000;
    p.epoch += 1;
    assert_eq!(
        p.add(&t, &[0]).await,
        vec![code(ErrorCode::PRODUCER_FENCED)]
    );
    let v1 = AddPartitionsToTxnRequest::default()
        .with_v3_and_below_transactional_id(tid(&p.id))
        .with_v3_and_below_producer_id(ProducerId(p.pid))
        .with_v3_and_below_producer_epoch(p.epoch)
        .with_v3_and_below_topics(vec![AddPartitionsToTxnTopic::default()
            .with_name(tname(&t))
            .with_partitions(vec![0])]);
    let resp = p.conn.request(1, &v1).await;
    assert_eq!(
        add_errors(&resp),
        vec![code(ErrorCode::INVALID_PRODUCER_EPOCH)]
    );
    p.epoch -= 1;
    assert_eq!(p.add(&t, &[0]).await, vec![0]);
    let d = describe(&mut p.conn, &p.id.clone()).await;
    assert_eq!((d.1.as_str(), d.4), ("Ongoing", vec![(t.clone(), 0)]));
}

async fn verify_only_checks_membership(addr: &str) {
    // What a Kafka partition leader asks its transaction coordinator (v4+, batched).
    let (_c, t) = setup(addr, 2).await;
    let mut p = Producer::init(addr, &unique("tx"), 60_000).await;
    assert_eq!(p.add(&t, &[0]).await, vec![0]);
    let transaction = |pid: i64, epoch: i16| {
        AddPartitionsToTxnTransaction::default()
            .with_transactional_id(tid(&p.id))
            .with_producer_id(ProducerId(pid))
            .with_producer_epoch(epoch)
            .with_verify_only(true)
            .with_topics(vec![AddPartitionsToTxnTopic::default()
                .with_name(tname(&t))
                .with_partitions(vec![0, 1])])
    };
    let req = AddPartitionsToTxnRequest::default().with_transactions(vec![
        transaction(p.pid, p.epoch),
        transaction(p.pid, p.epoch + 1).with_transactional_id(tid(&unique("other"))),
    ]);
    let resp = p.conn.request(4, &req).await;
    assert_eq!(resp.error_code, 0);
    let mut results: Vec<(String, Vec<(i32, i16)>)> = resp
        .results_by_transaction
        .iter()
        .map(|r| {
            let mut parts: Vec<(i32, i16)> = r
                .topic_results
                .iter()
                .flat_map(|t| {
                    t.results_by_partition
                        .iter()
                        .map(|p| (p.partition_index, p.partition_error_code))
                })
                .collect();
            parts.sort();
            (r.transactional_id.0.to_string(), parts)
        })
        .collect();
    results.sort_by_key(|(id, _)| *id != p.id);
    assert_eq!(
        results[0].1,
        vec![(0, 0), (1, code(ErrorCode::TRANSACTION_ABORTABLE))],
        "partition 0 is in the transaction, 1 is not"
    );
    let unknown = code(ErrorCode::INVALID_PRODUCER_ID_MAPPING);
    assert_eq!(results[1].1, vec![(0, unknown), (1, unknown)]);
    // Verification adds nothing.
    let d = describe(&mut p.conn, &p.id.clone()).await;
    assert_eq!(d.4, vec![(t.clone(), 0)]);
}

async fn txn_offsets_apply_only_on_commit(addr: &str) {
    let (mut c, t) = setup(addr, 1).await;
    let group = unique("txn-group");
    find_coordinator(&mut c, &group, 0).await;
    let mut p = Producer::init(addr, &unique("tx"), 60_000).await;
    // Offsets of a group the transaction did not add are refused.
    assert_eq!(p.add(&t, &[0]).await, vec![0]);
    assert_eq!(
        p.commit_offset(&group, &t, 0, 1, None).await,
        code(ErrorCode::INVALID_TXN_STATE)
    );
    assert_eq!(p.add_offsets(&group).await, 0);
    assert_eq!(p.commit_offset(&group, &t, 0, 5, None).await, 0);
    assert_eq!(p.send(&t, 0, &["out"]).await, (0, 0));
    // Pending: not committed yet, and unstable for readers that ask.
    assert_eq!(fetch_offset(&mut c, &group, &t, 0, false).await, (0, -1));
    assert_eq!(
        fetch_offset(&mut c, &group, &t, 0, true).await,
        (code(ErrorCode::UNSTABLE_OFFSET_COMMIT), -1)
    );
    assert_eq!(p.end(true).await, 0);
    eventually("the committed offset", || async {
        let got = fetch_offset(&mut RawConn::connect(addr).await, &group, &t, 0, true).await;
        (got == (0, 5)).then_some(())
    })
    .await;

    // An aborted transaction's offsets are dropped.
    assert_eq!(p.add_offsets(&group).await, 0);
    assert_eq!(p.commit_offset(&group, &t, 0, 9, None).await, 0);
    assert_eq!(
        fetch_offset(&mut c, &group, &t, 0, true).await,
        (code(ErrorCode::UNSTABLE_OFFSET_COMMIT), -1)
    );
    assert_eq!(fetch_offset(&mut c, &group, &t, 0, false).await, (0, 5));
    assert_eq!(p.end(false).await, 0);
    eventually("the abort to settle", || async {
        let got = fetch_offset(&mut RawConn::connect(addr).await, &group, &t, 0, true).await;
        (got == (0, 5)).then_some(())
    })
    .await;
    // A fenced epoch can neither add the group nor stage offsets.
    assert_eq!(p.add_offsets(&group).await, 0);
    p.epoch += 1;
    assert_eq!(
        p.commit_offset(&group, &t, 0, 11, None).await,
        code(ErrorCode::INVALID_PRODUCER_EPOCH)
    );
    assert_eq!(
        p.add_offsets(&group).await,
        code(ErrorCode::PRODUCER_FENCED)
    );
    let old = AddOffsetsToTxnRequest::default()
        .with_transactional_id(tid(&p.id))
        .with_producer_id(ProducerId(p.pid))
        .with_producer_epoch(p.epoch)
        .with_group_id(GroupId(s(&group)));
    assert_eq!(
        p.conn.request(1, &old).await.error_code,
        code(ErrorCode::INVALID_PRODUCER_EPOCH),
        "v1 clients get the old code"
    );
    p.epoch -= 1;
    assert_eq!(p.end(false).await, 0);
    // v4 clients learn of a group not in the transaction as TRANSACTION_ABORTABLE.
    assert_eq!(p.add(&t, &[0]).await, vec![0]);
    let v4 = TxnOffsetCommitRequest::default()
        .with_transactional_id(tid(&p.id))
        .with_group_id(GroupId(s(&group)))
        .with_producer_id(ProducerId(p.pid))
        .with_producer_epoch(p.epoch)
        .with_generation_id(-1)
        .with_topics(vec![TxnOffsetCommitRequestTopic::default()
            .with_name(tname(&t))
            .with_partitions(vec![TxnOffsetCommitRequestPartition::default()
                .with_partition_index(0)
                .with_committed_offset(12)])]);
    let resp = p.conn.request(4, &v4).await;
    assert_eq!(
        resp.topics[0].partitions[0].error_code,
        code(ErrorCode::TRANSACTION_ABORTABLE)
    );
}

async fn txn_offset_commit_checks_the_member(addr: &str) {
    let (mut c, t) = setup(addr, 1).await;
    let group = unique("txn-member");
    find_coordinator(&mut c, &group, 0).await;
    // KIP-447: a group that does not exist and a generation: ILLEGAL_GENERATION.
    let mut p = Producer::init(addr, &unique("tx"), 60_000).await;
    assert_eq!(p.add_offsets(&group).await, 0);
    assert_eq!(
        p.commit_offset(&group, &t, 0, 1, Some((3, "nobody"))).await,
        code(ErrorCode::ILLEGAL_GENERATION)
    );
    // A live member of the group.
    let mut member = Member::connect(Broker::Kafka(addr), JoinSpec::new(&group)).await;
    let joined = member.join().await;
    assert_eq!(joined.error_code, 0);
    let synced = member.sync(&[(&member.id.clone(), "")]).await;
    assert_eq!(synced.error_code, 0);
    let (generation, id) = (member.generation, member.id.clone());
    assert_eq!(
        p.commit_offset(&group, &t, 0, 1, Some((generation, "stranger")))
            .await,
        code(ErrorCode::UNKNOWN_MEMBER_ID)
    );
    assert_eq!(
        p.commit_offset(&group, &t, 0, 1, Some((generation + 1, &id)))
            .await,
        code(ErrorCode::ILLEGAL_GENERATION)
    );
    assert_eq!(
        p.commit_offset(&group, &t, 0, 7, Some((generation, &id)))
            .await,
        0
    );
    // Without member id and generation (producers before KIP-447): accepted with members.
    assert_eq!(p.commit_offset(&group, &t, 0, 8, None).await, 0);
    assert_eq!(p.end(true).await, 0);
    eventually("the member's committed offset", || async {
        let got = fetch_offset(&mut RawConn::connect(addr).await, &group, &t, 0, true).await;
        (got == (0, 8)).then_some(())
    })
    .await;
    member.leave().await;
}

async fn describe_and_list_transactions(addr: &str) {
    let (mut c, t) = setup(addr, 2).await;
    let id = unique("tx");
    let mut p = Producer::init(addr, &id, 45_000).await;
    let pid = p.pid;
    let listing = |state: &str| {
        ListTransactionsRequest::default()
            .with_state_filters(vec![s(state), s("NoSuchState")])
            .with_producer_id_filters(vec![ProducerId(pid)])
    };

    let raw = c
        .request(
            0,
            &DescribeTransactionsRequest::default().with_transactional_ids(vec![tid(&id)]),
        )
        .await;
    let d = &raw.transaction_states[0];
    assert_eq!(
        (
            d.error_code,
            d.transaction_state.as_str(),
            d.transaction_timeout_ms,
            d.transaction_start_time_ms,
            d.producer_epoch
        ),
        (0, "Empty", 45_000, -1, 0)
    );
    assert_eq!(p.add(&t, &[1, 0]).await, vec![0, 0]);
    let d = describe(&mut c, &id).await;
    assert_eq!(
        (d.0, d.1.as_str(), d.2, d.4),
        (0, "Ongoing", p.pid, vec![(t.clone(), 0), (t.clone(), 1)])
    );
    let resp = c.request(1, &listing("Ongoing")).await;
    assert_eq!(resp.error_code, 0);
    assert_eq!(
        resp.unknown_state_filters
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>(),
        vec!["NoSuchState".to_owned()]
    );
    let listed: Vec<(String, i64, String)> = resp
        .transaction_states
        .iter()
        .map(|s| {
            (
                s.transactional_id.0.to_string(),
                s.producer_id.0,
                s.transaction_state.to_string(),
            )
        })
        .collect();
    assert_eq!(listed, vec![(id.clone(), p.pid, "Ongoing".to_owned())]);
    // Other filters exclude it: another state, an hour-long duration (v1).
    assert!(c
        .request(1, &listing("CompleteCommit"))
        .await
        .transaction_states
        .is_empty());
    let long = ListTransactionsRequest::default()
        .with_producer_id_filters(vec![ProducerId(p.pid)])
        .with_duration_filter(3_600_000);
    assert!(c.request(1, &long).await.transaction_states.is_empty());

    assert_eq!(p.end(true).await, 0);
    let done = eventually("CompleteCommit", || async {
        let d = describe(&mut RawConn::connect(addr).await, &id).await;
        (d.1 == "CompleteCommit").then_some(d)
    })
    .await;
    assert!(
        done.4.is_empty(),
        "a completed transaction holds no partitions"
    );
    let resp = c.request(1, &listing("CompleteCommit")).await;
    assert_eq!(resp.transaction_states.len(), 1);
    // Unknown ids.
    let unknown = describe(&mut c, &unique("never")).await;
    assert_eq!(unknown.0, code(ErrorCode::TRANSACTIONAL_ID_NOT_FOUND));
}

// ---- transaction version 2 (KIP-890) ------------------------------------------------------

/// Features as `(name, min, max)`, sorted by name.
type Levels = Vec<(String, i16, i16)>;

fn sorted(features: impl Iterator<Item = (String, i16, i16)>) -> Levels {
    let mut all: Levels = features.collect();
    all.sort();
    all
}

/// The supported features of an ApiVersions answer as `(name, min, max)`, and the finalized
/// ones as `(name, min level, max level)`.
fn features(resp: &ApiVersionsResponse) -> (Levels, Levels) {
    let supported = resp
        .supported_features
        .iter()
        .map(|f| (f.name.to_string(), f.min_version, f.max_version));
    let finalized = resp
        .finalized_features
        .iter()
        .map(|f| (f.name.to_string(), f.min_version_level, f.max_version_level));
    (sorted(supported), sorted(finalized))
}

async fn api_versions(conn: &mut RawConn, version: i16) -> ApiVersionsResponse {
    // Kafka answers v3+ requests without a well-formed client name INVALID_REQUEST.
    let req = ApiVersionsRequest::default()
        .with_client_software_name(s("ferrokafka-tests"))
        .with_client_software_version(s("1.0"));
    let resp = conn.request(version, &req).await;
    assert_eq!(resp.error_code, 0, "ApiVersions v{version}");
    resp
}

fn api_range(resp: &ApiVersionsResponse, key: i16) -> Option<(i16, i16)> {
    resp.api_keys
        .iter()
        .find(|k| k.api_key == key)
        .map(|k| (k.min_version, k.max_version))
}

async fn api_versions_advertise_transaction_version_2(addr: &str) {
    let mut c = RawConn::connect(addr).await;
    let tv2 = ("transaction.version".to_owned(), 2, 2);
    let v4 = api_versions(&mut c, 4).await;
    let (supported, finalized) = features(&v4);
    assert!(
        supported.contains(&("transaction.version".to_owned(), 0, 2)),
        "{supported:?}"
    );
    assert!(
        supported.contains(&("metadata.version".to_owned(), 7, 27)),
        "{supported:?}"
    );
    assert!(finalized.contains(&tv2), "{finalized:?}");
    assert!(
        finalized.iter().any(|f| f.0 == "metadata.version"),
        "{finalized:?}"
    );
    assert!(
        finalized.iter().all(|f| f.1 > 0 && f.1 == f.2),
        "finalized features at level 0 are left out: {finalized:?}"
    );
    assert!(
        v4.finalized_features_epoch >= 0,
        "-1 makes the Java client ignore the features"
    );
    // The request versions that speak transaction version 2 are served.
    assert_eq!(api_range(&v4, 26).map(|r| r.1), Some(5), "EndTxn");
    assert_eq!(api_range(&v4, 28).map(|r| r.1), Some(5), "TxnOffsetCommit");
    assert!(api_range(&v4, 0).is_some_and(|r| r.1 >= 12), "Produce");

    // v3 leaves out supported features with minimum 0 (KAFKA-17492), not finalized ones.
    let v3 = api_versions(&mut c, 3).await;
    let (supported, finalized) = features(&v3);
    let names: Vec<&str> = supported.iter().map(|f| f.0.as_str()).collect();
    assert_eq!(names, vec!["metadata.version"]);
    assert!(finalized.contains(&tv2), "{finalized:?}");
}

/// The mini-broker finalizes only what it honours: no `group.version` (KIP-848 groups are not
/// served), nothing at level 0.
#[tokio::test]
async fn the_mini_broker_finalizes_only_what_it_serves() {
    let broker = ferrokafka_mini_broker::MiniBroker::start()
        .await
        .expect("start");
    let mut c = RawConn::connect(&broker.bootstrap()).await;
    let (supported, finalized) = features(&api_versions(&mut c, 4).await);
    assert_eq!(
        supported,
        vec![
            ("metadata.version".to_owned(), 7, 27),
            ("transaction.version".to_owned(), 0, 2)
        ]
    );
    assert_eq!(
        finalized,
        vec![
            ("metadata.version".to_owned(), 27, 27),
            ("transaction.version".to_owned(), 2, 2)
        ]
    );
    // v0-2 carry no features.
    let v2 = c.request(2, &ApiVersionsRequest::default()).await;
    assert!(v2.supported_features.is_empty() && v2.finalized_features.is_empty());
    broker.shutdown().await;
}

async fn tv2_transactions_add_implicitly_and_bump_the_epoch(addr: &str) {
    let (mut c, t) = setup(addr, 2).await;
    let group = unique("tv2-group");
    find_coordinator(&mut c, &group, 0).await;
    let mut p = Producer::init(addr, &unique("tx"), 60_000).await;
    let (pid, e) = (p.pid, p.epoch);

    // No AddPartitionsToTxn: Produce v12 adds the partition and begins the transaction.
    assert_eq!(p.send_v2(&t, 0, &["a", "b"]).await, (0, 0));
    let d = describe(&mut c, &p.id).await;
    assert_eq!((d.0, d.1.as_str(), d.2, d.3), (0, "Ongoing", pid, e));
    assert_eq!(d.4, vec![(t.clone(), 0)]);
    // No AddOffsetsToTxn: TxnOffsetCommit v5 adds the group.
    assert_eq!(p.commit_offset_v2(&group, &t, 0, 2).await, 0);
    assert_eq!(
        fetch_offset(&mut c, &group, &t, 0, true).await,
        (code(ErrorCode::UNSTABLE_OFFSET_COMMIT), -1)
    );

    // EndTxn v5 bumps the epoch and answers it; the COMMIT marker carries the new epoch.
    assert_eq!(p.end_v2(true).await, (0, pid, e + 1));
    let r = read_when_stable(&mut c, &t, 0, 3).await;
    assert_eq!(r.visible(), strings(&["a", "b"]));
    assert_eq!(r.marker_epochs(), vec![(ControlRecordType::Commit, e + 1)]);
    eventually("the committed offset", || async {
        let got = fetch_offset(&mut RawConn::connect(addr).await, &group, &t, 0, true).await;
        (got == (0, 2)).then_some(())
    })
    .await;

    // The next transaction runs at e + 1: a partition's first batch starts at sequence 0.
    p.seq.insert((t.clone(), 0), 7);
    assert_eq!(
        p.send_v2(&t, 0, &["x"]).await.0,
        code(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER)
    );
    p.seq.clear();
    assert_eq!(p.send_v2(&t, 0, &["x"]).await, (0, 3));
    assert_eq!(p.send_v2(&t, 1, &["y"]).await, (0, 0));
    assert_eq!(p.send_v2(&t, 0, &["z"]).await, (0, 4));
    // An abort bumps the epoch too; readers drop its records with the bumped markers.
    assert_eq!(p.end_v2(false).await, (0, pid, e + 2));
    let r = read_when_stable(&mut c, &t, 0, 6).await;
    assert_eq!(r.visible(), strings(&["a", "b"]));
    assert_eq!(r.all_values(), strings(&["a", "b", "x", "z"]));
    assert_eq!(r.aborted, Some(vec![(pid, 3)]));
    assert_eq!(
        r.marker_epochs(),
        vec![
            (ControlRecordType::Commit, e + 1),
            (ControlRecordType::Abort, e + 2)
        ]
    );
    let r = read_when_stable(&mut c, &t, 1, 2).await;
    assert!(r.visible().is_empty(), "{r:?}");
    assert_eq!(r.aborted, Some(vec![(pid, 0)]));
    assert_eq!(r.marker_epochs(), vec![(ControlRecordType::Abort, e + 2)]);

    // A retry of that EndTxn (at e + 1) gets the same answer; the other outcome is refused;
    // an older epoch is fenced.
    assert_eq!(p.end_at(END_TXN_V2, e + 1, false).await, (0, pid, e + 2));
    assert_eq!(
        p.end_at(END_TXN_V2, e + 1, true).await.0,
        code(ErrorCode::INVALID_TXN_STATE)
    );
    assert_eq!(
        p.end_at(END_TXN_V2, e, false).await.0,
        code(ErrorCode::PRODUCER_FENCED)
    );
    // An abort with nothing in the transaction still moves the epoch; a commit of nothing
    // is refused.
    assert_eq!(p.end_v2(false).await, (0, pid, e + 3));
    assert_eq!(p.end_v2(true).await.0, code(ErrorCode::INVALID_TXN_STATE));
    let d = eventually("CompleteAbort", || async {
        let d = describe(&mut RawConn::connect(addr).await, &p.id).await;
        (d.1 == "CompleteAbort").then_some(d)
    })
    .await;
    assert_eq!(d.3, e + 3);
}

async fn tv2_fenced_producers_get_kafka_codes(addr: &str) {
    let (mut c, t) = setup(addr, 1).await;
    let group = unique("tv2-fence");
    find_coordinator(&mut c, &group, 0).await;
    let id = unique("tx");
    let mut old = Producer::init(addr, &id, 60_000).await;
    let (pid, e) = (old.pid, old.epoch);
    assert_eq!(old.send_v2(&t, 0, &["zombie"]).await, (0, 0));

    // A new instance fences the old one: its open transaction is aborted at e + 1.
    let mut conn = RawConn::connect(addr).await;
    let new = init_retrying(&mut conn, INIT_V, &init_request(&id, 60_000, None)).await;
    assert_eq!(
        (new.error_code, new.producer_id.0, new.producer_epoch),
        (0, pid, e + 2)
    );
    let r = read_when_stable(&mut c, &t, 0, 2).await;
    assert_eq!(r.marker_epochs(), vec![(ControlRecordType::Abort, e + 1)]);
    assert!(r.visible().is_empty());

    // What the Java client turns into InvalidProducerEpochException (Produce, offsets) and
    // ProducerFencedException (EndTxn).
    assert_eq!(
        old.send_v2(&t, 0, &["late"]).await.0,
        code(ErrorCode::INVALID_PRODUCER_EPOCH)
    );
    assert_eq!(
        old.commit_offset_v2(&group, &t, 0, 1).await,
        code(ErrorCode::INVALID_PRODUCER_EPOCH)
    );
    assert_eq!(old.end_v2(true).await.0, code(ErrorCode::PRODUCER_FENCED));
    assert_eq!(old.end_v2(false).await.0, code(ErrorCode::PRODUCER_FENCED));
    // Another producer id than the transactional id's.
    let mut stranger = Producer {
        conn: RawConn::connect(addr).await,
        id: id.clone(),
        pid: pid + 1_000_000,
        epoch: new.producer_epoch,
        seq: HashMap::new(),
    };
    assert_eq!(
        stranger.send_v2(&t, 0, &["stranger"]).await.0,
        code(ErrorCode::INVALID_PRODUCER_ID_MAPPING)
    );

    // The new instance works, at e + 2 from sequence 0, and moves on to e + 3.
    let mut fresh = Producer {
        conn,
        id,
        pid,
        epoch: new.producer_epoch,
        seq: HashMap::new(),
    };
    assert_eq!(fresh.send_v2(&t, 0, &["ok"]).await, (0, 2));
    assert_eq!(fresh.end_v2(true).await, (0, pid, e + 3));
    let r = read_when_stable(&mut c, &t, 0, 4).await;
    assert_eq!(r.visible(), strings(&["ok"]));
}

async fn tv1_requests_keep_the_epoch(addr: &str) {
    let (mut c, t) = setup(addr, 2).await;
    let mut p = Producer::init(addr, &unique("tx"), 60_000).await;
    let e = p.epoch;
    // The newest version-1 requests: AddPartitionsToTxn v3, Produce v11, EndTxn v4.
    assert_eq!(p.add(&t, &[0]).await, vec![0]);
    assert_eq!(p.send_with(11, &t, 0, &["a"], true, true).await, (0, 0));
    // v11 does not add a partition: TRANSACTION_ABORTABLE, as before.
    assert_eq!(
        p.send_with(11, &t, 1, &["no"], true, true).await.0,
        code(ErrorCode::TRANSACTION_ABORTABLE)
    );
    assert_eq!(p.end_at(4, e, true).await.0, 0);
    let d = eventually("CompleteCommit", || async {
        let d = describe(&mut RawConn::connect(addr).await, &p.id).await;
        (d.1 == "CompleteCommit").then_some(d)
    })
    .await;
    assert_eq!(d.3, e, "the epoch stays");
    // The next transaction goes on at the same epoch and sequence.
    assert_eq!(p.add(&t, &[0]).await, vec![0]);
    assert_eq!(p.send_with(11, &t, 0, &["b"], true, true).await, (0, 2));
    assert_eq!(p.end_at(4, e, false).await.0, 0);
    let r = read_when_stable(&mut c, &t, 0, 4).await;
    assert_eq!(r.visible(), strings(&["a"]));
    assert_eq!(
        r.marker_epochs(),
        vec![
            (ControlRecordType::Commit, e),
            (ControlRecordType::Abort, e)
        ]
    );
    assert_eq!(r.aborted, Some(vec![(p.pid, 2)]));
}
