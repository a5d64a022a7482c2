//! The sender: one task per producer that turns ready batches into Produce requests, one
//! request per broker carrying one batch for each of many partitions, pipelined up to
//! `max.in.flight.requests.per.connection` per broker, and settles every batch: written,
//! retried, or failed with a verdict on whether it may have been written.
//!
//! Why one task: the order of requests on a connection is the order of sequence numbers the
//! broker sees, and the idempotence state (sequences, retries, epoch bumps) must change in
//! that same order. One task owns all of it without locks; the I/O runs in small spawned
//! tasks that report back through one event channel.
//!
//! In-order submission: a request is encoded and handed to its connection's writer on the
//! first poll of [`crate::Connection::send`] when an in-flight slot is free, and this task
//! never has more Produce requests out to a broker than the limit, while the producer's
//! client allows two more per connection (for Metadata and InitProducerId). So this task
//! polls each request once, in order, with cooperative budgeting off, before handing it to a
//! spawned task to await the answer: requests reach the socket in the order they were made.
//!
//! Retries (as Java): a batch that failed retriably goes back to its partition with its
//! sequence, after `retry.backoff.ms` (doubling up to `retry.backoff.max.ms`); a waiting
//! retry is only sent when it is its partition's oldest unfinished batch, and no new batch of
//! that partition goes out while one waits, so order survives retries; a partition whose
//! numbering broke (see `sequence.rs`) sends nothing until it is renumbered under the new
//! epoch. Errors that point at stale metadata, and disconnects, refresh the metadata.
//! `delivery.timeout.ms` ends a batch's life wherever it is: queued (not written), waiting
//! for a retry, or in flight (may have been written; the request's answer then only updates
//! the bookkeeping).
//!
//! Transactions (the sender of a [`crate::TransactionalProducer`], see `txn_link.rs`): the
//! producer id and epoch come from the transactional producer instead of an InitProducerId
//! of our own; batches carry the transactional flag and Produce the transactional id; with
//! transaction version 1 a partition's batches wait until AddPartitionsToTxn (one request
//! for every partition that came up meanwhile, as Java batches them) has added it to the
//! open transaction, and Produce stays at v11; with version 2 Produce v12 adds it. A batch
//! that fails, an add that fails, or a numbering gap dooms the open transaction: the sender
//! records the first such error in the link and fails what is still queued, so a commit's
//! flush ends and the transaction is aborted.
//!
//! What not: no splitting of batches the broker finds too large, no throttling
//! (`throttle_time_ms` is ignored).

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use ferrokafka_protocol::record::{RecordBatch, NO_SEQUENCE};
use ferrokafka_protocol::ErrorCode;
use kafka_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    AddPartitionsToTxnRequest, InitProducerIdRequest, ProduceRequest, ProduceResponse, ProducerId,
    TopicName, TransactionalId,
};
use kafka_protocol::protocol::StrBytes;
use tokio::sync::mpsc;
use tokio::time::{sleep_until, Instant};

use super::accumulator::{Front, OpenBatch, PartitionQueue};
use super::config::Acks;
use super::delivery::{Completion, Outcome};
use super::sequence::{ProducerIdEpoch, SequenceVerdict, Sequences};
use super::txn_link::TxnLink;
use super::Shared;
use crate::client::{coordinator_gone, CoordinatorType};
use crate::connection::backoff::Backoff;
use crate::connection::Connection;
use crate::error::Error;
use crate::metadata::Cluster;

/// Batches one partition may have unfinished with idempotence: the broker remembers five.
const MAX_UNFINISHED_PER_PARTITION: usize = 5;

/// The highest Produce version with transaction version 1 semantics: from v12 the partition
/// leader adds a transactional batch's partition to the transaction itself (KIP-890).
const PRODUCE_MAX_TXN_V1: i16 = 11;

/// AddPartitionsToTxn v4+ is the brokers' batched form; clients use v3 and below.
const ADD_PARTITIONS_MAX_VERSION: i16 = 3;

/// What the spawned I/O tasks report.
#[derive(Debug)]
enum Event {
    Produced {
        node: i32,
        /// `(queue index, batch id)` of each batch in the request, in request order.
        batches: Vec<(usize, u64)>,
        /// `None` for `acks=0`.
        result: Result<Option<ProduceResponse>, Error>,
    },
    Connected {
        node: i32,
        result: Result<Arc<Connection>, Error>,
    },
    Metadata(Result<Arc<Cluster>, Error>),
    ProducerId(Result<ProducerIdEpoch, Error>),
    /// AddPartitionsToTxn answered: the error code of each queue index asked for.
    PartitionsAdded {
        generation: u64,
        queues: Vec<usize>,
        result: Result<Vec<(usize, ErrorCode)>, Error>,
    },
}

/// The sender's side of a transaction (see `txn_link.rs`).
#[derive(Debug)]
struct TxnSender {
    link: Arc<TxnLink>,
    /// The link's generation the fields below belong to.
    generation: u64,
    v2: bool,
    /// The open transaction cannot commit, or is being aborted: nothing more is sent.
    blocked: Option<Arc<Error>>,
    /// Queue indexes added to the open transaction.
    added: std::collections::HashSet<usize>,
    /// Queue indexes with records that wait for AddPartitionsToTxn.
    wanted: std::collections::BTreeSet<usize>,
    adding: bool,
    add_failures: u32,
    add_retry_at: Option<Instant>,
    /// `started` was set in the link for this generation.
    started: bool,
    /// AddPartitionsToTxn failing for a while is said at warn.
    stall: crate::stall::Stall,
}

/// Where a sent batch is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    InFlight,
    /// Waiting to be sent again at this instant.
    Waiting(Instant),
}

/// A batch that has been sent at least once.
#[derive(Debug)]
struct SentBatch {
    id: u64,
    queue: usize,
    completion: Arc<Completion>,
    bytes: Bytes,
    records: u32,
    reserved: usize,
    producer: ProducerIdEpoch,
    base_seq: i32,
    deadline: Instant,
    attempts: u32,
    phase: Phase,
    /// An attempt ended without an answer (disconnect, timeout): it may be in the log.
    maybe_written: bool,
    /// The caller was already told (delivery timeout while in flight).
    reported: bool,
}

impl PartitionState {
    /// The partition could not make progress because of `err`.
    fn stalled(&mut self, topic: &str, partition: i32, err: &Error) {
        self.last_error = err.code().or(self.last_error);
        self.stall.failed(
            format_args!("delivering to {topic} partition {partition}"),
            err,
        );
    }

    /// A batch of the partition was written.
    fn progressed(&mut self, topic: &str, partition: i32) {
        self.last_error = None;
        self.stall
            .progressed(format_args!("delivering to {topic} partition {partition}"));
    }
}

impl SentBatch {
    fn last_seq(&self) -> i32 {
        super::sequence::increment(
            self.base_seq,
            i32::try_from(self.records).unwrap_or(1).saturating_sub(1),
        )
    }
}

/// The sender's view of one partition.
#[derive(Debug, Default)]
struct PartitionState {
    leader: Option<i32>,
    seq: Sequences,
    /// Sent and not finished, oldest (lowest sequence) first.
    unfinished: VecDeque<u64>,
    in_flight: usize,
    waiting: usize,
    /// Why this partition made no progress lately (no leader: the topic is gone or not
    /// created yet; a retriable Produce error): said at warn once per episode, and named by
    /// the delivery timeout of its batches.
    stall: crate::stall::Stall,
    last_error: Option<ErrorCode>,
}

#[derive(Debug, Default)]
struct NodeState {
    conn: Option<Arc<Connection>>,
    connecting: bool,
    in_flight: usize,
}

#[derive(Debug, Default)]
struct ProducerIdState {
    current: Option<ProducerIdEpoch>,
    requesting: bool,
    bump_wanted: bool,
    retry_at: Option<Instant>,
    failures: u32,
}

#[derive(Debug)]
struct MetadataState {
    wanted: bool,
    in_flight: bool,
    not_before: Instant,
}

/// A Produce request being put together for one broker, on the connection it will use.
#[derive(Debug)]
struct Draft {
    conn: Arc<Connection>,
    batches: Vec<(usize, u64)>,
    bytes: usize,
}

pub(crate) struct Sender {
    shared: Arc<Shared>,
    events: mpsc::UnboundedReceiver<Event>,
    events_tx: mpsc::UnboundedSender<Event>,
    cluster: Arc<Cluster>,
    queues: Vec<Arc<PartitionQueue>>,
    queues_version: u64,
    parts: Vec<PartitionState>,
    nodes: HashMap<i32, NodeState>,
    batches: HashMap<u64, SentBatch>,
    producer: ProducerIdState,
    metadata: MetadataState,
    idempotent: bool,
    acks: Acks,
    delivery_timeout: Duration,
    max_in_flight: usize,
    /// Rotates the partition a drain pass starts at, so no partition is always last.
    drain_start: usize,
    backoff: Backoff,
    txn: Option<TxnSender>,
}

impl std::fmt::Debug for Sender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sender")
            .field("partitions", &self.parts.len())
            .field("batches", &self.batches.len())
            .field("producer", &self.producer.current)
            .finish_non_exhaustive()
    }
}

impl Sender {
    pub(crate) fn new(shared: Arc<Shared>) -> Sender {
        let (events_tx, events) = mpsc::unbounded_channel();
        let config = &shared.config;
        let txn = shared.txn.as_ref().map(|link| TxnSender {
            link: Arc::clone(link),
            generation: 0,
            v2: false,
            blocked: None,
            added: Default::default(),
            wanted: Default::default(),
            adding: false,
            add_failures: 0,
            add_retry_at: None,
            started: false,
            stall: crate::stall::Stall::default(),
        });
        Sender {
            backoff: Backoff::new(
                config.retry_backoff,
                config.retry_backoff_max.max(config.retry_backoff),
            ),
            txn,
            idempotent: config.idempotent(),
            acks: config.acks,
            delivery_timeout: config.effective_delivery_timeout(),
            max_in_flight: config.client.max_in_flight_per_connection.max(1),
            cluster: shared.client.cluster(),
            shared,
            events,
            events_tx,
            queues: Vec::new(),
            queues_version: 0,
            parts: Vec::new(),
            nodes: HashMap::new(),
            batches: HashMap::new(),
            producer: ProducerIdState::default(),
            metadata: MetadataState {
                wanted: false,
                in_flight: false,
                not_before: Instant::now(),
            },
            drain_start: 0,
        }
    }

    /// Runs until the producer is closed and everything is settled, or a fatal error.
    pub(crate) async fn run(mut self) {
        loop {
            while let Ok(event) = self.events.try_recv() {
                self.handle(event);
            }
            if let Some(fatal) = self.shared.fatal() {
                // Nothing is sent any more; whatever still arrives fails, until closed.
                self.sync_queues();
                self.fail_everything(&fatal);
                if self.finished() {
                    break;
                }
                tokio::select! {
                    event = self.events.recv() => {
                        if let Some(event) = event {
                            self.handle(event);
                        }
                    }
                    () = self.shared.accumulator.wake.notified() => {}
                }
                continue;
            }
            let now = Instant::now();
            self.sync_queues();
            self.sync_cluster();
            let mut next = now + Duration::from_secs(3600);
            self.expire(now, &mut next);
            if self.txn.is_some() {
                self.sync_txn();
                self.resolve_sequences();
                self.txn_bump_wanted();
            } else if self.idempotent {
                self.resolve_sequences();
                self.maybe_init_producer_id(now, &mut next);
            }
            let again = self.send_ready(now, &mut next);
            self.maybe_add_partitions(now, &mut next);
            self.maybe_refresh_metadata(now, &mut next);
            if self.finished() {
                break;
            }
            if again {
                continue;
            }
            tokio::select! {
                event = self.events.recv() => {
                    if let Some(event) = event {
                        self.handle(event);
                    }
                }
                () = self.shared.accumulator.wake.notified() => {}
                () = sleep_until(next) => {}
            }
        }
        self.shared.client.close().await;
        self.shared.stopped.send_replace(true);
    }

    /// Closing, and nothing left anywhere.
    fn finished(&self) -> bool {
        self.shared.accumulator.closing()
            && !self.shared.accumulator.appends_under_way()
            && self.batches.is_empty()
            && self.queues.iter().all(|q| q.is_empty())
    }

    fn sync_queues(&mut self) {
        if let Some((version, queues)) = self.shared.accumulator.queues_since(self.queues_version) {
            self.queues_version = version;
            self.queues = queues;
            self.parts
                .resize_with(self.queues.len(), PartitionState::default);
            self.update_leaders();
        }
    }

    fn sync_cluster(&mut self) {
        let cluster = self.shared.client.cluster();
        if !Arc::ptr_eq(&cluster, &self.cluster) {
            self.adopt(cluster);
        }
    }

    fn adopt(&mut self, cluster: Arc<Cluster>) {
        for info in cluster.topics.values() {
            self.shared.accumulator.update_topic(info);
        }
        self.cluster = cluster;
        self.sync_queues();
        self.update_leaders();
    }

    fn update_leaders(&mut self) {
        for (queue, part) in self.queues.iter().zip(self.parts.iter_mut()) {
            match self.cluster.leader(&queue.topic, queue.partition) {
                Ok(leader) => part.leader = Some(leader),
                Err(err) => {
                    part.leader = None;
                    // Only a partition with records to send is stuck.
                    if !queue.is_empty() || !part.unfinished.is_empty() {
                        part.stalled(&queue.topic, queue.partition, &err);
                    }
                }
            }
        }
    }

    fn want_metadata(&mut self) {
        self.metadata.wanted = true;
    }

    fn maybe_refresh_metadata(&mut self, now: Instant, next: &mut Instant) {
        if !self.metadata.wanted || self.metadata.in_flight {
            return;
        }
        if now < self.metadata.not_before {
            *next = (*next).min(self.metadata.not_before);
            return;
        }
        self.metadata.wanted = false;
        self.metadata.in_flight = true;
        let client = self.shared.client.clone();
        let topics = self.shared.accumulator.topic_names();
        let tx = self.events_tx.clone();
        tokio::spawn(async move {
            let refs: Vec<&str> = topics.iter().map(String::as_str).collect();
            // An empty list would mean "all topics"; ask for none by asking the client to
            // refresh what it already follows.
            let result = if refs.is_empty() {
                Ok(client.cluster())
            } else {
                client.metadata(&refs).await
            };
            let _ = tx.send(Event::Metadata(result));
        });
    }

    fn handle(&mut self, event: Event) {
        match event {
            Event::Produced {
                node,
                batches,
                result,
            } => self.on_produced(node, batches, result),
            Event::Connected { node, result } => {
                let state = self.nodes.entry(node).or_default();
                state.connecting = false;
                match result {
                    Ok(conn) => state.conn = Some(conn),
                    Err(err) => {
                        tracing::debug!(node, %err, "producer connection failed");
                        self.want_metadata();
                    }
                }
            }
            Event::Metadata(result) => {
                self.metadata.in_flight = false;
                self.metadata.not_before = Instant::now() + self.shared.config.retry_backoff;
                match result {
                    Ok(cluster) => self.adopt(cluster),
                    Err(err) => {
                        tracing::debug!(%err, "producer metadata refresh failed");
                        self.metadata.wanted = true;
                    }
                }
            }
            Event::ProducerId(result) => self.on_producer_id(result),
            Event::PartitionsAdded {
                generation,
                queues,
                result,
            } => self.on_partitions_added(generation, queues, result),
        }
    }

    // ---- transactions ------------------------------------------------------------------

    /// Takes in what the transactional producer changed: a new producer id or epoch, a new
    /// transaction, an abort; and fails what is queued while the transaction is doomed.
    fn sync_txn(&mut self) {
        let Some(txn) = &mut self.txn else { return };
        let (producer, blocked) = {
            let state = txn.link.lock();
            if state.generation != txn.generation {
                txn.generation = state.generation;
                txn.added.clear();
                txn.wanted.clear();
                txn.started = false;
                txn.add_failures = 0;
                txn.add_retry_at = None;
            }
            txn.v2 = state.v2;
            let blocked = match (&state.failure, state.aborting) {
                (Some(failure), _) => Some(Arc::clone(&failure.cause)),
                (None, true) => Some(Arc::new(Error::Kafka {
                    code: ErrorCode::TRANSACTION_ABORTABLE,
                    message: Some("the transaction was aborted before this batch was sent".into()),
                    topic: None,
                    partition: None,
                })),
                (None, false) => None,
            };
            (state.producer, blocked)
        };
        txn.blocked = blocked.clone();
        if producer != self.producer.current {
            // A new epoch (after InitProducerId or EndTxn v5): every partition starts again
            // from sequence 0 once nothing of it is unfinished (see `resolve_sequences`).
            self.producer.current = producer;
            self.producer.bump_wanted = false;
        }
        if let Some(cause) = blocked {
            for queue in &self.queues {
                for batch in queue.drain() {
                    fail_open_shared(&self.shared, batch, Arc::clone(&cause));
                }
            }
        }
    }

    /// A numbering gap needs a new epoch; in a transaction only its abort can give one.
    fn txn_bump_wanted(&mut self) {
        let Some(txn) = &self.txn else { return };
        if self.producer.bump_wanted && txn.blocked.is_none() {
            txn.link.fail(
                Arc::new(Error::Kafka {
                    code: ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER,
                    message: Some(
                        "a batch's fate left a gap in the sequence numbers; the transaction                          must be aborted"
                            .into(),
                    ),
                    topic: None,
                    partition: None,
                }),
                true,
            );
            self.shared.accumulator.wake.notify_one();
        }
    }

    /// Whether queue `i`'s batches may be sent in the open transaction; asks for its
    /// AddPartitionsToTxn when not (transaction version 1).
    fn txn_allows(&mut self, i: usize) -> bool {
        let Some(txn) = &mut self.txn else {
            return true;
        };
        if txn.blocked.is_some() || self.producer.current.is_none() {
            return false;
        }
        if txn.v2 || txn.added.contains(&i) {
            if !txn.started {
                txn.started = true;
                txn.link.lock().started = true;
            }
            return true;
        }
        txn.wanted.insert(i);
        false
    }

    /// Sends AddPartitionsToTxn for the partitions waiting for it, one request at a time.
    fn maybe_add_partitions(&mut self, now: Instant, next: &mut Instant) {
        let Some(txn) = &mut self.txn else { return };
        if txn.wanted.is_empty() || txn.adding || txn.blocked.is_some() {
            return;
        }
        if let Some(at) = txn.add_retry_at {
            if now < at {
                *next = (*next).min(at);
                return;
            }
        }
        let Some((pid, epoch)) = self.producer.current else {
            return;
        };
        let queues: Vec<usize> = std::mem::take(&mut txn.wanted).into_iter().collect();
        let mut topics: Vec<AddPartitionsToTxnTopic> = Vec::new();
        for i in &queues {
            let Some(queue) = self.queues.get(*i) else {
                continue;
            };
            match topics
                .iter_mut()
                .find(|t| t.name.0.as_str() == &*queue.topic)
            {
                Some(t) => t.partitions.push(queue.partition),
                None => topics.push(
                    AddPartitionsToTxnTopic::default()
                        .with_name(TopicName(StrBytes::from_string(queue.topic.to_string())))
                        .with_partitions(vec![queue.partition]),
                ),
            }
        }
        let places: Vec<(usize, Arc<str>, i32)> = queues
            .iter()
            .filter_map(|i| {
                self.queues
                    .get(*i)
                    .map(|q| (*i, Arc::clone(&q.topic), q.partition))
            })
            .collect();
        txn.adding = true;
        let generation = txn.generation;
        let link = Arc::clone(&txn.link);
        let client = self.shared.client.clone();
        let tx = self.events_tx.clone();
        tokio::spawn(async move {
            let id = StrBytes::from_string(link.transactional_id.to_string());
            let result = async {
                let known = link.lock().coordinator;
                let node = match known {
                    Some(node) => node,
                    None => {
                        let node = client
                            .find_coordinator(CoordinatorType::Transaction, &link.transactional_id)
                            .await?
                            .node_id;
                        link.lock().coordinator = Some(node);
                        node
                    }
                };
                let conn = client.connection(node).await?;
                let response = conn
                    .send_capped(ADD_PARTITIONS_MAX_VERSION, |_| {
                        AddPartitionsToTxnRequest::default()
                            .with_v3_and_below_transactional_id(TransactionalId(id))
                            .with_v3_and_below_producer_id(ProducerId(pid))
                            .with_v3_and_below_producer_epoch(epoch)
                            .with_v3_and_below_topics(topics)
                    })
                    .await?;
                Error::check(response.error_code, None)?;
                let mut codes = Vec::new();
                for (i, topic, partition) in &places {
                    let code = response
                        .results_by_topic_v3_and_below
                        .iter()
                        .filter(|t| t.name.0.as_str() == &**topic)
                        .flat_map(|t| t.results_by_partition.iter())
                        .find(|p| p.partition_index == *partition)
                        .map_or(ErrorCode::UNKNOWN_SERVER_ERROR, |p| {
                            ErrorCode(p.partition_error_code)
                        });
                    codes.push((*i, code));
                }
                Ok(codes)
            }
            .await;
            if let Err(err) = &result {
                if coordinator_gone(err) {
                    link.lock().coordinator = None;
                }
            }
            let _ = tx.send(Event::PartitionsAdded {
                generation,
                queues,
                result,
            });
        });
    }

    fn on_partitions_added(
        &mut self,
        generation: u64,
        queues: Vec<usize>,
        result: Result<Vec<(usize, ErrorCode)>, Error>,
    ) {
        let backoff = self.backoff;
        let Some(txn) = &mut self.txn else { return };
        if generation != txn.generation {
            return; // an answer about a transaction that has ended
        }
        txn.adding = false;
        let mut retry = Vec::new();
        let mut failed: Option<Error> = None;
        match result {
            Ok(codes) => {
                for (i, code) in codes {
                    if code.is_ok() {
                        txn.added.insert(i);
                    } else if code.is_retriable() || code == ErrorCode::OPERATION_NOT_ATTEMPTED {
                        if code == ErrorCode::NOT_COORDINATOR
                            || code == ErrorCode::COORDINATOR_NOT_AVAILABLE
                        {
                            txn.link.lock().coordinator = None;
                        }
                        retry.push(i);
                    } else if failed.is_none() {
                        let topic = self
                            .queues
                            .get(i)
                            .map(|q| (q.topic.to_string(), q.partition));
                        failed = Some(Error::Kafka {
                            code,
                            message: Some("AddPartitionsToTxn refused the partition".into()),
                            topic: topic.as_ref().map(|(t, _)| t.clone()),
                            partition: topic.map(|(_, p)| p),
                        });
                    }
                }
            }
            Err(err) if err.is_retriable() => {
                tracing::debug!(%err, "AddPartitionsToTxn failed; retrying");
                txn.stall.failed(
                    format_args!(
                        "adding partitions to the transaction of {}",
                        txn.link.transactional_id
                    ),
                    &err,
                );
                retry = queues;
            }
            Err(err) => failed = Some(err),
        }
        if let Some(err) = failed {
            txn.link.fail(Arc::new(err), false);
            self.shared.accumulator.wake.notify_one();
            return;
        }
        if retry.is_empty() {
            txn.add_failures = 0;
            txn.add_retry_at = None;
            txn.stall.progressed(format_args!(
                "adding partitions to the transaction of {}",
                txn.link.transactional_id
            ));
        } else {
            txn.wanted.extend(retry);
            txn.add_retry_at = Some(Instant::now() + backoff.delay(txn.add_failures));
            txn.add_failures = txn.add_failures.saturating_add(1);
        }
    }

    // ---- producer id -------------------------------------------------------------------

    fn maybe_init_producer_id(&mut self, now: Instant, next: &mut Instant) {
        let needed = self.producer.current.is_none() || self.producer.bump_wanted;
        if !needed || self.producer.requesting {
            return;
        }
        if self.producer.current.is_none()
            && self.batches.is_empty()
            && self.queues.iter().all(|q| q.is_empty())
        {
            return; // nothing to send yet
        }
        if let Some(at) = self.producer.retry_at {
            if now < at {
                *next = (*next).min(at);
                return;
            }
        }
        self.producer.requesting = true;
        // A bump asked for while this request is out is a new request once it returns.
        let current = if std::mem::take(&mut self.producer.bump_wanted) {
            self.producer.current
        } else {
            None
        };
        let client = self.shared.client.clone();
        let tx = self.events_tx.clone();
        // Sent as Java does even without transactions (`transaction.timeout.ms`).
        let timeout_ms =
            i32::try_from(self.shared.config.transaction_timeout.as_millis()).unwrap_or(i32::MAX);
        tokio::spawn(async move {
            let result = async {
                let response = client
                    .send_any_with(|version| {
                        let req = InitProducerIdRequest::default()
                            .with_transactional_id(None)
                            .with_transaction_timeout_ms(timeout_ms);
                        // KIP-360: from v3 the current id and epoch ask for a bump.
                        match current {
                            Some((id, epoch)) if version >= 3 => req
                                .with_producer_id(ProducerId(id))
                                .with_producer_epoch(epoch),
                            _ => req,
                        }
                    })
                    .await?
                    .response;
                Error::check(response.error_code, None)?;
                Ok((response.producer_id.0, response.producer_epoch))
            }
            .await;
            let _ = tx.send(Event::ProducerId(result));
        });
    }

    fn on_producer_id(&mut self, result: Result<ProducerIdEpoch, Error>) {
        self.producer.requesting = false;
        match result {
            Ok((id, epoch)) if id >= 0 && epoch >= 0 => {
                tracing::debug!(producer_id = id, epoch, "producer id");
                self.producer.current = Some((id, epoch));
                self.producer.failures = 0;
                self.producer.retry_at = None;
            }
            Ok((id, epoch)) => self.shared.set_fatal(Arc::new(Error::Kafka {
                code: ErrorCode::UNKNOWN_SERVER_ERROR,
                message: Some(format!(
                    "InitProducerId answered producer id {id}, epoch {epoch}"
                )),
                topic: None,
                partition: None,
            })),
            Err(err) if err.is_retriable() => {
                tracing::debug!(%err, "InitProducerId failed; retrying");
                if self.producer.current.is_some() {
                    self.producer.bump_wanted = true;
                }
                self.producer.failures = self.producer.failures.saturating_add(1);
                self.producer.retry_at = Some(
                    Instant::now() + self.backoff.delay(self.producer.failures.saturating_sub(1)),
                );
                if matches!(err, Error::Disconnected { .. } | Error::Io { .. }) {
                    self.want_metadata();
                }
            }
            Err(err) => self.shared.set_fatal(Arc::new(err)),
        }
    }

    fn request_bump(&mut self, part: usize) {
        if let Some(p) = self.parts.get_mut(part) {
            p.seq.needs_reset = true;
        }
        self.producer.bump_wanted = true;
    }

    // ---- sequences ---------------------------------------------------------------------

    /// Settles unresolved partitions with nothing left unfinished (Java's
    /// `maybeResolveSequences`), and moves partitions onto a new producer epoch once they can.
    fn resolve_sequences(&mut self) {
        let mut bump = false;
        for part in &mut self.parts {
            if part.unfinished.is_empty() && part.seq.resolve() {
                bump = true;
            }
        }
        if bump {
            self.producer.bump_wanted = true;
        }
        let Some(current) = self.producer.current else {
            return;
        };
        if self.producer.bump_wanted || self.producer.requesting {
            return;
        }
        for i in 0..self.parts.len() {
            let Some(part) = self.parts.get_mut(i) else {
                continue;
            };
            if part.seq.needs_reset {
                // Renumbered once nothing of it is on the wire under the old numbers.
                if part.in_flight == 0 {
                    self.renumber(i, current);
                }
            } else if part.seq.producer != Some(current) && part.unfinished.is_empty() {
                // Other partitions finish what they sent under the old epoch first.
                part.seq.reset(current);
            }
        }
    }

    /// Gives a partition's waiting batches new sequences under `producer`, from 0. A batch
    /// that may already be in the log cannot be renumbered safely (it would be written
    /// again): it fails, saying it may have been written.
    fn renumber(&mut self, part: usize, producer: ProducerIdEpoch) {
        let Some(state) = self.parts.get_mut(part) else {
            return;
        };
        let ids: Vec<u64> = state.unfinished.drain(..).collect();
        state.seq.reset(producer);
        state.waiting = 0;
        for id in ids {
            let Some(mut batch) = self.batches.remove(&id) else {
                continue;
            };
            if batch.maybe_written {
                let cause = Error::Kafka {
                    code: ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER,
                    message: Some(
                        "the producer epoch was bumped while this batch's fate was unknown".into(),
                    ),
                    topic: None,
                    partition: None,
                };
                self.settle_failed(batch, Arc::new(cause), true);
                continue;
            }
            let Some(state) = self.parts.get_mut(part) else {
                return;
            };
            let records = i32::try_from(batch.records).unwrap_or(i32::MAX);
            let base = state.seq.assign(records);
            match rewrite_producer(&batch.bytes, producer, base) {
                Ok(bytes) => {
                    batch.bytes = bytes;
                    batch.producer = producer;
                    batch.base_seq = base;
                    state.waiting += 1;
                    state.unfinished.push_back(id);
                    self.batches.insert(id, batch);
                }
                Err(err) => {
                    state.seq.on_gap();
                    self.producer.bump_wanted = true;
                    self.settle_failed(batch, Arc::new(err), false);
                }
            }
        }
    }

    // ---- expiry ------------------------------------------------------------------------

    fn expire(&mut self, now: Instant, next: &mut Instant) {
        let timeout = self.delivery_timeout;
        for (part, queue) in self.queues.iter().enumerate() {
            while let Some(created) = queue.front_created() {
                let deadline = created + timeout;
                if deadline > now {
                    *next = (*next).min(deadline);
                    break;
                }
                if let Some(batch) = queue.pop() {
                    let cause = self.timeout_error(part, queue, "waiting to be sent");
                    fail_open(&self.shared, batch, cause);
                }
            }
        }
        let expired: Vec<u64> = self
            .batches
            .iter()
            .filter(|(_, b)| !b.reported)
            .filter_map(|(id, b)| {
                if b.deadline <= now {
                    Some(*id)
                } else {
                    *next = (*next).min(b.deadline);
                    None
                }
            })
            .collect();
        for id in expired {
            let Some((part, phase)) = self.batches.get(&id).map(|b| (b.queue, b.phase)) else {
                continue;
            };
            let Some(queue) = self.queues.get(part).cloned() else {
                continue;
            };
            match phase {
                Phase::InFlight => {
                    // The answer may still come; the caller hears now, the bookkeeping later.
                    let cause = Arc::new(self.timeout_error(part, &queue, "in flight"));
                    if let Some(link) = &self.shared.txn {
                        link.fail(Arc::clone(&cause), true);
                    }
                    let Some(batch) = self.batches.get_mut(&id) else {
                        continue;
                    };
                    batch.reported = true;
                    batch.completion.complete(Outcome::Failed {
                        cause,
                        may_be_written: true,
                    });
                    let last = batch.last_seq();
                    self.shared.accumulator.finished(id);
                    if let Some(p) = self.parts.get_mut(part).filter(|_| self.idempotent) {
                        p.seq.mark_unresolved(last);
                    }
                }
                Phase::Waiting(_) => {
                    let Some(batch) = self.take(id) else { continue };
                    let may_be_written = batch.maybe_written;
                    if let Some(p) = self.parts.get_mut(part).filter(|_| self.idempotent) {
                        p.seq.mark_unresolved(batch.last_seq());
                    }
                    let cause = Arc::new(self.timeout_error(part, &queue, "waiting to be retried"));
                    self.settle_failed(batch, cause, may_be_written);
                }
            }
        }
    }

    /// `delivery.timeout.ms` ran out for a batch of partition `part`; the error names why
    /// the partition made no progress, when a Kafka error said so (a topic that does not
    /// exist: UNKNOWN_TOPIC_OR_PARTITION).
    fn timeout_error(&self, part: usize, queue: &PartitionQueue, where_: &str) -> Error {
        let last_error = self.parts.get(part).and_then(|p| p.last_error).map(|code| {
            Box::new(Error::Kafka {
                code,
                message: None,
                topic: Some(queue.topic.to_string()),
                partition: Some(queue.partition),
            })
        });
        Error::Timeout {
            operation: format!(
                "delivery of a batch to {} partition {} ({where_})",
                queue.topic, queue.partition
            ),
            after: self.delivery_timeout,
            last_error,
        }
    }

    // ---- draining ----------------------------------------------------------------------

    /// One pass over the partitions: at most one batch per partition and one request per
    /// broker. Returns true when it sent something and more may be ready.
    fn send_ready(&mut self, now: Instant, next: &mut Instant) -> bool {
        let accumulator = &self.shared.accumulator;
        let force = accumulator.flushing() || accumulator.closing();
        let linger = accumulator.linger();
        let batch_size = accumulator.batch_size();
        let max_request = self.shared.config.max_request_size;
        let producer_ready = !self.idempotent
            || (self.producer.current.is_some()
                && !self.producer.bump_wanted
                && !self.producer.requesting);
        let mut drafts: HashMap<i32, Draft> = HashMap::new();
        let mut more = false;
        let count = self.queues.len();
        if count == 0 {
            return false;
        }
        self.drain_start = (self.drain_start + 1) % count;
        for k in 0..count {
            let i = (self.drain_start + k) % count;
            let pick = self.pick(i, now, force, linger, batch_size, producer_ready, next);
            let Some(pick) = pick else { continue };
            let Some(leader) = self.parts.get(i).and_then(|p| p.leader) else {
                self.want_metadata();
                continue;
            };
            let draft = match drafts.entry(leader) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => match self.node_ready(leader) {
                    Some(conn) => e.insert(Draft {
                        conn,
                        batches: Vec::new(),
                        bytes: 0,
                    }),
                    None => continue,
                },
            };
            let size = match pick {
                Pick::Retry(id) => self.batches.get(&id).map_or(0, |b| b.bytes.len()),
                // Uncompressed size: an upper bound for a compressed batch.
                Pick::New(estimate) => estimate,
            };
            if !draft.batches.is_empty() && draft.bytes.saturating_add(size) > max_request {
                more = true;
                continue;
            }
            let id = match pick {
                Pick::Retry(id) => {
                    if let Some(p) = self.parts.get_mut(i) {
                        p.waiting = p.waiting.saturating_sub(1);
                    }
                    id
                }
                Pick::New(_) => match self.seal(i, now) {
                    Some(id) => id,
                    None => continue,
                },
            };
            let Some(batch) = self.batches.get_mut(&id) else {
                continue;
            };
            batch.phase = Phase::InFlight;
            if let Some(p) = self.parts.get_mut(i) {
                p.in_flight += 1;
            }
            if let Some(draft) = drafts.get_mut(&leader) {
                draft.bytes = draft.bytes.saturating_add(batch.bytes.len());
                draft.batches.push((i, id));
            }
        }
        let mut sent = false;
        for (node, draft) in drafts {
            if !draft.batches.is_empty() {
                sent = true;
                self.dispatch(node, draft);
            }
        }
        sent || more
    }

    /// Which batch partition `i` would send now, if any.
    #[allow(clippy::too_many_arguments)]
    fn pick(
        &mut self,
        i: usize,
        now: Instant,
        force: bool,
        linger: Duration,
        batch_size: usize,
        producer_ready: bool,
        next: &mut Instant,
    ) -> Option<Pick> {
        let part = self.parts.get(i)?;
        if self.idempotent && part.seq.needs_reset {
            // Its numbers are spent: nothing goes out until it is renumbered under a new epoch.
            return None;
        }
        if part.waiting > 0 {
            // Only the oldest unfinished batch may be retried, so order holds.
            let id = *part.unfinished.front()?;
            let batch = self.batches.get(&id)?;
            return match batch.phase {
                Phase::Waiting(at) if at <= now => Some(Pick::Retry(id)),
                Phase::Waiting(at) => {
                    *next = (*next).min(at);
                    None
                }
                Phase::InFlight => None,
            };
        }
        if self.idempotent {
            let current = self.producer.current;
            if !producer_ready
                || part.seq.producer != current
                || part.seq.unresolved.is_some()
                || part.unfinished.len() >= MAX_UNFINISHED_PER_PARTITION
            {
                return None;
            }
        }
        let front = self.queues.get(i)?.front(now, linger, batch_size, force);
        if front != Front::Empty && !self.txn_allows(i) {
            return None;
        }
        match front {
            Front::Empty => None,
            Front::Ready => Some(Pick::New(batch_size)),
            Front::LingersUntil(at) => {
                *next = (*next).min(at);
                None
            }
        }
    }

    /// Takes the front batch of queue `i`, numbers it and builds its bytes.
    fn seal(&mut self, i: usize, now: Instant) -> Option<u64> {
        let queue = Arc::clone(self.queues.get(i)?);
        let open = queue.pop()?;
        let deadline = open.created + self.delivery_timeout;
        let _ = now;
        let OpenBatch {
            id,
            builder,
            completion,
            records,
            reserved,
            ..
        } = open;
        let records_i32 = i32::try_from(records).unwrap_or(i32::MAX);
        let (producer, base_seq) = match (self.idempotent, self.producer.current) {
            (true, Some(producer)) => (producer, self.parts.get(i).map_or(0, |p| p.seq.next)),
            _ => ((-1, -1), NO_SEQUENCE),
        };
        let built = builder
            .producer(producer.0, producer.1)
            .base_sequence(base_seq)
            .transactional(self.txn.is_some())
            .build();
        let bytes = match built {
            Ok(bytes) => bytes,
            Err(err) => {
                let cause = Error::Kafka {
                    code: ErrorCode::INVALID_RECORD,
                    message: Some(err.to_string()),
                    topic: Some(queue.topic.to_string()),
                    partition: Some(queue.partition),
                };
                completion.complete(Outcome::Failed {
                    cause: Arc::new(cause),
                    may_be_written: false,
                });
                self.shared.accumulator.finished(id);
                self.shared.accumulator.release(reserved);
                return None;
            }
        };
        if let Some(part) = self.parts.get_mut(i) {
            if self.idempotent {
                part.seq.assign(records_i32);
            }
            part.unfinished.push_back(id);
        }
        self.batches.insert(
            id,
            SentBatch {
                id,
                queue: i,
                completion,
                bytes,
                records,
                reserved,
                producer,
                base_seq,
                deadline,
                attempts: 0,
                phase: Phase::InFlight,
                maybe_written: false,
                reported: false,
            },
        );
        Some(id)
    }

    /// The connection to `node` when it is live and has a free in-flight slot; starts
    /// connecting when there is none.
    fn node_ready(&mut self, node: i32) -> Option<Arc<Connection>> {
        let max = self.max_in_flight;
        let state = self.nodes.entry(node).or_default();
        if let Some(conn) = &state.conn {
            if conn.is_dead() {
                state.conn = None;
            }
        }
        if state.conn.is_none() {
            if !state.connecting {
                state.connecting = true;
                let client = self.shared.client.clone();
                let tx = self.events_tx.clone();
                tokio::spawn(async move {
                    let result = client.connection(node).await;
                    let _ = tx.send(Event::Connected { node, result });
                });
            }
            return None;
        }
        if state.in_flight < max {
            state.conn.clone()
        } else {
            None
        }
    }

    fn dispatch(&mut self, node: i32, draft: Draft) {
        let conn = draft.conn;
        let mut topics: Vec<TopicProduceData> = Vec::new();
        for (i, id) in &draft.batches {
            let (Some(queue), Some(batch)) = (self.queues.get(*i), self.batches.get_mut(id)) else {
                continue;
            };
            batch.attempts = batch.attempts.saturating_add(1);
            let data = PartitionProduceData::default()
                .with_index(queue.partition)
                .with_records(Some(batch.bytes.clone()));
            match topics
                .iter_mut()
                .find(|t| t.name.0.as_str() == &*queue.topic)
            {
                Some(t) => t.partition_data.push(data),
                None => topics.push(
                    TopicProduceData::default()
                        .with_name(TopicName(StrBytes::from_string(queue.topic.to_string())))
                        .with_partition_data(vec![data]),
                ),
            }
        }
        let timeout_ms = i32::try_from(self.shared.config.client.request_timeout.as_millis())
            .unwrap_or(i32::MAX);
        let request = ProduceRequest::default()
            .with_transactional_id(self.txn.as_ref().map(|t| {
                TransactionalId(StrBytes::from_string(t.link.transactional_id.to_string()))
            }))
            .with_acks(self.acks.as_i16())
            .with_timeout_ms(timeout_ms)
            .with_topic_data(topics);
        // Transaction version 1: below v12, which would add the partition on its own.
        let max_version = match &self.txn {
            Some(txn) if !txn.v2 => PRODUCE_MAX_TXN_V1,
            _ => i16::MAX,
        };
        if let Some(state) = self.nodes.get_mut(&node) {
            state.in_flight += 1;
        }
        let batches = draft.batches;
        if self.acks == Acks::None {
            let fut = async move { conn.send_without_response(request).await.map(|()| None) };
            self.start_in_order(fut, move |result| Event::Produced {
                node,
                batches,
                result,
            });
        } else {
            let fut = async move { conn.send_capped(max_version, |_| request).await.map(Some) };
            self.start_in_order(fut, move |result| Event::Produced {
                node,
                batches,
                result,
            });
        }
    }

    /// Polls `fut` once here, so that it is handed to its connection now, in call order (see
    /// the module docs), then lets a spawned task await the rest.
    fn start_in_order<F, W>(&self, fut: F, wrap: W)
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
        W: FnOnce(F::Output) -> Event + Send + 'static,
    {
        let mut fut = Box::pin(tokio::task::unconstrained(fut));
        let mut cx = Context::from_waker(Waker::noop());
        match fut.as_mut().poll(&mut cx) {
            Poll::Ready(out) => {
                let _ = self.events_tx.send(wrap(out));
            }
            Poll::Pending => {
                let tx = self.events_tx.clone();
                tokio::spawn(async move {
                    let out = fut.await;
                    let _ = tx.send(wrap(out));
                });
            }
        }
    }

    // ---- answers -----------------------------------------------------------------------

    fn on_produced(
        &mut self,
        node: i32,
        batches: Vec<(usize, u64)>,
        result: Result<Option<ProduceResponse>, Error>,
    ) {
        if let Some(state) = self.nodes.get_mut(&node) {
            state.in_flight = state.in_flight.saturating_sub(1);
        }
        match result {
            Err(err) => {
                // No answer: nothing is known about any batch of the request.
                let unknown = matches!(
                    err,
                    Error::Disconnected { .. } | Error::Timeout { .. } | Error::Io { .. }
                );
                if unknown {
                    if let Some(state) = self.nodes.get_mut(&node) {
                        state.conn = None;
                    }
                    self.want_metadata();
                }
                let err = Arc::new(err);
                for (_, id) in batches {
                    self.on_batch_error(id, Arc::clone(&err), unknown, -1);
                }
            }
            Ok(None) => {
                for (_, id) in batches {
                    self.on_batch_written(id, None, None);
                }
            }
            Ok(Some(response)) => {
                for (i, id) in batches {
                    let Some(queue) = self.queues.get(i).cloned() else {
                        continue;
                    };
                    let answer = response
                        .responses
                        .iter()
                        .filter(|t| t.name.0.as_str() == &*queue.topic)
                        .flat_map(|t| t.partition_responses.iter())
                        .find(|p| p.index == queue.partition);
                    let Some(p) = answer else {
                        let err = Error::Kafka {
                            code: ErrorCode::UNKNOWN_SERVER_ERROR,
                            message: Some("the Produce response left this partition out".into()),
                            topic: Some(queue.topic.to_string()),
                            partition: Some(queue.partition),
                        };
                        self.on_batch_error(id, Arc::new(err), true, -1);
                        continue;
                    };
                    let code = ErrorCode(p.error_code);
                    if code.is_ok() {
                        let log_append_time =
                            (p.log_append_time_ms >= 0).then_some(p.log_append_time_ms);
                        let base = (p.base_offset >= 0).then_some(p.base_offset);
                        self.on_batch_written(id, base, log_append_time);
                    } else if code == ErrorCode::DUPLICATE_SEQUENCE_NUMBER {
                        // Written before, too long ago for the broker to say where.
                        self.on_batch_written(id, None, None);
                    } else {
                        let err = Error::Kafka {
                            code,
                            message: p.error_message.as_ref().map(|m| m.to_string()),
                            topic: Some(queue.topic.to_string()),
                            partition: Some(queue.partition),
                        };
                        self.on_batch_error(id, Arc::new(err), false, p.log_start_offset);
                    }
                }
            }
        }
    }

    /// Removes a batch from the sender's tables.
    fn take(&mut self, id: u64) -> Option<SentBatch> {
        let batch = self.batches.remove(&id)?;
        if let Some(part) = self.parts.get_mut(batch.queue) {
            if let Some(pos) = part.unfinished.iter().position(|b| *b == id) {
                part.unfinished.remove(pos);
            }
            match batch.phase {
                Phase::InFlight => part.in_flight = part.in_flight.saturating_sub(1),
                Phase::Waiting(_) => part.waiting = part.waiting.saturating_sub(1),
            }
        }
        Some(batch)
    }

    fn on_batch_written(
        &mut self,
        id: u64,
        base_offset: Option<i64>,
        log_append_time: Option<i64>,
    ) {
        let Some(batch) = self.take(id) else { return };
        if let (Some(part), Some(queue)) = (
            self.parts.get_mut(batch.queue),
            self.queues.get(batch.queue),
        ) {
            part.progressed(&queue.topic, queue.partition);
            if self.idempotent && part.seq.producer == Some(batch.producer) {
                part.seq.acked(batch.last_seq());
            }
        }
        if !batch.reported {
            batch.completion.complete(Outcome::Written {
                base_offset,
                log_append_time,
            });
        }
        self.shared.accumulator.finished(id);
        self.shared.accumulator.release(batch.reserved);
    }

    fn on_batch_error(&mut self, id: u64, err: Arc<Error>, unknown: bool, log_start_offset: i64) {
        let err = match &self.txn {
            Some(_) => produce_error_in_txn(err),
            None => err,
        };
        let Some(batch) = self.batches.get_mut(&id) else {
            return;
        };
        if unknown {
            batch.maybe_written = true;
        }
        let part = batch.queue;
        let code = err.code();
        let same_producer = self
            .parts
            .get(part)
            .is_some_and(|p| p.seq.producer == Some(batch.producer));
        if batch.reported {
            // Expired while in flight: the caller knows; keep the books straight.
            let batch = self.take(id);
            if let Some(batch) = batch {
                if let Some(p) = self.parts.get_mut(part).filter(|_| self.idempotent) {
                    p.seq.mark_unresolved(batch.last_seq());
                }
                self.shared.accumulator.release(batch.reserved);
            }
            return;
        }
        let (base_seq, attempts) = (batch.base_seq, batch.attempts);
        let mut retriable = err.is_retriable();
        if let Some(p) = self
            .parts
            .get_mut(part)
            .filter(|_| self.idempotent && same_producer)
        {
            let verdict = match code {
                Some(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER) => {
                    Some(p.seq.on_out_of_order(base_seq))
                }
                Some(ErrorCode::UNKNOWN_PRODUCER_ID) => {
                    Some(p.seq.on_unknown_producer(log_start_offset))
                }
                _ => None,
            };
            match verdict {
                Some(SequenceVerdict::RetryAfterBump) => {
                    self.request_bump(part);
                    retriable = true;
                }
                Some(SequenceVerdict::Retry) => retriable = true,
                None => {}
            }
        }
        if matches!(
            code,
            Some(
                ErrorCode::NOT_LEADER_OR_FOLLOWER
                    | ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
                    | ErrorCode::LEADER_NOT_AVAILABLE
                    | ErrorCode::KAFKA_STORAGE_ERROR
            )
        ) {
            self.want_metadata();
        }
        let now = Instant::now();
        let fatal = err.is_fatal();
        let expired = now >= self.batches.get(&id).map_or(now, |b| b.deadline);
        let can_retry = retriable && !fatal && !expired && attempts <= self.shared.config.retries;
        if can_retry {
            if let (Some(p), Some(queue)) = (self.parts.get_mut(part), self.queues.get(part)) {
                p.stalled(&queue.topic, queue.partition, &err);
            }
            let at = now + self.backoff.delay(attempts.saturating_sub(1));
            if let Some(batch) = self.batches.get_mut(&id) {
                batch.phase = Phase::Waiting(at);
            }
            if let Some(p) = self.parts.get_mut(part) {
                p.in_flight = p.in_flight.saturating_sub(1);
                p.waiting += 1;
            }
            return;
        }
        let Some(batch) = self.take(id) else { return };
        let may_be_written = batch.maybe_written;
        if self.idempotent && same_producer {
            if may_be_written {
                if let Some(p) = self.parts.get_mut(part) {
                    p.seq.mark_unresolved(batch.last_seq());
                }
            } else {
                // Surely not written, and its sequences are spent: a gap only a new epoch
                // closes (Java bumps too).
                self.request_bump(part);
            }
        }
        if fatal {
            self.shared.set_fatal(Arc::clone(&err));
        }

        // Out of time rather than out of luck: say so, as Java does, with the last error.
        let err = match self.queues.get(part) {
            Some(queue) if retriable && expired => {
                Arc::new(self.timeout_error(part, queue, &format!("last attempt failed: {err}")))
            }
            _ => err,
        };
        self.settle_failed(batch, err, may_be_written);
    }

    fn settle_failed(&self, batch: SentBatch, cause: Arc<Error>, may_be_written: bool) {
        if let Some(link) = &self.shared.txn {
            // Java: any batch that fails in a transaction makes it abortable; its sequence
            // numbers are spent, so the abort takes a new epoch.
            link.fail(Arc::clone(&cause), true);
        }
        if !batch.reported {
            batch.completion.complete(Outcome::Failed {
                cause,
                may_be_written,
            });
        }
        self.shared.accumulator.finished(batch.id);
        self.shared.accumulator.release(batch.reserved);
    }

    /// Fails every batch, queued or sent, with `cause` (the producer cannot go on).
    fn fail_everything(&mut self, cause: &Arc<Error>) {
        for queue in &self.queues {
            for batch in queue.drain() {
                fail_open_shared(&self.shared, batch, Arc::clone(cause));
            }
        }
        let ids: Vec<u64> = self.batches.keys().copied().collect();
        for id in ids {
            if let Some(batch) = self.take(id) {
                let may_be_written = batch.maybe_written || batch.phase == Phase::InFlight;
                self.settle_failed(batch, Arc::clone(cause), may_be_written);
            }
        }
    }
}

/// What a partition would send.
#[derive(Debug, Clone, Copy)]
enum Pick {
    Retry(u64),
    /// A new batch, of at most this many bytes.
    New(usize),
}

/// A transactional Produce refused by the partition leader for a stale epoch means the
/// coordinator has aborted the transaction with a new epoch (after `transaction.timeout.ms`),
/// or a newer instance fenced us: abortable, as for the Java client (KIP-588); the abort then
/// learns which (the coordinator answers PRODUCER_FENCED to a fenced instance).
fn produce_error_in_txn(err: Arc<Error>) -> Arc<Error> {
    match &*err {
        Error::Kafka {
            code: ErrorCode::INVALID_PRODUCER_EPOCH,
            message,
            topic,
            partition,
        } => Arc::new(Error::Kafka {
            code: ErrorCode::TRANSACTION_ABORTABLE,
            message: Some(format!(
                "the partition leader refused the producer epoch (INVALID_PRODUCER_EPOCH{}): \
                 the coordinator aborted the transaction, or a newer producer fenced this one",
                message
                    .as_ref()
                    .map(|m| format!(": {m}"))
                    .unwrap_or_default()
            )),
            topic: topic.clone(),
            partition: *partition,
        }),
        _ => err,
    }
}

/// Fails a batch that was never sent.
fn fail_open(shared: &Shared, batch: OpenBatch, cause: Error) {
    fail_open_shared(shared, batch, Arc::new(cause));
}

fn fail_open_shared(shared: &Shared, batch: OpenBatch, cause: Arc<Error>) {
    if let Some(link) = &shared.txn {
        // A record of the open transaction that will not be written: it cannot commit.
        link.fail(Arc::clone(&cause), false);
    }
    batch.completion.complete(Outcome::Failed {
        cause,
        may_be_written: false,
    });
    shared.accumulator.finished(batch.id);
    shared.accumulator.release(batch.reserved);
}

/// The batch in `bytes` with a new producer id, epoch and base sequence, and its CRC redone.
fn rewrite_producer(
    bytes: &Bytes,
    producer: ProducerIdEpoch,
    base_seq: i32,
) -> Result<Bytes, Error> {
    const PRODUCER_ID: usize = 43;
    const CRC: usize = 17;
    let malformed = |reason: String| Error::Kafka {
        code: ErrorCode::CORRUPT_MESSAGE,
        message: Some(format!("cannot renumber a batch: {reason}")),
        topic: None,
        partition: None,
    };
    let mut out = BytesMut::with_capacity(bytes.len());
    out.extend_from_slice(bytes);
    let mut fields = Vec::with_capacity(14);
    fields.put_i64(producer.0);
    fields.put_i16(producer.1);
    fields.put_i32(base_seq);
    out.get_mut(PRODUCER_ID..PRODUCER_ID + fields.len())
        .ok_or_else(|| malformed("batch too short".into()))?
        .copy_from_slice(&fields);
    let crc = RecordBatch::new(out.clone().freeze())
        .map_err(|e| malformed(e.to_string()))?
        .compute_crc();
    out.get_mut(CRC..CRC + 4)
        .ok_or_else(|| malformed("batch too short".into()))?
        .copy_from_slice(&crc.to_be_bytes());
    Ok(out.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrokafka_protocol::record::{BatchBuilder, RecordInput};

    #[test]
    fn renumbered_batches_keep_their_records_and_a_valid_crc() {
        let mut b = BatchBuilder::new()
            .compression(ferrokafka_protocol::record::Compression::Lz4)
            .producer(5, 0)
            .base_sequence(40);
        for i in 0..3 {
            b.push(RecordInput {
                timestamp: 1_000 + i,
                key: Some(Bytes::from(format!("k{i}"))),
                value: Some(Bytes::from_static(b"v")),
                headers: Vec::new(),
            })
            .unwrap();
        }
        let original = b.build().unwrap();
        let rewritten = rewrite_producer(&original, (9, 3), 0).unwrap();
        let batch = RecordBatch::new(rewritten).unwrap();
        batch.verify_crc().unwrap();
        assert_eq!(
            (
                batch.producer_id(),
                batch.producer_epoch(),
                batch.base_sequence()
            ),
            (9, 3, 0)
        );
        let before: Vec<_> = RecordBatch::new(original)
            .unwrap()
            .records()
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        let after: Vec<_> = batch.records().unwrap().map(|r| r.unwrap()).collect();
        assert_eq!(before, after);
        assert!(rewrite_producer(&Bytes::from_static(b"short"), (1, 1), 0).is_err());
    }
}
