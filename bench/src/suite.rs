//! `suite`: the one-command perf suite. It runs a matrix of the `startup`, `producer` and
//! `consumer` measurements — the same code those subcommands use, one child process per client
//! run — and writes `bench/results/latest.md` (tables and the targets) plus SVG bar charts.
//!
//! Brokers: the `mini-broker` binary, restarted for every producer case and every consumer
//! data set (so one case's data does not weigh on the next), and with `--real-kafka` a real
//! Apache Kafka broker from `scripts/real-kafka.sh` with a private state file. Clients run
//! interleaved within each repetition, in an order that rotates from one repetition to the
//! next, so that noise on this shared machine hits every client alike. Besides the client's own
//! CPU, the broker's CPU over each client run (launch to exit of the worker, so it includes the
//! worker's connection set-up) is read from `/proc/<broker pid>/stat`. After each producer run
//! the topic is read back (`broker::batch_census`) to count the batches the client really
//! sent; that read comes after the broker's CPU reading. Consumers read the same data in
//! assign mode and in group mode. The broker's peak RSS (VmHWM) is noted before each broker
//! is stopped, for the broker comparison.
//!
//! The secured section (`suite/secured.rs`) repeats the uncompressed one-partition producer
//! cases and the assign-mode consumer reads over a SASL_SSL listener (TLS, SCRAM-SHA-512) beside
//! PLAINTEXT on the same broker, and measures client connection set-up per listener;
//! `--secured-only` runs just that section and puts it into an existing `latest.md` in place of
//! the section of an earlier run.
//!
//! What not (yet): the in-process mini-broker (a broker inside this process would share its
//! CPU count); end-to-end latency (a slot is left for `latency.rs`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use ferrokafka::{Client, ClientConfig, NewTopic};

use crate::broker::{batch_census, sibling, MiniBrokerProcess};
use crate::consumer;
use crate::latency;
use crate::producer::{self, peak_rss_kib, process_cpu_ticks};
use crate::report::{self, LatencyRow, LatencyRun, Matrix, Row, Sample, StartupRow};
use crate::security::Endpoint;
use crate::startup;

mod secured;

/// Options of `suite`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A smaller matrix: uncompressed, one partition, fewer clients, fewer records.
    #[arg(long)]
    quick: bool,
    /// Also run everything against a real Kafka broker (needs Java and scripts/setup.sh).
    #[arg(long)]
    real_kafka: bool,
    /// Repetitions; every client runs once per repetition.
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Records per producer run (default 200,000 with --quick, else 50,000 so that the full
    /// matrix on both brokers stays near 45 minutes on 2 cores).
    #[arg(long)]
    records: Option<usize>,
    /// Records per consumer run (default 500,000 with --quick, else 1,000,000).
    #[arg(long)]
    consumer_records: Option<usize>,
    /// Seconds per end-to-end latency run (default 3 with --quick, else 5).
    #[arg(long)]
    latency_seconds: Option<u64>,
    /// Where to write latest.md and the charts (default: bench/results).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Only the secured section (SASL_SSL throughput, connection set-up), put into the
    /// existing latest.md in place of its earlier secured section; the rest stays as it was.
    #[arg(long, conflicts_with = "real_kafka")]
    secured_only: bool,
}

/// One producer case of the matrix.
struct ProducerCase {
    size: usize,
    acks: &'static str,
    partitions: i32,
    compression: &'static str,
}

impl ProducerCase {
    /// The producer's case: `records` records with the suite's batching.
    fn with_records(&self, records: usize) -> producer::Case {
        producer::Case {
            records,
            size: self.size,
            acks: self.acks.to_owned(),
            batch_size: BATCH_SIZE,
            linger_ms: LINGER_MS,
            compression: self.compression.to_owned(),
        }
    }
    fn label(&self) -> String {
        format!(
            "{} B, acks={}{}, {} p, {}",
            self.size,
            self.acks,
            if self.acks == "all" { "+idem" } else { "" },
            self.partitions,
            self.compression
        )
    }
}

/// Consumer data: topic partitions (assign mode, no group).
const CONSUMER_PARTITIONS: i32 = 6;
const BATCH_SIZE: usize = 16_384;
const LINGER_MS: u64 = 5;
/// Produce requests in flight per connection (rskafka: `produce` calls per partition).
const IN_FLIGHT: usize = 5;

fn producer_cases(quick: bool) -> Vec<ProducerCase> {
    let mut cases = Vec::new();
    let (partitions, codecs): (&[i32], &[&str]) = if quick {
        (&[1], &["none"])
    } else {
        (&[1, 6], &["none", "lz4", "zstd"])
    };
    for &compression in codecs {
        for &partitions in partitions {
            for acks in ["1", "all"] {
                for size in [100, 1024] {
                    cases.push(ProducerCase {
                        size,
                        acks,
                        partitions,
                        compression,
                    });
                }
            }
        }
    }
    if quick {
        // One compressed, multi-partition case, so that --quick touches those paths too.
        cases.push(ProducerCase {
            size: 1024,
            acks: "1",
            partitions: 6,
            compression: "lz4",
        });
    }
    cases
}

pub fn run(args: Args) -> ExitCode {
    match suite(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("suite: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Counts and prints progress on stderr, with the time left at the average pace so far.
pub(crate) struct Progress {
    pub(crate) done: usize,
    pub(crate) total: usize,
    pub(crate) started: Instant,
}

impl Progress {
    pub(crate) fn step(&mut self, what: &str) {
        self.done += 1;
        let spent = self.started.elapsed().as_secs();
        let left = spent * self.total.saturating_sub(self.done) as u64 / self.done.max(1) as u64;
        eprintln!(
            "[{}/{}, {}:{:02} in, ~{}:{:02} left] {what}",
            self.done,
            self.total,
            spent / 60,
            spent % 60,
            left / 60,
            left % 60
        );
    }
}

/// A broker to measure against.
pub(crate) enum Broker {
    Mini(MiniBrokerProcess),
    Real(startup::RealKafka),
}

impl Broker {
    pub(crate) fn bootstrap(&self) -> &str {
        match self {
            Broker::Mini(b) => &b.bootstrap,
            Broker::Real(k) => &k.bootstrap,
        }
    }

    pub(crate) fn pid(&self) -> u32 {
        match self {
            Broker::Mini(b) => b.pid(),
            Broker::Real(k) => k.pid,
        }
    }
}

/// Which broker, and how to get a fresh one.
#[derive(Clone, Copy, PartialEq)]
pub(crate) enum BrokerKind {
    MiniBinary,
    RealKafka,
}

impl BrokerKind {
    pub(crate) fn name(self) -> &'static str {
        match self {
            BrokerKind::MiniBinary => "mini-broker (binary)",
            BrokerKind::RealKafka => "Apache Kafka 4.1 (KRaft)",
        }
    }
}

struct Plan {
    runs: usize,
    records: usize,
    consumer_records: usize,
    producer_clients: Vec<&'static str>,
    consumer_clients: Vec<&'static str>,
    group_clients: Vec<&'static str>,
    /// Clients of the secured section (no rskafka: built here without TLS).
    secured_producer_clients: Vec<&'static str>,
    secured_consumer_clients: Vec<&'static str>,
    latency_seconds: u64,
    kafka_state: PathBuf,
}

/// Default records per producer run: the full matrix (24 cases × 4 clients × 5 runs on each of
/// two brokers) has to fit in about 45 minutes on a 2-core machine. Real Kafka sets the pace:
/// in a --quick run (on a loaded machine) a run took about 0.5 s plus the records at 20k
/// msgs/s (1 KiB; rdkafka with idempotence 4k) and 80k msgs/s (100 B), and a restart 12 s; at
/// 50,000 records that is about 32 minutes there and 9 on the mini-broker, consumers included.
const FULL_RECORDS: usize = 50_000;
/// Fixed send rates of the end-to-end latency runs (the 1k and 10k msgs/s).
const LATENCY_RATES: [u64; 2] = [1_000, 10_000];
/// Clients of the end-to-end runs, and of the one-record round trips.
const LATENCY_CLIENTS: [&str; 2] = ["ferrokafka", "rdkafka"];
const ROUND_TRIP_CLIENTS: [&str; 3] = ["ferrokafka", "rdkafka", "rskafka"];
/// Round trips per run, after the worker's warm-up.
const ROUND_TRIPS: u64 = 2_000;
const QUICK_RECORDS: usize = 200_000;

fn suite(args: &Args) -> Result<(), String> {
    let runs = args.runs.max(1);
    let group_clients = if args.quick {
        vec!["ferrokafka-poll", "rdkafka-base", "rdkafka-stream"]
    } else {
        vec![
            "ferrokafka-poll",
            "ferrokafka-recv",
            "rdkafka-base",
            "rdkafka-stream",
        ]
    };
    let plan = Plan {
        runs,
        records: args.records.unwrap_or(if args.quick {
            QUICK_RECORDS
        } else {
            FULL_RECORDS
        }),
        consumer_records: args.consumer_records.unwrap_or(if args.quick {
            500_000
        } else {
            1_000_000
        }),
        producer_clients: if args.quick {
            vec!["ferrokafka", "rdkafka-base", "rskafka"]
        } else {
            vec!["ferrokafka", "rdkafka-base", "rdkafka-future", "rskafka"]
        },
        // Assign mode: the group clients and rskafka, which has no groups.
        consumer_clients: group_clients.iter().copied().chain(["rskafka"]).collect(),
        secured_producer_clients: if args.quick {
            vec!["ferrokafka", "rdkafka-base"]
        } else {
            vec!["ferrokafka", "rdkafka-base", "rdkafka-future"]
        },
        secured_consumer_clients: group_clients.clone(),
        group_clients,
        latency_seconds: args
            .latency_seconds
            .unwrap_or(if args.quick { 3 } else { 5 }),
        kafka_state: std::env::temp_dir().join(format!("perf-suite-{}.env", std::process::id())),
    };
    let brokers: Vec<BrokerKind> = if args.real_kafka {
        vec![BrokerKind::MiniBinary, BrokerKind::RealKafka]
    } else {
        vec![BrokerKind::MiniBinary]
    };
    let cases = if args.secured_only {
        Vec::new()
    } else {
        producer_cases(args.quick)
    };
    let brokers = if args.secured_only {
        Vec::new()
    } else {
        brokers
    };
    let per_broker = runs
        * (cases.len() * plan.producer_clients.len()
            + 2 * (plan.consumer_clients.len() + plan.group_clients.len())
            + LATENCY_RATES.len() * LATENCY_CLIENTS.len()
            + ROUND_TRIP_CLIENTS.len());
    let mut matrix = Matrix {
        command: command_line(args),
        machine: report::machine(),
        started: report::utc_now(),
        finished: String::new(),
        runs,
        producer_records: plan.records,
        consumer_records: plan.consumer_records,
        batch_size: BATCH_SIZE,
        linger_ms: LINGER_MS,
        in_flight: IN_FLIGHT,
        consumer_partitions: CONSUMER_PARTITIONS,
        startup: Vec::new(),
        producer: Vec::new(),
        consumer: Vec::new(),
        loaded_rss: Vec::new(),
        latency: Vec::new(),
        secured: None,
        failures: Vec::new(),
    };
    let mut suite = Runner {
        plan: &plan,
        rt: tokio::runtime::Runtime::new().map_err(|e| e.to_string())?,
        progress: Progress {
            done: 0,
            total: runs * brokers.len() + per_broker * brokers.len(),
            started: Instant::now(),
        },
        failures: Vec::new(),
        peak_rss_kib: 0,
    };
    matrix.startup = startup_rows(&plan, &brokers, &mut suite.progress)?;
    for &kind in &brokers {
        suite.peak_rss_kib = 0;
        for case in &cases {
            matrix.producer.push(suite.producer_row(kind, case)?);
        }
        for size in [100, 1024] {
            let (assign, group) = suite.consumer_rows(kind, size)?;
            matrix.consumer.push(assign);
            matrix.consumer.push(group);
        }
        matrix
            .loaded_rss
            .push((kind.name().to_owned(), suite.peak_rss_kib));
        matrix.latency.extend(suite.latency_rows(kind)?);
    }
    suite.progress.total += secured::run_count(&suite);
    let failed_before = suite.failures.len();
    let mut section = suite.secured()?;
    section.failures = suite.failures.split_off(failed_before);
    section.finished = report::utc_now();
    matrix.secured = Some(section);
    matrix.failures = suite.failures;
    matrix.finished = report::utc_now();
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("results"));
    if args.secured_only {
        let summary = report::write_secured_into(&matrix, &out)?;
        println!("{summary}");
        eprintln!(
            "updated the secured section of {}",
            out.join("latest.md").display()
        );
        return Ok(());
    }
    let summary = report::write(&matrix, &out)?;
    println!("{summary}");
    eprintln!("wrote {}", out.join("latest.md").display());
    Ok(())
}

/// The state shared by every case of one suite run.
struct Runner<'a> {
    plan: &'a Plan,
    rt: tokio::runtime::Runtime,
    progress: Progress,
    failures: Vec<String>,
    /// The highest VmHWM of the current broker kind's processes so far, KiB.
    peak_rss_kib: u64,
}

impl Runner<'_> {
    /// A fresh broker of `kind`.
    fn start(&self, kind: BrokerKind) -> Result<Broker, String> {
        start(self.plan, kind)
    }

    /// Notes the broker's peak RSS before it is stopped.
    fn retire(&mut self, broker: Broker) {
        self.peak_rss_kib = self
            .peak_rss_kib
            .max(peak_rss_kib(&broker.pid().to_string()));
    }

    /// One client run and the broker's CPU ticks over it; `None` for a run that failed, which
    /// is listed in the report and left out of the medians.
    fn measure<M>(
        &mut self,
        broker: &Broker,
        what: impl FnOnce() -> String,
        run: impl FnOnce() -> Result<M, String>,
    ) -> Option<(M, u64)> {
        let before = process_cpu_ticks(&broker.pid().to_string());
        match run() {
            Ok(m) => Some((
                m,
                process_cpu_ticks(&broker.pid().to_string()).saturating_sub(before),
            )),
            Err(e) => {
                let what = format!("{}: {e}", what());
                self.progress.step(&format!("FAILED {what}"));
                self.failures.push(what);
                None
            }
        }
    }

    /// One throughput run (see [`Runner::measure`]) as a report sample, with a progress line
    /// "`what`: N msgs/s"; `None` for a failed run.
    fn sample(
        &mut self,
        broker: &Broker,
        what: impl Fn() -> String,
        run: impl FnOnce() -> Result<producer::Measured, String>,
    ) -> Option<Sample> {
        let (m, broker_ticks) = self.measure(broker, &what, run)?;
        let sample = Sample::new(
            m.records,
            m.elapsed,
            m.cpu,
            Some(broker_ticks),
            m.peak_rss_kib,
        );
        self.progress
            .step(&format!("{}: {:.0} msgs/s", what(), sample.rate));
        Some(sample)
    }

    /// Every producer client's runs of one case, on a fresh broker.
    fn producer_row(&mut self, kind: BrokerKind, case: &ProducerCase) -> Result<Row, String> {
        let plan = self.plan;
        let broker = self.start(kind)?;
        let mut samples = vec![Vec::new(); plan.producer_clients.len()];
        for run in 0..plan.runs {
            for (i, client) in rotated(&plan.producer_clients, run) {
                let topic = format!("suite-{}-{}", std::process::id(), self.progress.done);
                self.rt
                    .block_on(create_topic(broker.bootstrap(), &topic, case.partitions))?;
                let c = case.with_records(plan.records);
                let what = || {
                    format!(
                        "{}, producer {}, run {}/{}, {client}",
                        kind.name(),
                        case.label(),
                        run + 1,
                        plan.runs
                    )
                };
                let sample = self.sample(&broker, what, || {
                    producer::measure(client, &Endpoint::plain(broker.bootstrap()), &topic, &c)
                });
                let Some(sample) = sample else {
                    continue;
                };
                // The census comes after the broker's CPU reading: it is not the client's load.
                let census = self
                    .rt
                    .block_on(batch_census(broker.bootstrap(), &topic))
                    .map_err(|e| eprintln!("batch census of {topic}: {e}"))
                    .ok();
                if let Some(s) = samples.get_mut(i) {
                    s.push(sample.with_census(census));
                }
            }
        }
        self.retire(broker);
        let notes = plan
            .producer_clients
            .iter()
            .filter(|c| **c == "rskafka")
            .map(|c| {
                (
                    (*c).to_owned(),
                    producer::rskafka_mismatch(case.acks).to_owned(),
                )
            })
            .collect();
        Ok(Row {
            broker: kind.name().to_owned(),
            case: case.label(),
            size: case.size,
            clients: zip_clients(&plan.producer_clients, samples),
            notes,
        })
    }

    /// End-to-end latency at each fixed rate, then the one-record round trip, every client
    /// interleaved on one fresh broker, each run on a fresh one-partition topic.
    fn latency_rows(&mut self, kind: BrokerKind) -> Result<Vec<LatencyRow>, String> {
        let plan = self.plan;
        let broker = self.start(kind)?;
        let mut cells: Vec<(Option<u64>, &'static str)> = Vec::new();
        for rate in LATENCY_RATES {
            cells.extend(LATENCY_CLIENTS.iter().map(|c| (Some(rate), *c)));
        }
        cells.extend(ROUND_TRIP_CLIENTS.iter().map(|c| (None, *c)));
        let mut rows: Vec<LatencyRow> = cells
            .iter()
            .map(|(rate, client)| LatencyRow {
                broker: kind.name().to_owned(),
                client: (*client).to_owned(),
                rate: *rate,
                runs: Vec::new(),
            })
            .collect();
        for run in 0..plan.runs {
            for (i, (rate, client)) in rotated(&cells, run) {
                let topic = format!(
                    "suite-latency-{}-{}",
                    std::process::id(),
                    self.progress.done
                );
                self.rt
                    .block_on(create_topic(broker.bootstrap(), &topic, 1))?;
                let what = match rate {
                    Some(r) => format!("latency at {r} msgs/s"),
                    None => "round trip".to_owned(),
                };
                let label = || format!("{}, {what}, run {}, {client}", kind.name(), run + 1);
                let measured = self.measure(&broker, label, || match rate {
                    Some(r) => latency::measure_latency(
                        client,
                        broker.bootstrap(),
                        &topic,
                        r,
                        plan.latency_seconds,
                    ),
                    None => {
                        latency::measure_round_trip(client, broker.bootstrap(), &topic, ROUND_TRIPS)
                    }
                });
                let Some((m, _)) = measured else {
                    continue;
                };
                self.progress.step(&format!(
                    "{} {what} run {}/{} {client}: p50 {:.2} ms, p99 {:.2} ms",
                    kind.name(),
                    run + 1,
                    plan.runs,
                    m.p50.as_secs_f64() * 1e3,
                    m.p99.as_secs_f64() * 1e3
                ));
                if let Some(row) = rows.get_mut(i) {
                    row.runs.push(LatencyRun {
                        p50_us: m.p50.as_secs_f64() * 1e6,
                        p99_us: m.p99.as_secs_f64() * 1e6,
                        p999_us: m.p999.as_secs_f64() * 1e6,
                    });
                }
            }
        }
        self.retire(broker);
        Ok(rows)
    }

    /// Writes the consumers' data: the plan's consumer records of `size` bytes to `topic` (made
    /// here) over [`CONSUMER_PARTITIONS`] partitions.
    fn fill(&self, bootstrap: &str, topic: &str, size: usize) -> Result<(), String> {
        let records = self.plan.consumer_records;
        eprintln!("writing {records} records of {size} B for the consumers ...");
        self.rt
            .block_on(consumer::fill(
                bootstrap,
                topic,
                CONSUMER_PARTITIONS,
                records,
                size,
            ))
            .map_err(|e| format!("writing consumer data: {e}"))
    }

    /// The consumer rows of one record size on a fresh broker: assign mode, then group mode,
    /// both reading the same data.
    fn consumer_rows(&mut self, kind: BrokerKind, size: usize) -> Result<(Row, Row), String> {
        let broker = self.start(kind)?;
        let topic = format!("suite-consumer-{size}-{}", std::process::id());
        self.fill(broker.bootstrap(), &topic, size)?;
        let assign = self.consumer_row(kind, &broker, &topic, size, false);
        let group = self.consumer_row(kind, &broker, &topic, size, true);
        self.retire(broker);
        Ok((assign, group))
    }

    fn consumer_row(
        &mut self,
        kind: BrokerKind,
        broker: &Broker,
        topic: &str,
        size: usize,
        group: bool,
    ) -> Row {
        let plan = self.plan;
        let mode = if group { "group" } else { "assign" };
        let clients = if group {
            &plan.group_clients
        } else {
            &plan.consumer_clients
        };
        let mut samples = vec![Vec::new(); clients.len()];
        for run in 0..plan.runs {
            for (i, client) in rotated(clients, run) {
                let what = || {
                    format!(
                        "{}, consumer {size} B {mode}, run {}/{}, {client}",
                        kind.name(),
                        run + 1,
                        plan.runs
                    )
                };
                let sample = self.sample(broker, what, || {
                    consumer::measure(
                        client,
                        &Endpoint::plain(broker.bootstrap()),
                        topic,
                        plan.consumer_records,
                        CONSUMER_PARTITIONS,
                        group,
                    )
                });
                if let Some((s, sample)) = samples.get_mut(i).zip(sample) {
                    s.push(sample);
                }
            }
        }
        Row {
            broker: kind.name().to_owned(),
            case: format!("{size} B, {CONSUMER_PARTITIONS} p, {mode}"),
            size,
            clients: zip_clients(clients, samples),
            notes: Vec::new(),
        }
    }
}

fn command_line(args: &Args) -> String {
    let mut c = "ferrokafka-perf suite".to_owned();
    if args.quick {
        c.push_str(" --quick");
    }
    if args.real_kafka {
        c.push_str(" --real-kafka");
    }
    c.push_str(&format!(" --runs {}", args.runs));
    if let Some(r) = args.records {
        c.push_str(&format!(" --records {r}"));
    }
    if let Some(r) = args.consumer_records {
        c.push_str(&format!(" --consumer-records {r}"));
    }
    if args.secured_only {
        c.push_str(" --secured-only");
    }
    c
}

/// The clients of one repetition, starting one further along each time.
pub(crate) fn rotated<T: Copy>(clients: &[T], run: usize) -> impl Iterator<Item = (usize, T)> + '_ {
    let n = clients.len().max(1);
    (0..clients.len()).filter_map(move |k| {
        let i = (k + run) % n;
        clients.get(i).map(|c| (i, *c))
    })
}

fn zip_clients(clients: &[&'static str], samples: Vec<Vec<Sample>>) -> Vec<(String, Vec<Sample>)> {
    clients
        .iter()
        .map(|c| (*c).to_owned())
        .zip(samples)
        .collect()
}

fn start(plan: &Plan, kind: BrokerKind) -> Result<Broker, String> {
    start_broker(kind, &plan.kafka_state)
}

/// A fresh broker of `kind`; a real Kafka one keeps its state in `kafka_state`.
pub(crate) fn start_broker(kind: BrokerKind, kafka_state: &Path) -> Result<Broker, String> {
    match kind {
        BrokerKind::MiniBinary => MiniBrokerProcess::start(&sibling("mini-broker"))
            .map(Broker::Mini)
            .map_err(|e| format!("mini-broker: {e}")),
        BrokerKind::RealKafka => startup::RealKafka::start(Some(kafka_state)).map(Broker::Real),
    }
}

pub(crate) async fn create_topic(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
) -> Result<(), String> {
    let client = Client::connect(ClientConfig::new(bootstrap).map_err(|e| e.to_string())?)
        .await
        .map_err(|e| e.to_string())?;
    let created = client
        .create_topics(&[NewTopic::new(topic).partitions(partitions)])
        .await
        .map_err(|e| format!("create topic {topic}: {e}"));
    client.close().await;
    for (_, result) in created? {
        result.map_err(|e| format!("create topic {topic}: {e}"))?;
    }
    Ok(())
}

fn startup_rows(
    plan: &Plan,
    brokers: &[BrokerKind],
    progress: &mut Progress,
) -> Result<Vec<StartupRow>, String> {
    let runs = plan.runs;
    let mut rows = Vec::new();
    for &kind in brokers {
        let mut samples = Vec::new();
        for run in 0..runs {
            let s = match kind {
                BrokerKind::MiniBinary => startup::mini_broker(&sibling("mini-broker")),
                BrokerKind::RealKafka => startup::real_kafka(Some(&plan.kafka_state)),
            }?;
            progress.step(&format!(
                "{} start-up run {}/{runs}: {:.1} ms, {:.1} MiB idle",
                kind.name(),
                run + 1,
                s.ready.as_secs_f64() * 1e3,
                s.rss_kib as f64 / 1024.0
            ));
            samples.push((s.ready, s.rss_kib));
        }
        rows.push(StartupRow {
            broker: kind.name().to_owned(),
            samples,
        });
    }
    // Give the machine a moment after the last broker stopped.
    std::thread::sleep(Duration::from_millis(200));
    Ok(rows)
}
