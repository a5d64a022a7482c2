//! `producer`: producer throughput and CPU cost, ferrokafka against librdkafka, in the spirit of
//! Kafka's `kafka-producer-perf-test`.
//!
//! Every client writes N keyless records of a fixed size to a fresh topic on the same broker
//! (the `mini-broker` binary started here by default, or `--bootstrap` for any broker), with
//! the same settings: `linger.ms=5` and `batch.size=16384` (both adjustable), no compression,
//! at most 5 requests in flight, a 32 MiB buffer, and idempotence on with `acks=all` and off
//! with `acks=1`. The
//! clients are ferrokafka's `Producer` (awaiting every record's `DeliveryFuture`), rdkafka's
//! `BaseProducer` (delivery callbacks), rdkafka's `FutureProducer` (awaiting every
//! delivery future) and rskafka's `PartitionClient::produce`. rskafka has no accumulator of its
//! own, so the worker does what its users do: it cuts the records into groups of about
//! `batch.size` bytes, hands the groups to the partitions in turn, and keeps up to 5 `produce`
//! calls in flight per partition. rskafka always asks for `acks=all` and has no idempotence;
//! its cells say so rather than pretend to match.
//!
//! Each run is a separate child process of this binary (`producer-worker`), so that the CPU
//! time it reports is that client's alone: user + system time of the whole process (all its
//! threads: librdkafka's own, tokio's workers) from `/proc/self/stat`, taken after a warm-up
//! record was delivered and again once the last record was acknowledged. Runs of the clients
//! are interleaved, several per case, and the table shows medians.
//!
//! `--security ssl|sasl-ssl-scram` runs the clients over a TLS (and SASL) listener of the same
//! mini-broker, every client with the same settings (see `security.rs`); rskafka is left out
//! there, as it is built without TLS.
//!
//! `ferrokafka-txn` (for `semantics`, `acks=all` only) is ferrokafka's `TransactionalProducer`
//! with the same settings, committing a transaction every 100 ms.
//!
//! What not: no latency percentiles, no keyed records; compressed cases only through `suite`
//! (the worker takes `--compression`).

use std::process::ExitCode;
use std::time::{Duration, Instant};

use crate::broker::BrokerArgs;
use crate::security::{Endpoint, Security};
use crate::worker;

use bytes::Bytes;
use ferrokafka::producer::{Acks, Producer, ProducerConfig, ProducerRecord};
use ferrokafka::{Client, ClientConfig, NewTopic};
use rdkafka::config::ClientConfig as RdConfig;
use rdkafka::producer::{
    BaseProducer, BaseRecord, DeliveryResult, FutureProducer, FutureRecord, Producer as _,
    ProducerContext,
};
use rdkafka::ClientContext;

/// Options of `producer`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    broker: BrokerArgs,
    /// The listener the clients use (the broker's own set-up always uses PLAINTEXT).
    #[arg(long, value_enum, default_value_t)]
    security: Security,
    /// Records per run.
    #[arg(long, default_value_t = 500_000)]
    records: usize,
    /// Runs per client and case; the table shows the median.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Record sizes in bytes (value only; no key).
    #[arg(long, value_delimiter = ',', default_value = "100,1024")]
    sizes: Vec<usize>,
    /// Ack modes: 1 and/or all.
    #[arg(long, value_delimiter = ',', default_value = "1,all")]
    acks: Vec<String>,
    /// Partitions of each run's topic.
    #[arg(long, default_value_t = 1)]
    partitions: i32,
    /// `batch.size` for every client (Java's default; librdkafka's own is 1000000).
    #[arg(long, default_value_t = 16_384)]
    batch_size: usize,
    /// `linger.ms` for every client.
    #[arg(long, default_value_t = 5)]
    linger_ms: u64,
    /// Clients to run: ferrokafka, rdkafka-base, rdkafka-future, rskafka.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "ferrokafka,rdkafka-base,rdkafka-future,rskafka"
    )]
    clients: Vec<String>,
}

/// Options of the hidden `producer-worker`: one client, one run.
#[derive(Debug, clap::Args)]
pub struct WorkerArgs {
    #[command(flatten)]
    target: worker::Target,
    #[arg(long)]
    records: usize,
    #[arg(long)]
    size: usize,
    #[arg(long)]
    acks: String,
    #[arg(long)]
    batch_size: usize,
    #[arg(long)]
    linger_ms: u64,
    /// `compression.type`: none, gzip, snappy, lz4, zstd.
    #[arg(long, default_value = "none")]
    compression: String,
}

const BUFFER_BYTES: usize = 32 * 1024 * 1024;
const IN_FLIGHT: usize = 5;

pub(crate) use crate::worker::Measured;

/// One producer case, the same for every client.
#[derive(Debug, Clone)]
pub(crate) struct Case {
    pub(crate) records: usize,
    pub(crate) size: usize,
    pub(crate) acks: String,
    pub(crate) batch_size: usize,
    pub(crate) linger_ms: u64,
    pub(crate) compression: String,
}

pub fn run(mut args: Args) -> ExitCode {
    let Ok(broker) = args
        .broker
        .start(args.security)
        .map_err(|err| eprintln!("{err}"))
    else {
        return ExitCode::FAILURE;
    };
    args.security.keep_able_clients(&mut args.clients);
    let (bootstrap, broker_name) = (broker.bootstrap.clone(), broker.name.clone());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let admin = match rt.block_on(Client::connect(
        ClientConfig::new(&bootstrap).expect("bootstrap address"),
    )) {
        Ok(c) => c,
        Err(err) => {
            eprintln!("cannot reach {bootstrap}: {err}");
            return ExitCode::FAILURE;
        }
    };
    let mut rows = Vec::new();
    let mut topic_no = 0;
    for acks in &args.acks {
        for &size in &args.sizes {
            let mut samples: Vec<Vec<Measured>> = vec![Vec::new(); args.clients.len()];
            for run in 0..args.runs {
                for (c, client) in args.clients.iter().enumerate() {
                    topic_no += 1;
                    let topic = format!("perf-{}-{topic_no}", std::process::id());
                    let created = rt.block_on(
                        admin.create_topics(&[NewTopic::new(&topic).partitions(args.partitions)]),
                    );
                    if let Err(err) = created {
                        eprintln!("create topic {topic}: {err}");
                        return ExitCode::FAILURE;
                    }
                    let case = Case {
                        records: args.records,
                        size,
                        acks: acks.clone(),
                        batch_size: args.batch_size,
                        linger_ms: args.linger_ms,
                        compression: "none".to_owned(),
                    };
                    match measure(client, &broker.clients, &topic, &case) {
                        Ok(m) => {
                            eprintln!(
                                "acks={acks} size={size} run {} {client}: {:.0} msg/s, cpu {:.2}s",
                                run + 1,
                                args.records as f64 / m.elapsed.as_secs_f64(),
                                m.cpu.as_secs_f64()
                            );
                            samples[c].push(m);
                        }
                        Err(err) => {
                            eprintln!("{client} acks={acks} size={size}: {err}");
                            return ExitCode::FAILURE;
                        }
                    }
                }
            }
            rows.push((acks.clone(), size, samples));
        }
    }
    rt.block_on(admin.close());
    drop(broker);
    print_table(&args, &broker_name, &rows);
    ExitCode::SUCCESS
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    }
}

type Row = (String, usize, Vec<Vec<Measured>>);

fn print_table(args: &Args, broker: &str, rows: &[Row]) {
    println!(
        "{} records per run, {} runs per client (median), {broker}, {} partition(s); \
         linger.ms={}, batch.size={}, no compression, 5 in flight; \
         CPU = user+sys of the client's own process.\n",
        args.records, args.runs, args.partitions, args.linger_ms, args.batch_size
    );
    println!(
        "| acks | record | client | msgs/s | MB/s | CPU s / 1M records | msgs/s vs rdkafka | CPU vs rdkafka |"
    );
    println!("|---|---|---|---:|---:|---:|---:|---:|");
    for (acks, size, samples) in rows {
        let stats: Vec<(f64, f64)> = samples
            .iter()
            .map(|runs| {
                let rate = median(
                    runs.iter()
                        .map(|m| args.records as f64 / m.elapsed.as_secs_f64())
                        .collect(),
                );
                let cpu = median(
                    runs.iter()
                        .map(|m| m.cpu.as_secs_f64() * 1e6 / args.records as f64)
                        .collect(),
                );
                (rate, cpu)
            })
            .collect();
        let reference = args
            .clients
            .iter()
            .position(|c| c == "rdkafka-base")
            .and_then(|i| stats.get(i).copied());
        for (client, (rate, cpu)) in args.clients.iter().zip(&stats) {
            let mb = rate * *size as f64 / 1e6;
            let (vs_rate, vs_cpu) = match reference {
                Some((r, c)) => (format!("{:.2}×", rate / r), format!("{:.2}×", cpu / c)),
                None => ("–".into(), "–".into()),
            };
            println!(
                "| {acks} | {size} B | {client} | {rate:.0} | {mb:.1} | {cpu:.2} | {vs_rate} | {vs_cpu} |"
            );
        }
    }
}

/// Runs one client in a child process and reads its result line.
pub(crate) fn measure(
    client: &str,
    broker: &Endpoint,
    topic: &str,
    case: &Case,
) -> Result<Measured, String> {
    let fields = worker::run(
        "producer-worker",
        [client, &broker.bootstrap, topic],
        &broker.settings,
        &[
            "--records",
            &case.records.to_string(),
            "--size",
            &case.size.to_string(),
            "--acks",
            &case.acks,
            "--batch-size",
            &case.batch_size.to_string(),
            "--linger-ms",
            &case.linger_ms.to_string(),
            "--compression",
            &case.compression,
        ],
    )?;
    let [elapsed_ns, cpu_ticks, peak_rss_kib, ..] = fields[..] else {
        return Err(format!("bad result: {fields:?}"));
    };
    Ok(Measured {
        elapsed: Duration::from_nanos(elapsed_ns),
        cpu: ticks(cpu_ticks),
        records: case.records,
        peak_rss_kib,
    })
}

/// `/proc` reports CPU time in USER_HZ ticks, 100 per second on Linux.
fn ticks(n: u64) -> Duration {
    Duration::from_millis(n * 10)
}

/// User + system CPU ticks of this whole process (every thread), from `/proc/self/stat`.
fn cpu_ticks() -> u64 {
    process_cpu_ticks("self")
}

/// User + system CPU ticks of a process (`pid` or `self`), every thread; 0 if unreadable.
pub(crate) fn process_cpu_ticks(pid: &str) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line; 11 and 12 after the name.
    let get = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    get(11) + get(12)
}

/// Peak resident memory (VmHWM) of a process (`pid` or `self`), KiB; 0 if unreadable.
pub(crate) fn peak_rss_kib(pid: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// The worker: produces, then prints `RESULT <elapsed ns> <cpu ticks> <peak RSS KiB>`.
pub fn work(args: WorkerArgs) -> ExitCode {
    let result = match args.target.client.as_str() {
        "ferrokafka" => ferrokafka_run(&args),
        "ferrokafka-txn" => ferrokafka_txn_run(&args),
        "rdkafka-base" => rdkafka_base_run(&args),
        "rdkafka-future" => rdkafka_future_run(&args),
        "rskafka" => rskafka_run(&args),
        other => Err(format!("unknown client {other}")),
    };
    match result {
        Ok(m) => {
            println!(
                "RESULT {} {} {}",
                m.elapsed.as_nanos(),
                m.cpu.as_millis() / 10,
                m.peak_rss_kib
            );
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("{}: {err}", args.target.client);
            ExitCode::FAILURE
        }
    }
}

/// A multi-threaded runtime for one worker run.
fn worker_runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
}

fn payload(size: usize) -> Bytes {
    Bytes::from((0..size).map(|i| (i % 251) as u8).collect::<Vec<u8>>())
}

/// Starts the clock and the CPU counter for `records` records.
struct Stopwatch {
    start: Instant,
    cpu: u64,
    records: usize,
}

impl Stopwatch {
    fn start(records: usize) -> Self {
        Stopwatch {
            start: Instant::now(),
            cpu: cpu_ticks(),
            records,
        }
    }

    fn stop(self) -> Measured {
        Measured {
            elapsed: self.start.elapsed(),
            cpu: ticks(cpu_ticks().saturating_sub(self.cpu)),
            records: self.records,
            peak_rss_kib: peak_rss_kib("self"),
        }
    }
}

/// ferrokafka's producer settings for a run: the case's, the same as every client's.
fn ferrokafka_config(
    args: &WorkerArgs,
) -> Result<ferrokafka::producer::ProducerConfigBuilder, String> {
    let acks = if args.acks == "all" {
        Acks::All
    } else {
        Acks::Leader
    };
    let mut config = ProducerConfig::builder()
        .bootstrap_servers([args.target.bootstrap.as_str()])
        .acks(acks)
        .enable_idempotence(acks == Acks::All)
        .linger(Duration::from_millis(args.linger_ms))
        .batch_size(args.batch_size)
        .buffer_memory(BUFFER_BYTES)
        .max_in_flight(IN_FLIGHT)
        .compression(args.compression.parse().map_err(|e| format!("{e}"))?);
    for (k, v) in &args.target.settings {
        config = config.set(k, v).map_err(|e| e.to_string())?;
    }
    Ok(config)
}

fn ferrokafka_run(args: &WorkerArgs) -> Result<Measured, String> {
    let rt = worker_runtime()?;
    rt.block_on(async {
        let config = ferrokafka_config(args)?
            .build()
            .map_err(|e| e.to_string())?;
        let producer = Producer::connect(config).await.map_err(|e| e.to_string())?;
        let topic = args.target.topic.clone();
        let value = payload(args.size);
        // Warm-up: metadata, connection and producer id before the clock starts.
        producer
            .send(ProducerRecord::new(topic.clone()).value(value.clone()))
            .await
            .map_err(|e| e.to_string())?
            .await
            .map_err(|e| e.to_string())?;
        // Shared by every record: one reference-count increment each, no copy of the name.
        let topic: std::sync::Arc<str> = topic.into();
        let watch = Stopwatch::start(args.records);
        let mut deliveries = Vec::with_capacity(args.records);
        for _ in 0..args.records {
            let mut record = ProducerRecord::new(&topic);
            record.value = Some(value.clone());
            deliveries.push(producer.send(record).await.map_err(|e| e.to_string())?);
        }
        for d in deliveries {
            d.await.map_err(|e| e.to_string())?;
        }
        let measured = watch.stop();
        producer.close().await.map_err(|e| e.to_string())?;
        Ok(measured)
    })
}

/// ferrokafka's `TransactionalProducer` with the case's settings (`acks=all`): the records
/// in transactions of [`crate::semantics::TRANSACTION_SPAN`] each (begin, send until the span
/// has passed, commit), until all are sent and the last transaction committed. The warm-up is
/// one transaction of one record (producer id, metadata, connections), before the clock.
fn ferrokafka_txn_run(args: &WorkerArgs) -> Result<Measured, String> {
    use ferrokafka::TransactionalProducer;
    if args.acks != "all" {
        return Err("a transactional producer needs acks=all".to_owned());
    }
    let rt = worker_runtime()?;
    rt.block_on(async {
        let config = ferrokafka_config(args)?
            .transactional_id(format!("perf-txn-{}", std::process::id()))
            .build()
            .map_err(|e| e.to_string())?;
        let mut producer = TransactionalProducer::connect(config)
            .await
            .map_err(|e| e.to_string())?;
        producer
            .init_transactions()
            .await
            .map_err(|e| e.to_string())?;
        let topic: std::sync::Arc<str> = args.target.topic.as_str().into();
        let value = payload(args.size);
        let mut txn = producer.begin().await.map_err(|e| e.to_string())?;
        txn.send(ProducerRecord::new(&topic).value(value.clone()))
            .await
            .map_err(|e| e.to_string())?;
        txn.commit().await.map_err(|e| e.to_string())?;
        let watch = Stopwatch::start(args.records);
        let mut sent = 0;
        while sent < args.records {
            let mut txn = producer.begin().await.map_err(|e| e.to_string())?;
            let began = Instant::now();
            // The span is checked every 32 records: a clock read per record would be a cost
            // the idempotent producer's loop does not have.
            while sent < args.records && (sent % 32 != 0 || began.elapsed() < TXN_SPAN) {
                let mut record = ProducerRecord::new(&topic);
                record.value = Some(value.clone());
                txn.send(record).await.map_err(|e| e.to_string())?;
                sent += 1;
            }
            txn.commit().await.map_err(|e| e.to_string())?;
        }
        let measured = watch.stop();
        producer.close().await.map_err(|e| e.to_string())?;
        Ok(measured)
    })
}

const TXN_SPAN: Duration = crate::semantics::TRANSACTION_SPAN;

fn rdkafka_config(args: &WorkerArgs) -> RdConfig {
    let mut c = RdConfig::new();
    c.set("acks", &args.acks)
        .set(
            "enable.idempotence",
            if args.acks == "all" { "true" } else { "false" },
        )
        .set("linger.ms", args.linger_ms.to_string())
        .set("batch.size", args.batch_size.to_string())
        .set("compression.codec", &args.compression)
        .set(
            "max.in.flight.requests.per.connection",
            IN_FLIGHT.to_string(),
        )
        .set(
            "queue.buffering.max.kbytes",
            (BUFFER_BYTES / 1024).to_string(),
        )
        .set("queue.buffering.max.messages", "1000000");
    crate::worker::rdkafka_common(&mut c, &args.target);
    c
}

/// Counts delivery reports.
#[derive(Default)]
struct Counter {
    ok: std::sync::atomic::AtomicUsize,
    failed: std::sync::atomic::AtomicUsize,
}

impl ClientContext for Counter {}

impl ProducerContext for Counter {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        let counter = if result.is_ok() {
            &self.ok
        } else {
            &self.failed
        };
        counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}

fn rdkafka_base_run(args: &WorkerArgs) -> Result<Measured, String> {
    use std::sync::atomic::Ordering;
    let producer: BaseProducer<Counter> = rdkafka_config(args)
        .create_with_context(Counter::default())
        .map_err(|e| e.to_string())?;
    let value = payload(args.size);
    let send = |producer: &BaseProducer<Counter>| loop {
        match producer.send(BaseRecord::<(), [u8]>::to(&args.target.topic).payload(&value[..])) {
            Ok(()) => return Ok(()),
            Err((
                rdkafka::error::KafkaError::MessageProduction(
                    rdkafka::types::RDKafkaErrorCode::QueueFull,
                ),
                _,
            )) => {
                producer.poll(Duration::from_millis(1));
            }
            Err((e, _)) => return Err(e.to_string()),
        }
    };
    send(&producer)?;
    producer
        .flush(Duration::from_secs(30))
        .map_err(|e| e.to_string())?;
    let context = producer.context();
    let warm = context.ok.load(Ordering::Relaxed);
    let watch = Stopwatch::start(args.records);
    for i in 0..args.records {
        send(&producer)?;
        if i % 1024 == 0 {
            producer.poll(Duration::ZERO);
        }
    }
    while context.ok.load(Ordering::Relaxed) + context.failed.load(Ordering::Relaxed)
        < warm + args.records
    {
        producer.poll(Duration::from_millis(1));
    }
    let measured = watch.stop();
    let failed = context.failed.load(Ordering::Relaxed);
    if failed > 0 {
        return Err(format!("{failed} deliveries failed"));
    }
    Ok(measured)
}

fn rdkafka_future_run(args: &WorkerArgs) -> Result<Measured, String> {
    let rt = worker_runtime()?;
    rt.block_on(async {
        let producer: FutureProducer = rdkafka_config(args).create().map_err(|e| e.to_string())?;
        let value = payload(args.size);
        let record = || FutureRecord::<(), [u8]>::to(&args.target.topic).payload(&value[..]);
        producer
            .send(record(), Duration::from_secs(30))
            .await
            .map_err(|(e, _)| e.to_string())?;
        let watch = Stopwatch::start(args.records);
        let mut deliveries = std::collections::VecDeque::with_capacity(args.records);
        for _ in 0..args.records {
            loop {
                match producer.send_result(record()) {
                    Ok(d) => {
                        deliveries.push_back(d);
                        break;
                    }
                    Err((
                        rdkafka::error::KafkaError::MessageProduction(
                            rdkafka::types::RDKafkaErrorCode::QueueFull,
                        ),
                        _,
                    )) => {
                        // Full queue: wait for the oldest delivery, as backpressure.
                        if let Some(d) = deliveries.pop_front() {
                            d.await
                                .map_err(|_| "delivery cancelled".to_owned())?
                                .map_err(|(e, _)| e.to_string())?;
                        }
                    }
                    Err((e, _)) => return Err(e.to_string()),
                }
            }
        }
        for d in deliveries {
            d.await
                .map_err(|_| "delivery cancelled".to_owned())?
                .map_err(|(e, _)| e.to_string())?;
        }
        Ok(watch.stop())
    })
}

/// rskafka is built here without its TLS and SASL features.
pub(crate) const RSKAFKA_PLAIN_ONLY: &str = "rskafka is built here without TLS or SASL";

/// What an rskafka cell could not match, if anything: rskafka's Produce always asks for
/// `acks=-1` and carries no producer id.
pub(crate) fn rskafka_mismatch(acks: &str) -> &'static str {
    if acks == "all" {
        "no idempotence"
    } else {
        "acks=all"
    }
}

fn rskafka_compression(name: &str) -> Result<rskafka::client::partition::Compression, String> {
    use rskafka::client::partition::Compression;
    match name {
        "none" => Ok(Compression::NoCompression),
        "lz4" => Ok(Compression::Lz4),
        "zstd" => Ok(Compression::Zstd),
        other => Err(format!("rskafka is built here without {other}")),
    }
}

/// rskafka's partition clients for every partition of `topic`.
pub(crate) async fn rskafka_partitions(
    bootstrap: &str,
    topic: &str,
) -> Result<Vec<std::sync::Arc<rskafka::client::partition::PartitionClient>>, String> {
    use rskafka::client::partition::UnknownTopicHandling;
    let client = rskafka::client::ClientBuilder::new(vec![bootstrap.to_owned()])
        .build()
        .await
        .map_err(|e| e.to_string())?;
    let topics = client.list_topics().await.map_err(|e| e.to_string())?;
    let partitions = topics
        .into_iter()
        .find(|t| t.name == topic)
        .map(|t| t.partitions)
        .ok_or_else(|| format!("rskafka: no topic {topic}"))?;
    let mut clients = Vec::new();
    for p in partitions {
        let pc = client
            .partition_client(topic, p, UnknownTopicHandling::Retry)
            .await
            .map_err(|e| e.to_string())?;
        clients.push(std::sync::Arc::new(pc));
    }
    Ok(clients)
}

fn rskafka_run(args: &WorkerArgs) -> Result<Measured, String> {
    use rskafka::record::Record;
    if !args.target.settings.is_empty() {
        return Err(RSKAFKA_PLAIN_ONLY.to_owned());
    }
    let rt = worker_runtime()?;
    rt.block_on(async {
        let compression = rskafka_compression(&args.compression)?;
        let partitions = rskafka_partitions(&args.target.bootstrap, &args.target.topic).await?;
        let value = payload(args.size).to_vec();
        let record = move || Record {
            key: None,
            value: Some(value.clone()),
            headers: Default::default(),
            timestamp: now_utc(),
        };
        // Warm-up: one record per partition, so that every connection is open.
        for pc in &partitions {
            pc.produce(vec![record()], compression)
                .await
                .map_err(|e| e.to_string())?;
        }
        // A v2 batch has a 61-byte header and about 10 bytes of framing per small keyless
        // record: as many records as Java's accumulator would fit in `batch.size`.
        let per_batch =
            (args.batch_size.saturating_sub(61) / (record().approximate_size() + 10)).max(1);
        let batches = args.records.div_ceil(per_batch);
        let n = partitions.len().max(1);
        let watch = Stopwatch::start(args.records);
        let mut senders = tokio::task::JoinSet::new();
        for (i, pc) in partitions.iter().enumerate() {
            let pc = pc.clone();
            let record = record.clone();
            let records = args.records;
            senders.spawn(async move {
                let mut in_flight = tokio::task::JoinSet::new();
                for b in (i..batches).step_by(n) {
                    let count = per_batch.min(records - b * per_batch);
                    let group: Vec<Record> = (0..count).map(|_| record()).collect();
                    while in_flight.len() >= IN_FLIGHT {
                        rskafka_acked(in_flight.join_next().await)?;
                    }
                    let pc = pc.clone();
                    in_flight.spawn(async move { pc.produce(group, compression).await });
                }
                while let Some(done) = in_flight.join_next().await {
                    rskafka_acked(Some(done))?;
                }
                Ok::<(), String>(())
            });
        }
        while let Some(done) = senders.join_next().await {
            done.map_err(|e| e.to_string())??;
        }
        Ok(watch.stop())
    })
}

/// The wall clock as rskafka's timestamp type (its chrono is built without `clock`).
fn now_utc() -> rskafka::chrono::DateTime<rskafka::chrono::Utc> {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    rskafka::chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

type RskafkaProduced = Result<Vec<i64>, rskafka::client::error::Error>;

fn rskafka_acked(
    done: Option<Result<RskafkaProduced, tokio::task::JoinError>>,
) -> Result<(), String> {
    match done {
        Some(d) => d
            .map_err(|e| e.to_string())?
            .map(drop)
            .map_err(|e| e.to_string()),
        None => Ok(()),
    }
}
