//! Workloads for the cluster scenarios (`tests/cluster.rs`): a steady feeder, group readers
//! and exactly-once pipelines of ferrokafka and librdkafka, and what they saw.
//!
//! Every record carries its id (`record-<id>` in, `out-<id>` out), so a scenario can count
//! per id what was lost and what came twice, and every reader marks a [`Timeline`] when it
//! makes progress, so the longest stretch without progress during a fault can be put beside
//! the other client's. Clients of both libraries run at the same time against the same faults.
//!
//! What not: no timing assertions; the scenarios print stall times and assert counts.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ferrokafka::consumer::TopicPartition;
use ferrokafka::{
    AutoOffsetReset, Client, ClientConfig, Consumer, ConsumerConfig, CoordinatorType,
    IsolationLevel, Producer, ProducerConfig, ProducerRecord,
};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer as _};
use rdkafka::message::Message;
use rdkafka::producer::{
    BaseProducer, BaseRecord, DefaultProducerContext, Producer as _, ThreadedProducer,
};
use rdkafka::{Offset, TopicPartitionList};

/// A shared stop signal.
pub type Stop = Arc<AtomicBool>;

/// When a client made progress, and which ids it saw how often.
#[derive(Debug)]
pub struct Seen {
    start: Instant,
    times: Mutex<Vec<Duration>>,
    counts: Mutex<BTreeMap<u64, u32>>,
}

impl Seen {
    /// An empty record, timed from `start`.
    pub fn new(start: Instant) -> Arc<Seen> {
        Arc::new(Seen {
            start,
            times: Mutex::new(Vec::new()),
            counts: Mutex::new(BTreeMap::new()),
        })
    }

    /// Notes that `id` arrived now.
    pub fn saw(&self, id: u64) {
        self.times.lock().expect("times").push(self.start.elapsed());
        *self.counts.lock().expect("counts").entry(id).or_default() += 1;
    }

    /// Notes the id of every record in `records` (what a ferrokafka poll returned).
    pub fn saw_records(&self, records: &[ferrokafka::ConsumerRecord]) {
        for r in records {
            if let Some(id) = r.value.as_deref().and_then(id_of) {
                self.saw(id);
            }
        }
    }

    /// Distinct ids seen.
    pub fn distinct(&self) -> usize {
        self.counts.lock().expect("counts").len()
    }

    /// Whether every id in `ids` was seen.
    pub fn covers(&self, ids: &[u64]) -> bool {
        let counts = self.counts.lock().expect("counts");
        ids.iter().all(|id| counts.contains_key(id))
    }

    /// Ids in `ids` never seen.
    pub fn lost(&self, ids: &[u64]) -> usize {
        let counts = self.counts.lock().expect("counts");
        ids.iter().filter(|id| !counts.contains_key(id)).count()
    }

    /// Arrivals beyond the first per id.
    pub fn duplicated(&self) -> u64 {
        let counts = self.counts.lock().expect("counts");
        counts
            .values()
            .map(|c| u64::from(c.saturating_sub(1)))
            .sum()
    }

    /// The longest stretch without an arrival that began in `[from, until]` (times since
    /// `start`), ending at the next arrival or, if none came, now.
    pub fn longest_stall(&self, from: Duration, until: Duration) -> Duration {
        let mut times = self.times.lock().expect("times").clone();
        times.sort();
        let now = self.start.elapsed();
        let mut longest = Duration::ZERO;
        let mut last = from;
        for t in times.into_iter().chain(std::iter::once(now)) {
            if t <= from {
                continue;
            }
            longest = longest.max(t - last);
            last = t;
            if t > until {
                break;
            }
        }
        longest
    }
}

/// The id in `record-<id>` or `out-<id>`.
pub fn id_of(value: &[u8]) -> Option<u64> {
    let s = std::str::from_utf8(value).ok()?;
    s.strip_prefix("record-")
        .or_else(|| s.strip_prefix("out-"))?
        .parse()
        .ok()
}

/// A config for `bootstrap` as the scenarios use it.
pub fn client_config(bootstrap: &str) -> ClientConfig {
    ClientConfig::new(bootstrap).expect("client config")
}

/// Waits until `done` holds or `limit` passes; true if it held.
pub fn wait_for(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while !done() {
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    true
}

/// A key (`<prefix>-<n>`) whose coordinator of `kind` is `node`, found by asking the cluster.
pub async fn key_coordinated_by(
    client: &Client,
    kind: CoordinatorType,
    prefix: &str,
    node: Option<i32>,
) -> (String, i32) {
    for n in 0..200 {
        let key = format!("{prefix}-{n}");
        let found = client.find_coordinator(kind, &key).await;
        match found {
            Ok(b) if node.is_none_or(|want| want == b.node_id) => return (key, b.node_id),
            Ok(_) => {}
            // A coordinator still loading on a fresh cluster: ask again shortly.
            Err(err) if err.is_retriable() => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(err) => panic!("FindCoordinator for {key}: {err}"),
        }
    }
    panic!("no {kind:?} key with prefix {prefix} is coordinated by node {node:?}");
}

/// Writes `record-<id>` to partition `id % partitions` of `topic`, one record every `every`,
/// with an idempotent `acks=all` ferrokafka producer, until `stop`; returns the acknowledged
/// ids. A record that fails is reported and left out (it was not acknowledged).
pub async fn feed(
    bootstrap: String,
    topic: String,
    partitions: i32,
    every: Duration,
    stop: Stop,
) -> Vec<u64> {
    feed_with(bootstrap, topic, partitions, every, &[], stop).await
}

/// [`feed`] with producer settings by their Java names (e.g. `acks=1`).
pub async fn feed_with(
    bootstrap: String,
    topic: String,
    partitions: i32,
    every: Duration,
    settings: &[(&str, &str)],
    stop: Stop,
) -> Vec<u64> {
    let mut config = ProducerConfig::new(&bootstrap).expect("producer config");
    for (key, value) in settings {
        config.set(key, value).expect("producer setting");
    }
    let producer = Producer::connect(config).await.expect("feeder producer");
    let mut pending = Vec::new();
    let mut ticks = tokio::time::interval(every);
    let mut id = 0u64;
    while !stop.load(Ordering::SeqCst) {
        ticks.tick().await;
        let partition = i32::try_from(id % u64::try_from(partitions).unwrap_or(1)).unwrap_or(0);
        let record = ProducerRecord::new(topic.clone())
            .partition(partition)
            .key(id.to_string())
            .value(format!("record-{id}"));
        match producer.send(record).await {
            Ok(delivery) => pending.push((id, delivery)),
            Err(err) => eprintln!("feeder: record {id} refused: {err}"),
        }
        id += 1;
    }
    let mut acked = Vec::new();
    let mut failed = 0;
    for (id, delivery) in pending {
        match delivery.await {
            Ok(_) => acked.push(id),
            Err(err) => {
                failed += 1;
                if failed <= 3 {
                    eprintln!("feeder: record {id} not delivered: {err}");
                }
            }
        }
    }
    // A feeder tolerates failures (it counts them above); a close error is one more.
    let _ = producer.close().await;
    eprintln!(
        "feeder of {topic}: {} records acknowledged, {failed} failed",
        acked.len()
    );
    acked
}

/// The librdkafka counterpart of [`feed_with`] (a `BaseProducer` with the same settings), on
/// a thread of its own.
pub fn rdkafka_feed(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
    every: Duration,
    settings: &[(&str, &str)],
    stop: Stop,
) -> std::thread::JoinHandle<Vec<u64>> {
    let mut config = rdkafka::ClientConfig::new();
    config
        .set("bootstrap.servers", bootstrap)
        .set("linger.ms", "5")
        .set("log_level", "4");
    for (key, value) in settings {
        config.set(*key, *value);
    }
    let producer: BaseProducer<Acked> = config
        .create_with_context(Acked::default())
        .expect("rdkafka feeder");
    let topic = topic.to_owned();
    std::thread::spawn(move || {
        let mut id = 0u64;
        let mut next = Instant::now();
        while !stop.load(Ordering::SeqCst) {
            let now = Instant::now();
            if now < next {
                producer.poll(next - now);
                continue;
            }
            next += every;
            let partition = i32::try_from(id % u64::try_from(partitions).unwrap_or(1)).unwrap_or(0);
            let key = id.to_string();
            let value = format!("record-{id}");
            let record = BaseRecord::with_opaque_to(&topic, Box::new(id))
                .partition(partition)
                .key(&key)
                .payload(&value);
            if let Err((err, _)) = producer.send(record) {
                eprintln!("rdkafka feeder: record {id} refused: {err}");
            }
            id += 1;
        }
        if let Err(err) = producer.flush(Duration::from_secs(120)) {
            eprintln!("rdkafka feeder: flush: {err}");
        }
        let (acked, failed) = producer.context().take();
        eprintln!(
            "rdkafka feeder of {topic}: {} records acknowledged, {failed} failed",
            acked.len()
        );
        acked
    })
}

/// Collects the ids librdkafka acknowledged.
#[derive(Default)]
struct Acked(Mutex<(Vec<u64>, usize)>);

impl Acked {
    fn take(&self) -> (Vec<u64>, usize) {
        let mut inner = self.0.lock().expect("acked");
        let (mut acked, failed) = std::mem::take(&mut *inner);
        acked.sort_unstable();
        (acked, failed)
    }
}

impl rdkafka::ClientContext for Acked {}

impl rdkafka::producer::ProducerContext for Acked {
    type DeliveryOpaque = Box<u64>;

    fn delivery(&self, result: &rdkafka::producer::DeliveryResult<'_>, id: Box<u64>) {
        let mut inner = self.0.lock().expect("acked");
        match result {
            Ok(_) => inner.0.push(*id),
            Err((err, _)) => {
                inner.1 += 1;
                if inner.1 <= 3 {
                    eprintln!("rdkafka feeder: record {id} not delivered: {err}");
                }
            }
        }
    }
}

/// Everything in `topic` (read_uncommitted, from the beginning up to the end offsets at the
/// time of the call): per record its partition, offset and id.
pub async fn read_topic(bootstrap: &str, topic: &str, partitions: i32) -> Vec<(i32, i64, u64)> {
    let config = ConsumerConfig::builder()
        .client(client_config(bootstrap))
        .auto_offset_reset(AutoOffsetReset::Earliest)
        .build()
        .expect("reader config");
    let mut consumer = Consumer::new(config).await.expect("reader");
    let tps: Vec<TopicPartition> = (0..partitions)
        .map(|p| TopicPartition::new(topic, p))
        .collect();
    consumer.assign(tps.clone()).expect("assign");
    // The end offsets, by librdkafka: the referee is not the client under test.
    let ends: BTreeMap<i32, i64> = tps
        .iter()
        .map(|tp| {
            let end = crate::peers::rdkafka::watermarks(bootstrap, topic, tp.partition).1;
            (tp.partition, end)
        })
        .collect();
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let mut done = true;
        for tp in &tps {
            let end = ends.get(&tp.partition).copied().unwrap_or(0);
            if end > 0 && consumer.position(tp).await.unwrap_or(0) < end {
                done = false;
            }
        }
        if done {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "reading {topic} back: out of time"
        );
        for r in consumer
            .poll(Duration::from_millis(200))
            .await
            .expect("poll")
        {
            if let Some(id) = r.value.as_deref().and_then(id_of) {
                out.push((r.partition, r.offset, id));
            }
        }
    }
    let _ = consumer.close().await;
    out
}

/// What a topic holds against what its producer was told: ids acknowledged but missing,
/// ids written more than once, and records whose id is lower than the one before them in
/// the same partition (the feeders write each partition's ids in increasing order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Audit {
    /// Acknowledged ids.
    pub acked: usize,
    /// Acknowledged but not in the log.
    pub lost: usize,
    /// Copies beyond the first.
    pub duplicated: usize,
    /// Out of order within a partition.
    pub reordered: usize,
}

/// Audits `log` (from [`read_topic`]) against `acked`.
pub fn audit(log: &[(i32, i64, u64)], acked: &[u64]) -> Audit {
    let mut counts: BTreeMap<u64, usize> = BTreeMap::new();
    let mut last: BTreeMap<i32, (i64, u64)> = BTreeMap::new();
    let mut sorted = log.to_vec();
    sorted.sort_unstable();
    let mut reordered = 0;
    for (partition, offset, id) in sorted {
        *counts.entry(id).or_default() += 1;
        if let Some((_, before)) = last.insert(partition, (offset, id)) {
            if id < before {
                reordered += 1;
            }
        }
    }
    Audit {
        acked: acked.len(),
        lost: acked.iter().filter(|id| !counts.contains_key(id)).count(),
        duplicated: counts.values().map(|c| c - 1).sum(),
        reordered,
    }
}

/// How often the group readers commit (asynchronously, what they have processed): about as
/// often as auto-commit would at a short interval, not once per poll.
const COMMIT_EVERY: Duration = Duration::from_millis(500);

/// A ferrokafka group member reading `topic` at least once (an async commit of what it
/// processed every [`COMMIT_EVERY`]) until `stop`; marks `seen` for every record.
pub async fn ferrokafka_group_reader(
    bootstrap: String,
    topic: String,
    group: String,
    seen: Arc<Seen>,
    stop: Stop,
) -> Consumer {
    let config = ConsumerConfig::builder()
        .client(client_config(&bootstrap))
        .group_id(group)
        .enable_auto_commit(false)
        .auto_offset_reset(AutoOffsetReset::Earliest)
        .session_timeout(Duration::from_secs(10))
        .heartbeat_interval(Duration::from_secs(1))
        .build()
        .expect("consumer config");
    let mut consumer = Consumer::new(config).await.expect("consumer");
    consumer.subscribe([topic.as_str()]).expect("subscribe");
    let mut committed_at = Instant::now();
    while !stop.load(Ordering::SeqCst) {
        match consumer.poll(Duration::from_millis(100)).await {
            Ok(records) => {
                seen.saw_records(&records);
                if committed_at.elapsed() >= COMMIT_EVERY {
                    committed_at = Instant::now();
                    drop(consumer.commit_async());
                }
            }
            Err(err) => {
                eprintln!("ferrokafka reader: {err}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    consumer
}

/// Marks `seen` with the id of what librdkafka's poll returned; reports a poll error.
fn note_polled(
    seen: &Seen,
    polled: Option<rdkafka::error::KafkaResult<rdkafka::message::BorrowedMessage<'_>>>,
    who: &str,
) {
    match polled {
        Some(Ok(m)) => {
            if let Some(id) = m.payload().and_then(id_of) {
                seen.saw(id);
            }
        }
        Some(Err(err)) => eprintln!("{who}: {err}"),
        None => {}
    }
}

/// The librdkafka counterpart of [`ferrokafka_group_reader`], on a thread of its own.
pub fn rdkafka_group_reader(
    bootstrap: &str,
    topic: &str,
    group: &str,
    seen: Arc<Seen>,
    stop: Stop,
) -> std::thread::JoinHandle<()> {
    let consumer: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("session.timeout.ms", "10000")
        .set("heartbeat.interval.ms", "1000")
        .set("log_level", "4")
        .create()
        .expect("rdkafka consumer");
    consumer.subscribe(&[topic]).expect("subscribe");
    std::thread::spawn(move || {
        let mut committed_at = Instant::now();
        while !stop.load(Ordering::SeqCst) {
            note_polled(
                &seen,
                consumer.poll(Duration::from_millis(100)),
                "rdkafka reader",
            );
            if committed_at.elapsed() >= COMMIT_EVERY {
                committed_at = Instant::now();
                let _ = consumer.commit_consumer_state(CommitMode::Async);
            }
        }
        consumer.unsubscribe();
    })
}

/// A ferrokafka reader of everything in `topic` (`partitions` partitions) with
/// `read_committed`, from the beginning, until `stop`: what a downstream consumer of an
/// exactly-once pipeline sees.
pub async fn committed_reader(
    bootstrap: String,
    topic: String,
    partitions: i32,
    seen: Arc<Seen>,
    stop: Stop,
) {
    let config = ConsumerConfig::builder()
        .client(client_config(&bootstrap))
        .isolation_level(IsolationLevel::ReadCommitted)
        .auto_offset_reset(AutoOffsetReset::Earliest)
        .build()
        .expect("reader config");
    let mut consumer = Consumer::new(config).await.expect("reader");
    consumer
        .assign((0..partitions).map(|p| TopicPartition::new(topic.clone(), p)))
        .expect("assign");
    while !stop.load(Ordering::SeqCst) {
        match consumer.poll(Duration::from_millis(100)).await {
            Ok(records) => {
                seen.saw_records(&records);
            }
            Err(err) => {
                eprintln!("committed reader of {topic}: {err}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    let _ = consumer.close().await;
}

/// Where and how a librdkafka exactly-once pipeline runs.
#[derive(Debug, Clone, Copy)]
pub struct EosPipeline<'a> {
    /// The cluster.
    pub bootstrap: &'a str,
    /// Topic read.
    pub input: &'a str,
    /// Topic written.
    pub output: &'a str,
    /// The consumer group.
    pub group: &'a str,
    /// `transactional.id`.
    pub transactional_id: &'a str,
    /// `transaction.timeout.ms`.
    pub transaction_timeout_ms: &'a str,
    /// Most records per transaction.
    pub max_batch: usize,
}

/// A librdkafka consume-transform-produce pipeline with transactions, as librdkafka's own
/// example does it: read `input` in `group` (`read_committed`), write `out-<id>` to `output`
/// for each `record-<id>`, one transaction per poll batch (at most `max_batch` records, as
/// `max.poll.records` bounds the ferrokafka pipeline's) with the offsets; on an abortable
/// error abort and rewind to the committed offsets. Runs until `stop`; returns the number of
/// aborted transactions.
pub fn rdkafka_eos_pipeline(
    pipeline: EosPipeline<'_>,
    stop: Stop,
) -> std::thread::JoinHandle<usize> {
    let EosPipeline {
        bootstrap,
        input,
        output,
        group,
        transactional_id,
        transaction_timeout_ms,
        max_batch,
    } = pipeline;
    let consumer: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("isolation.level", "read_committed")
        .set("session.timeout.ms", "10000")
        .set("heartbeat.interval.ms", "1000")
        .set("log_level", "4")
        .create()
        .expect("rdkafka pipeline consumer");
    consumer.subscribe(&[input]).expect("subscribe");
    let output = output.to_owned();
    let bootstrap = bootstrap.to_owned();
    let transactional_id = transactional_id.to_owned();
    let transaction_timeout_ms = transaction_timeout_ms.to_owned();
    std::thread::spawn(move || {
        // Short enough that the loop sees `stop` soon; a call that runs out is retried.
        let timeout = Duration::from_secs(10);
        let init = |id: &str| {
            transactional_producer(
                &bootstrap,
                id,
                &transaction_timeout_ms,
                Duration::from_secs(60),
            )
        };
        let mut producer = init(&transactional_id);
        let mut aborts = 0;
        while !stop.load(Ordering::SeqCst) {
            let mut batch = Vec::new();
            let poll_until = Instant::now() + Duration::from_millis(100);
            while Instant::now() < poll_until && batch.len() < max_batch {
                match consumer.poll(Duration::from_millis(20)) {
                    Some(Ok(m)) => batch.push((
                        m.partition(),
                        m.offset(),
                        m.topic().to_owned(),
                        m.payload().and_then(id_of),
                    )),
                    Some(Err(err)) => eprintln!("rdkafka pipeline poll: {err}"),
                    None => {}
                }
            }
            if batch.is_empty() {
                continue;
            }
            let attempt = (|| -> Result<(), rdkafka::error::KafkaError> {
                producer.begin_transaction()?;
                let mut next: BTreeMap<(String, i32), i64> = BTreeMap::new();
                for (partition, offset, topic, id) in &batch {
                    if let Some(id) = id {
                        let key = id.to_string();
                        let value = format!("out-{id}");
                        let mut record = BaseRecord::to(&output).key(&key).payload(&value);
                        loop {
                            match producer.send(record) {
                                Ok(()) => break,
                                Err((err, back)) => {
                                    if err.rdkafka_error_code()
                                        != Some(rdkafka::types::RDKafkaErrorCode::QueueFull)
                                    {
                                        return Err(err);
                                    }
                                    std::thread::sleep(Duration::from_millis(10));
                                    record = back;
                                }
                            }
                        }
                    }
                    next.insert((topic.clone(), *partition), offset + 1);
                }
                let mut offsets = TopicPartitionList::new();
                for ((topic, partition), offset) in &next {
                    offsets.add_partition_offset(topic, *partition, Offset::Offset(*offset))?;
                }
                let metadata = consumer
                    .group_metadata()
                    .ok_or(rdkafka::error::KafkaError::Canceled)?;
                retrying(|| producer.send_offsets_to_transaction(&offsets, &metadata, timeout))?;
                retrying(|| producer.commit_transaction(timeout))?;
                Ok(())
            })();
            if let Err(err) = attempt {
                aborts += 1;
                let fatal =
                    matches!(&err, rdkafka::error::KafkaError::Transaction(e) if e.is_fatal());
                if fatal {
                    // librdkafka's documented answer to a fatal error (fenced, for one):
                    // a new producer instance with the same transactional.id.
                    eprintln!("rdkafka pipeline: fatal, new producer instance: {err}");
                    drop(producer);
                    producer = init(&transactional_id);
                } else {
                    eprintln!("rdkafka pipeline: transaction failed, aborting: {err}");
                    if let Err(abort) = retrying(|| producer.abort_transaction(timeout)) {
                        eprintln!("rdkafka pipeline: abort failed: {abort}");
                    }
                }
                rewind(&consumer);
            }
        }
        consumer.unsubscribe();
        aborts
    })
}

/// Calls a librdkafka transaction API again while it fails with a retriable error (a timed-out
/// `commit_transaction` must be called again, not aborted: librdkafka's rule), up to 6 times.
fn retrying(
    mut call: impl FnMut() -> rdkafka::error::KafkaResult<()>,
) -> rdkafka::error::KafkaResult<()> {
    let mut tries = 0;
    loop {
        match call() {
            Err(rdkafka::error::KafkaError::Transaction(e)) if e.is_retriable() && tries < 5 => {
                tries += 1;
                eprintln!("rdkafka pipeline: {e}; calling again");
            }
            other => return other,
        }
    }
}

/// A librdkafka transactional producer, initialized (retried until `timeout`: the
/// coordinator may be moving). Threaded: its delivery reports are polled in the background,
/// which librdkafka needs while it aborts a transaction.
fn transactional_producer(
    bootstrap: &str,
    transactional_id: &str,
    transaction_timeout_ms: &str,
    timeout: Duration,
) -> ThreadedProducer<DefaultProducerContext> {
    let deadline = Instant::now() + timeout;
    loop {
        let producer: ThreadedProducer<DefaultProducerContext> = rdkafka::ClientConfig::new()
            .set("bootstrap.servers", bootstrap)
            .set("transactional.id", transactional_id)
            .set("transaction.timeout.ms", transaction_timeout_ms)
            .set("log_level", "4")
            .create()
            .expect("rdkafka pipeline producer");
        match producer.init_transactions(Duration::from_secs(10)) {
            Ok(()) => return producer,
            Err(err) if Instant::now() < deadline => {
                eprintln!("rdkafka pipeline: init_transactions: {err}; again");
            }
            Err(err) => panic!("rdkafka pipeline: init_transactions: {err}"),
        }
    }
}

/// Seeks every assigned partition back to its committed offset.
fn rewind(consumer: &BaseConsumer) {
    let Ok(assigned) = consumer.assignment() else {
        return;
    };
    let Ok(committed) = consumer.committed_offsets(assigned, Duration::from_secs(30)) else {
        return;
    };
    for e in committed.elements() {
        let offset = match e.offset() {
            Offset::Offset(o) => Offset::Offset(o),
            _ => Offset::Beginning,
        };
        if let Err(err) = consumer.seek(e.topic(), e.partition(), offset, Duration::from_secs(10)) {
            eprintln!(
                "rdkafka pipeline: rewind {}-{}: {err}",
                e.topic(),
                e.partition()
            );
        }
    }
}

/// A librdkafka reader of partition 0 with `client.rack`, whose statistics tell which broker
/// it fetches from.
#[derive(Debug)]
pub struct RackReader {
    thread: std::thread::JoinHandle<()>,
    fetching_from: Arc<std::sync::atomic::AtomicI32>,
}

impl RackReader {
    /// The broker librdkafka's latest statistics say partition 0 is fetched from (-1 before
    /// any).
    pub fn fetching_from(&self) -> i32 {
        self.fetching_from.load(Ordering::SeqCst)
    }

    /// Waits for the reader to stop.
    pub fn join(self) {
        self.thread.join().expect("rdkafka rack reader");
    }
}

/// Keeps the broker id from librdkafka's statistics.
struct FetchSource(Arc<std::sync::atomic::AtomicI32>);

impl rdkafka::ClientContext for FetchSource {
    fn stats(&self, statistics: rdkafka::Statistics) {
        let broker = statistics
            .topics
            .values()
            .flat_map(|t| t.partitions.get(&0))
            .map(|p| p.broker)
            .find(|b| *b >= 0);
        if let Some(broker) = broker {
            self.0.store(broker, Ordering::SeqCst);
        }
    }
}

impl rdkafka::consumer::ConsumerContext for FetchSource {}

/// Reads partition 0 of `topic` from the beginning with `client.rack=rack` (empty: none) and
/// `auto.offset.reset=earliest` until `stop`.
pub fn rdkafka_rack_reader(
    bootstrap: &str,
    topic: &str,
    rack: &str,
    seen: Arc<Seen>,
    stop: Stop,
) -> RackReader {
    let fetching_from = Arc::new(std::sync::atomic::AtomicI32::new(-1));
    let consumer: BaseConsumer<FetchSource> = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", format!("{topic}-rd-rack"))
        .set("client.rack", rack)
        .set("auto.offset.reset", "earliest")
        .set("statistics.interval.ms", "500")
        .set("log_level", "4")
        .create_with_context(FetchSource(fetching_from.clone()))
        .expect("rdkafka rack reader");
    let mut assignment = TopicPartitionList::new();
    assignment
        .add_partition_offset(topic, 0, Offset::Beginning)
        .expect("assignment");
    consumer.assign(&assignment).expect("assign");
    let thread = std::thread::spawn(move || {
        while !stop.load(Ordering::SeqCst) {
            note_polled(
                &seen,
                consumer.poll(Duration::from_millis(100)),
                "rdkafka rack reader",
            );
        }
    });
    RackReader {
        thread,
        fetching_from,
    }
}

/// A child process kept running until `stop`: started again whenever it exits, as a
/// supervisor (systemd, Kubernetes) restarts an application that stopped on a fatal error.
#[derive(Debug)]
pub struct Supervised {
    thread: std::thread::JoinHandle<usize>,
}

impl Supervised {
    /// Runs `command` (built afresh for every start) until `stop`, then kills it.
    pub fn start(
        what: &str,
        command: impl Fn() -> std::process::Command + Send + 'static,
        stop: Stop,
    ) -> Supervised {
        let what = what.to_owned();
        let thread = std::thread::spawn(move || {
            let mut restarts = 0;
            let mut child = command().spawn().expect("start the supervised process");
            while !stop.load(Ordering::SeqCst) {
                match child.try_wait() {
                    Ok(Some(status)) => {
                        restarts += 1;
                        eprintln!("{what} exited ({status}); starting it again");
                        child = command().spawn().expect("restart the supervised process");
                    }
                    Ok(None) => std::thread::sleep(Duration::from_millis(100)),
                    Err(err) => panic!("waiting for {what}: {err}"),
                }
            }
            let _ = child.kill();
            let _ = child.wait();
            restarts
        });
        Supervised { thread }
    }

    /// Waits for the supervisor to stop (after `stop`); how often the process was restarted.
    pub fn join(self) -> usize {
        self.thread.join().expect("supervisor")
    }
}
