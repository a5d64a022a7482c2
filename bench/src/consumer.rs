//! `consumer`: consumer throughput and CPU cost, ferrokafka against librdkafka, in the spirit
//! of Kafka's `kafka-consumer-perf-test`.
//!
//! The data is written once per record size: N keyless records spread over the partitions of
//! one topic, in uncompressed batches of about 16 KiB (Java's `batch.size`), with raw Produce
//! requests, on the same broker (the `mini-broker` binary started here by default, or
//! `--bootstrap` for any broker). Then every client reads all N from the beginning of every
//! partition, touching each value: ferrokafka's `Consumer::poll` (batches of
//! `max.poll.records`) and `Consumer::recv` (one at a time), rdkafka's `BaseConsumer::poll` and
//! `StreamConsumer::recv`, and rskafka's `PartitionClient::fetch_records` (one task per
//! partition from offset 0, up to 1 MiB per fetch — Java's `max.partition.fetch.bytes` — handed
//! to the reading loop through a channel). Every other client keeps its default fetch settings.
//!
//! Two modes: assign (manual assignment, no group, nothing committed) and, with `--group`,
//! subscribe with a fresh group id and `auto.offset.reset=earliest`, no auto-commit — the
//! clock starts at the first record, so the join and the first assignment are not counted.
//! rskafka has no consumer groups: assign mode only.
//!
//! Each run is a child process of this binary (`consumer-worker`), so that the CPU time it
//! reports is that client's alone: user + system time of the whole process (every thread)
//! from `/proc/self/stat`. The clock and the CPU count start at the first record (connection
//! set-up and the first fetch are not throughput) and stop at the last. Runs are interleaved
//! across clients; the table shows medians.
//!
//! `--security ssl|sasl-ssl-scram` runs the readers over a TLS (and SASL) listener of the same
//! mini-broker, every client with the same settings (see `security.rs`); the data is written
//! over PLAINTEXT. rskafka is left out there, as it is built without TLS.
//!
//! The at-least-once readers of `semantics` (see `semantics.rs`) are workers of this file
//! too, so that they share its settings and meter: ferrokafka's `process_batch` with
//! `Batches<AtLeastOnce>` and librdkafka's store-offset-after-handling loop, group mode only.
//!
//! What not: no commits in the measured loop of `consumer`'s own clients, no compression
//! cases.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use crate::broker::BrokerArgs;
use crate::security::{Endpoint, Security};
use crate::worker;

use bytes::Bytes;
use ferrokafka::consumer::TopicPartition;
use ferrokafka::kafka_protocol::messages::produce_request::{
    PartitionProduceData, TopicProduceData,
};
use ferrokafka::kafka_protocol::messages::{ProduceRequest, TopicName};
use ferrokafka::kafka_protocol::protocol::StrBytes;
use ferrokafka::{
    AtLeastOnce, AutoOffsetReset, Batches, Client, ClientConfig, Consumer, ConsumerConfig, NewTopic,
};
use ferrokafka_protocol::record::{BatchBuilder, RecordInput};
use rdkafka::config::ClientConfig as RdConfig;
use rdkafka::consumer::{BaseConsumer, StreamConsumer};
use rdkafka::message::Message as _;
use rdkafka::{Offset, TopicPartitionList};

/// Bytes per produced batch (Java's default `batch.size`).
const BATCH_BYTES: usize = 16_384;

const CLIENTS: &str = "ferrokafka-poll,ferrokafka-recv,rdkafka-base,rdkafka-stream,rskafka";
/// The at-least-once readers of `semantics` (group mode only): ferrokafka's
/// `process_batch` with `Batches::new(AtLeastOnce)` (a commit after every batch, in the
/// background) or with `commit_every(100 ms)`, and librdkafka's usual loop — auto-commit on,
/// `enable.auto.offset.store=false`, each message's offset stored once it was handled.
pub(crate) const AT_LEAST_ONCE: &str =
    "ferrokafka-alo-batch,ferrokafka-alo-batch-100ms,rdkafka-alo";

/// Options of `consumer`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    broker: BrokerArgs,
    /// The listener the readers use (the data is written over PLAINTEXT).
    #[arg(long, value_enum, default_value_t)]
    security: Security,
    /// Records per run.
    #[arg(long, default_value_t = 1_000_000)]
    records: usize,
    /// Runs per client and size; the table shows the median.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Record sizes in bytes (value only; no key).
    #[arg(long, value_delimiter = ',', default_value = "100,1024")]
    sizes: Vec<usize>,
    /// Partitions of the topic.
    #[arg(long, default_value_t = 4)]
    partitions: i32,
    /// Clients to run.
    #[arg(long, value_delimiter = ',', default_value = CLIENTS)]
    clients: Vec<String>,
}

/// Options of the hidden `consumer-worker`: one client, one run.
#[derive(Debug, clap::Args)]
pub struct WorkerArgs {
    #[command(flatten)]
    target: worker::Target,
    #[arg(long)]
    records: usize,
    #[arg(long)]
    partitions: i32,
    /// Subscribe with a fresh group instead of assigning the partitions.
    #[arg(long)]
    group: bool,
}

pub(crate) use crate::worker::Measured;

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
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let mut rows = Vec::new();
    for &size in &args.sizes {
        let topic = format!("consumer-perf-{size}-{}", std::process::id());
        eprintln!(
            "writing {} records of {size} B to {topic} ...",
            args.records
        );
        if let Err(err) = runtime.block_on(fill(
            &bootstrap,
            &topic,
            args.partitions,
            args.records,
            size,
        )) {
            eprintln!("writing the data: {err}");
            return ExitCode::FAILURE;
        }
        let mut samples: Vec<Vec<Measured>> = vec![Vec::new(); args.clients.len()];
        for run in 0..args.runs {
            for (i, client) in args.clients.iter().enumerate() {
                match measure(
                    client,
                    &broker.clients,
                    &topic,
                    args.records,
                    args.partitions,
                    false,
                ) {
                    Ok(m) => {
                        eprintln!(
                            "{size} B run {run} {client}: {:.0} msgs/s",
                            m.records as f64 / m.elapsed.as_secs_f64()
                        );
                        if let Some(s) = samples.get_mut(i) {
                            s.push(m);
                        }
                    }
                    Err(err) => {
                        eprintln!("{client}: {err}");
                        return ExitCode::FAILURE;
                    }
                }
            }
        }
        rows.push((size, samples));
    }
    print_table(&args, &broker_name, &rows);
    ExitCode::SUCCESS
}

/// Writes `records` records of `size` bytes round-robin over the partitions, in batches of
/// about [`BATCH_BYTES`], several partitions per Produce request.
pub(crate) async fn fill(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
    records: usize,
    size: usize,
) -> Result<(), ferrokafka::Error> {
    let client = Client::connect(ClientConfig::new(bootstrap)?).await?;
    for (_, result) in client
        .create_topics(&[NewTopic::new(topic).partitions(partitions)])
        .await?
    {
        result?;
    }
    client.metadata(&[topic]).await?;
    let leader = client.leader_for(topic, 0).await?;
    let value = Bytes::from(vec![b'x'; size]);
    // The time of writing: a fixed old timestamp would be past any broker's time retention
    // (Kafka's default is 7 days) and deleted under the readers.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    let per_batch = (BATCH_BYTES / (size + 20)).max(1);
    let per_partition = records / partitions.max(1) as usize;
    let mut left: Vec<usize> = (0..partitions)
        .map(|p| per_partition + usize::from((p as usize) < records % partitions.max(1) as usize))
        .collect();
    let mut in_flight = tokio::task::JoinSet::new();
    while left.iter().any(|n| *n > 0) {
        let mut data = Vec::new();
        for (p, n) in left.iter_mut().enumerate() {
            let take = (*n).min(per_batch);
            if take == 0 {
                continue;
            }
            *n -= take;
            let mut b = BatchBuilder::new();
            for _ in 0..take {
                b.push(RecordInput {
                    timestamp: now,
                    key: None,
                    value: Some(value.clone()),
                    headers: Vec::new(),
                })
                .map_err(|e| ferrokafka::Error::InvalidState(e.to_string()))?;
            }
            let batch = b
                .build()
                .map_err(|e| ferrokafka::Error::InvalidState(e.to_string()))?;
            data.push(
                PartitionProduceData::default()
                    .with_index(p as i32)
                    .with_records(Some(batch)),
            );
        }
        let request = ProduceRequest::default()
            .with_acks(1)
            .with_timeout_ms(30_000)
            .with_topic_data(vec![TopicProduceData::default()
                .with_name(TopicName(StrBytes::from_string(topic.to_owned())))
                .with_partition_data(data)]);
        let client = client.clone();
        in_flight.spawn(async move { produce_with_retries(&client, leader, request).await });
        while in_flight.len() >= 4 {
            check_produced(in_flight.join_next().await)?;
        }
    }
    while let Some(done) = in_flight.join_next().await {
        check_produced(Some(done))?;
    }
    client.close().await;
    Ok(())
}

/// A real broker acknowledges a new topic before its partitions are served: retry those
/// (retriable) refusals for a while.
async fn produce_with_retries(client: &Client, leader: i32, request: ProduceRequest) -> Produced {
    let mut attempts = 0;
    loop {
        let response = client.send_to(leader, request.clone()).await?;
        let retriable = response.responses.iter().any(|t| {
            t.partition_responses.iter().any(|p| {
                ferrokafka::Error::check(p.error_code, None).is_err_and(|e| e.is_retriable())
            })
        });
        attempts += 1;
        if !retriable || attempts > 100 {
            return Ok(response);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

type Produced = Result<ferrokafka::kafka_protocol::messages::ProduceResponse, ferrokafka::Error>;

fn check_produced(
    done: Option<Result<Produced, tokio::task::JoinError>>,
) -> Result<(), ferrokafka::Error> {
    let Some(done) = done else { return Ok(()) };
    let response = done.map_err(|e| ferrokafka::Error::InvalidState(e.to_string()))??;
    for t in &response.responses {
        for p in &t.partition_responses {
            ferrokafka::Error::check(p.error_code, None)?;
        }
    }
    Ok(())
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    match (xs.get(n / 2), n.checked_sub(1).and_then(|i| xs.get(i / 2))) {
        _ if n == 0 => f64::NAN,
        (Some(hi), Some(lo)) if n % 2 == 0 => (hi + lo) / 2.0,
        (Some(mid), _) => *mid,
        _ => f64::NAN,
    }
}

fn print_table(args: &Args, broker: &str, rows: &[(usize, Vec<Vec<Measured>>)]) {
    println!(
        "{} records per run over {} partitions, {} runs per client (median), {broker}; \
         uncompressed batches of ~16 KiB; no group; CPU = user+sys of the client's own \
         process.\n",
        args.records, args.partitions, args.runs
    );
    println!(
        "| record | client | msgs/s, median (min–max) | MB/s | CPU s / 1M records | msgs/s vs rdkafka-base | CPU vs rdkafka-base |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|");
    for (size, samples) in rows {
        let stats: Vec<(f64, f64, f64, f64)> = samples
            .iter()
            .map(|runs| {
                let rates: Vec<f64> = runs
                    .iter()
                    .map(|m| m.records as f64 / m.elapsed.as_secs_f64())
                    .collect();
                let lo = rates.iter().copied().fold(f64::INFINITY, f64::min);
                let hi = rates.iter().copied().fold(0.0, f64::max);
                let rate = median(rates);
                let cpu = median(
                    runs.iter()
                        .map(|m| m.cpu.as_secs_f64() * 1e6 / m.records.max(1) as f64)
                        .collect(),
                );
                (rate, lo, hi, cpu)
            })
            .collect();
        let reference = args
            .clients
            .iter()
            .position(|c| c == "rdkafka-base")
            .and_then(|i| stats.get(i).copied());
        for (client, (rate, lo, hi, cpu)) in args.clients.iter().zip(&stats) {
            let mb = rate * *size as f64 / 1e6;
            let (vs_rate, vs_cpu) = match reference {
                Some((r, _, _, c)) => (format!("{:.2}×", rate / r), format!("{:.2}×", cpu / c)),
                None => ("–".into(), "–".into()),
            };
            println!(
                "| {size} B | {client} | {:.2} M ({:.2}–{:.2}) | {mb:.0} | {cpu:.2} | {vs_rate} | {vs_cpu} |",
                rate / 1e6,
                lo / 1e6,
                hi / 1e6
            );
        }
    }
}

/// Runs one client in a child process and reads its result line.
pub(crate) fn measure(
    client: &str,
    broker: &Endpoint,
    topic: &str,
    records: usize,
    partitions: i32,
    group: bool,
) -> Result<Measured, String> {
    let (records, partitions) = (records.to_string(), partitions.to_string());
    let mut args = vec!["--records", &records, "--partitions", &partitions];
    if group {
        args.push("--group");
    }
    worker::run_measured(
        "consumer-worker",
        [client, &broker.bootstrap, topic],
        &broker.settings,
        &args,
    )
}

/// User + system CPU ticks (1/100 s) of this whole process, every thread.
fn cpu_ticks() -> u64 {
    crate::producer::process_cpu_ticks("self")
}

/// Counts records from the first one on: clock and CPU start there.
struct Meter {
    target: usize,
    seen: usize,
    bytes: usize,
    start: Option<(Instant, u64)>,
}

impl Meter {
    fn new(target: usize) -> Self {
        Meter {
            target,
            seen: 0,
            bytes: 0,
            start: None,
        }
    }

    /// Records one value; true once the target is reached.
    fn record(&mut self, value: Option<&[u8]>) -> bool {
        if self.start.is_none() {
            self.start = Some((Instant::now(), cpu_ticks()));
        }
        self.seen += 1;
        // Touch the value, as an application would.
        self.bytes += value.map_or(0, |v| {
            v.len() + usize::from(v.first().copied().unwrap_or(0) == 0)
        });
        self.seen >= self.target
    }

    fn done(&self) -> Measured {
        let (at, cpu) = self.start.unwrap_or((Instant::now(), cpu_ticks()));
        Measured {
            elapsed: at.elapsed(),
            cpu: Duration::from_millis(cpu_ticks().saturating_sub(cpu) * 10),
            records: self.seen.saturating_sub(1),
            peak_rss_kib: crate::producer::peak_rss_kib("self"),
        }
    }
}

const READ_LIMIT: Duration = Duration::from_secs(120);

pub fn work(args: WorkerArgs) -> ExitCode {
    let result = match args.target.client.as_str() {
        "ferrokafka-poll" => ferrokafka_run(&args, Reading::Poll),
        "ferrokafka-recv" => ferrokafka_run(&args, Reading::Recv),
        "ferrokafka-alo-batch" => ferrokafka_run(&args, Reading::AtLeastOnce(None)),
        "ferrokafka-alo-batch-100ms" => ferrokafka_run(
            &args,
            Reading::AtLeastOnce(Some(crate::semantics::TRANSACTION_SPAN)),
        ),
        "rdkafka-base" => rdkafka_base_run(&args, false),
        "rdkafka-alo" => rdkafka_base_run(&args, true),
        "rdkafka-stream" => rdkafka_stream_run(&args),
        "rskafka" if args.group => Err("rskafka has no consumer groups".to_owned()),
        "rskafka" => rskafka_run(&args),
        other => Err(format!(
            "unknown client {other}; known: {CLIENTS}, and in group mode {AT_LEAST_ONCE}"
        )),
    };
    worker::finish(&args.target.client, result)
}

/// How ferrokafka's consumer hands out the records.
#[derive(Debug, Clone, Copy)]
enum Reading {
    /// `Consumer::poll` batches.
    Poll,
    /// `Consumer::recv`, one at a time.
    Recv,
    /// `Consumer::process_batch` under `AtLeastOnce`: a commit after every batch, or once
    /// per interval.
    AtLeastOnce(Option<Duration>),
}

fn ferrokafka_run(args: &WorkerArgs, reading: Reading) -> Result<Measured, String> {
    if matches!(reading, Reading::AtLeastOnce(_)) && !args.group {
        return Err("at-least-once commits offsets: group mode only (--group)".to_owned());
    }
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let client = crate::security::client_config(&args.target.bootstrap, &args.target.settings)?;
        let mut config = ConsumerConfig::builder()
            .client(client)
            .auto_offset_reset(AutoOffsetReset::Earliest);
        if args.group {
            config = config.group_id(fresh_group()).enable_auto_commit(false);
        }
        let config = config.build().map_err(|e| e.to_string())?;
        let mut consumer = Consumer::new(config).await.map_err(|e| e.to_string())?;
        if args.group {
            consumer.subscribe([args.target.topic.as_str()])
        } else {
            consumer.assign(
                (0..args.partitions).map(|p| TopicPartition::new(args.target.topic.as_str(), p)),
            )
        }
        .map_err(|e| e.to_string())?;
        let mut meter = Meter::new(args.records);
        let deadline = Instant::now() + READ_LIMIT;
        let mut batches = match reading {
            Reading::AtLeastOnce(Some(every)) => Batches::new(AtLeastOnce).commit_every(every),
            _ => Batches::new(AtLeastOnce),
        };
        'read: loop {
            if Instant::now() > deadline {
                return Err(format!("read {} of {} in time", meter.seen, args.records));
            }
            match reading {
                Reading::Poll => {
                    let records = consumer
                        .poll(Duration::from_secs(1))
                        .await
                        .map_err(|e| e.to_string())?;
                    for r in &records {
                        if meter.record(r.value.as_deref()) {
                            break 'read;
                        }
                    }
                }
                Reading::Recv => {
                    let r = consumer.recv().await.map_err(|e| e.to_string())?;
                    if meter.record(r.value.as_deref()) {
                        break;
                    }
                }
                Reading::AtLeastOnce(_) => {
                    let m = &mut meter;
                    // A whole batch is handled (and counted) before the next, so the last one
                    // may go past the target; the rate counts what was handled.
                    consumer
                        .process_batch(&mut batches, |records| async move {
                            for r in &records {
                                m.record(r.value.as_deref());
                            }
                        })
                        .await
                        .map_err(|e| e.to_string())?;
                    if meter.seen >= args.records {
                        break;
                    }
                }
            }
        }
        let measured = meter.done();
        // Outside the clock, as an application does before closing.
        if let Reading::AtLeastOnce(_) = reading {
            batches
                .commit_pending(&consumer)
                .await
                .map_err(|e| e.to_string())?;
        }
        consumer.close().await.map_err(|e| e.to_string())?;
        Ok(measured)
    })
}

fn rdkafka_config(args: &WorkerArgs) -> RdConfig {
    let mut c = RdConfig::new();
    // librdkafka wants a group id even without membership; nothing is committed.
    c.set("group.id", fresh_group())
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false")
        .set("auto.offset.reset", "earliest")
        // ferrokafka checks CRCs by default (Java's default); librdkafka's default is not to.
        // Same settings: both check.
        .set("check.crcs", "true");
    crate::worker::rdkafka_common(&mut c, &args.target);
    c
}

/// A group id no earlier run used (one worker process, one run).
fn fresh_group() -> String {
    format!("consumer-perf-{}", std::process::id())
}

/// Subscribes to the topic in group mode, else assigns every partition from the beginning.
fn rdkafka_join(
    consumer: &impl rdkafka::consumer::Consumer,
    args: &WorkerArgs,
) -> Result<(), String> {
    if args.group {
        consumer.subscribe(&[args.target.topic.as_str()])
    } else {
        consumer.assign(&assignment(args)?)
    }
    .map_err(|e| e.to_string())
}

fn assignment(args: &WorkerArgs) -> Result<TopicPartitionList, String> {
    let mut tpl = TopicPartitionList::new();
    for p in 0..args.partitions {
        tpl.add_partition_offset(&args.target.topic, p, Offset::Beginning)
            .map_err(|e| e.to_string())?;
    }
    Ok(tpl)
}

/// `BaseConsumer::poll`; with `at_least_once`, the loop librdkafka users write for it:
/// auto-commit on (default interval), `enable.auto.offset.store=false`, and each message's
/// offset stored once it was handled, so only handled records are committed.
fn rdkafka_base_run(args: &WorkerArgs, at_least_once: bool) -> Result<Measured, String> {
    use rdkafka::consumer::Consumer as _;
    if at_least_once && !args.group {
        return Err("at-least-once commits offsets: group mode only (--group)".to_owned());
    }
    let mut config = rdkafka_config(args);
    if at_least_once {
        config
            .set("enable.auto.commit", "true")
            .set("enable.auto.offset.store", "false");
    }
    let consumer: BaseConsumer = config.create().map_err(|e| e.to_string())?;
    rdkafka_join(&consumer, args)?;
    let mut meter = Meter::new(args.records);
    let deadline = Instant::now() + READ_LIMIT;
    loop {
        if Instant::now() > deadline {
            return Err(format!("read {} of {} in time", meter.seen, args.records));
        }
        match consumer.poll(Duration::from_secs(1)) {
            Some(Ok(m)) => {
                let done = meter.record(m.payload());
                if at_least_once {
                    consumer
                        .store_offset_from_message(&m)
                        .map_err(|e| e.to_string())?;
                }
                if done {
                    break;
                }
            }
            Some(Err(e)) => return Err(e.to_string()),
            None => {}
        }
    }
    Ok(meter.done())
}

fn rdkafka_stream_run(args: &WorkerArgs) -> Result<Measured, String> {
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let consumer: StreamConsumer = rdkafka_config(args).create().map_err(|e| e.to_string())?;
        rdkafka_join(&consumer, args)?;
        let mut meter = Meter::new(args.records);
        loop {
            let m = tokio::time::timeout(READ_LIMIT, consumer.recv())
                .await
                .map_err(|_| format!("read {} of {} in time", meter.seen, args.records))?
                .map_err(|e| e.to_string())?;
            if meter.record(m.payload()) {
                break;
            }
        }
        Ok(meter.done())
    })
}

/// Bytes asked for per partition and fetch (Java's `max.partition.fetch.bytes`).
const RSKAFKA_FETCH_BYTES: i32 = 1024 * 1024;

fn rskafka_run(args: &WorkerArgs) -> Result<Measured, String> {
    if !args.target.settings.is_empty() {
        return Err(crate::producer::RSKAFKA_PLAIN_ONLY.to_owned());
    }
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let partitions =
            crate::producer::rskafka_partitions(&args.target.bootstrap, &args.target.topic).await?;
        let (tx, mut rx) = tokio::sync::mpsc::channel(2 * partitions.len().max(1));
        let mut fetchers = tokio::task::JoinSet::new();
        for pc in partitions {
            let tx = tx.clone();
            fetchers.spawn(async move {
                let mut offset = 0;
                loop {
                    let fetched = pc.fetch_records(offset, 1..RSKAFKA_FETCH_BYTES, 500).await;
                    if let Ok((records, _)) = &fetched {
                        offset = records.last().map_or(offset, |r| r.offset + 1);
                    }
                    let failed = fetched.is_err();
                    if tx.send(fetched.map(|(r, _)| r)).await.is_err() || failed {
                        return;
                    }
                }
            });
        }
        drop(tx);
        let mut meter = Meter::new(args.records);
        'read: loop {
            let records = tokio::time::timeout(READ_LIMIT, rx.recv())
                .await
                .map_err(|_| format!("read {} of {} in time", meter.seen, args.records))?
                .ok_or("every rskafka fetcher stopped")?
                .map_err(|e| e.to_string())?;
            for r in &records {
                if meter.record(r.record.value.as_deref()) {
                    break 'read;
                }
            }
        }
        let measured = meter.done();
        fetchers.abort_all();
        Ok(measured)
    })
}
