//! `semantics`: what the delivery semantics cost, each measured against its peers in the same
//! run, on the same broker, with the same settings (issue 14). At 100 B and 1 KiB:
//!
//! 1. **At-least-once over batches**: N records pre-filled over 6 partitions (`consumer.rs`'s
//!    data), read in group mode (subscribe, a fresh group, `auto.offset.reset=earliest`; the
//!    clock runs from the first record to the Nth) by ferrokafka's `poll` loop without
//!    commits, ferrokafka's `process_batch` with `Batches::new(AtLeastOnce)` (and with
//!    `commit_every(100 ms)`), and librdkafka's at-least-once loop (auto-commit on, offsets
//!    stored after handling). Workers: `consumer-worker`.
//! 2. **Exactly-once consume-transform-produce**: M input records (6 partitions) copied to an
//!    output topic (6 partitions), `read_committed`, one transaction per 100 ms, by ferrokafka's
//!    `process_exactly_once_batch`, librdkafka's transactional loop and the Java client's
//!    (`KafkaPeer.java`'s `eos-loop`, through `scripts/java-peer.sh`). Input records per
//!    second from the first record. Workers: `semantics-worker` (`semantics/eos.rs`).
//! 3. **Transactions alone**: ferrokafka's `TransactionalProducer` sending N records in
//!    100 ms transactions against its idempotent `Producer`, `linger.ms=5`,
//!    `batch.size=16384`, `acks=all`, 6 partitions, keyless. Workers: `producer-worker`.
//!
//! Every run is a child process of this binary; the runs of a section are interleaved, the
//! order rotating per repetition; tables show medians with the range of the runs, and each
//! ratio (of medians) against its target. The brokers: the `mini-broker` binary, fresh per
//! record size, and with `--real-kafka` a real Kafka from `scripts/real-kafka.sh`; or the one
//! `--bootstrap` names.
//!
//! What not: crash re-delivery (that is the interop crash tests' job), compression, keyed
//! records.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use crate::broker::BrokerArgs;
use crate::producer::process_cpu_ticks;
use crate::report::{self, spread, Sample};
use crate::security::Endpoint;
use crate::suite::{self, Broker, BrokerKind, Progress};
use crate::{consumer, producer, worker};

mod eos;

pub use eos::{work, WorkerArgs};

/// One transaction's span in the exactly-once and transactional cells, and the commit
/// interval of the `ferrokafka-alo-batch-100ms` cell.
pub(crate) const TRANSACTION_SPAN: Duration = Duration::from_millis(100);

const PARTITIONS: i32 = 6;
const BATCH_SIZE: usize = 16_384;
const LINGER_MS: u64 = 5;

/// Options of `semantics`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    broker: BrokerArgs,
    /// Also run everything against a real Kafka broker started by scripts/real-kafka.sh.
    #[arg(long, conflicts_with = "bootstrap")]
    real_kafka: bool,
    /// Repetitions; every cell runs once per repetition (default 5, with --quick 2).
    #[arg(long)]
    runs: Option<usize>,
    /// Records per consumer run, at every size (default 1,000,000 at 100 B and 500,000 at
    /// 1 KiB, so that even the fastest reader runs for a tenth of a second; with --quick a
    /// tenth of that).
    #[arg(long)]
    records: Option<usize>,
    /// Records per producer run, at every size (default 500,000 at 100 B and 200,000 at
    /// 1 KiB, several transactions each; with --quick a tenth of that).
    #[arg(long)]
    producer_records: Option<usize>,
    /// Input records per exactly-once run (default 50,000; with --quick 10,000).
    #[arg(long)]
    eos_records: Option<usize>,
    /// Fewer runs and records: a smoke run.
    #[arg(long)]
    quick: bool,
    /// Record sizes in bytes (value only, no key).
    #[arg(long, value_delimiter = ',', default_value = "100,1024")]
    sizes: Vec<usize>,
    /// Which comparisons to run: alo (at-least-once), eos (exactly-once), txn (transactional
    /// producer); all by default.
    #[arg(long, value_delimiter = ',', default_value = "alo,eos,txn")]
    sections: Vec<Section>,
    /// Where to write the results as Markdown (default: bench/results/semantics.md, except
    /// with --quick, which only prints).
    #[arg(long)]
    out: Option<PathBuf>,
}

/// The three comparisons.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Section {
    #[value(name = "alo")]
    AtLeastOnce,
    #[value(name = "eos")]
    ExactlyOnce,
    #[value(name = "txn")]
    Transactions,
}

impl Section {
    const ALL: [Section; 3] = [
        Section::AtLeastOnce,
        Section::ExactlyOnce,
        Section::Transactions,
    ];

    fn name(self) -> &'static str {
        match self {
            Section::AtLeastOnce => "alo",
            Section::ExactlyOnce => "eos",
            Section::Transactions => "txn",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Section::AtLeastOnce => "At-least-once over batches (group mode, 6 partitions)",
            Section::ExactlyOnce => {
                "Exactly-once consume-transform-produce (read_committed, a transaction per 100 ms)"
            }
            Section::Transactions => {
                "Transactional producer vs idempotent producer (acks=all, linger.ms=5, 6 partitions)"
            }
        }
    }

    fn cells(self) -> &'static [&'static str] {
        match self {
            Section::AtLeastOnce => &[
                "ferrokafka-poll",
                "ferrokafka-alo-batch",
                "ferrokafka-alo-batch-100ms",
                "rdkafka-alo",
            ],
            Section::ExactlyOnce => &["ferrokafka-eos", "rdkafka-eos", "java-eos"],
            Section::Transactions => &["ferrokafka-txn", "ferrokafka-idem"],
        }
    }
}

/// A ratio of two cells' medians and the target for it (at least).
struct Target {
    section: Section,
    numerator: &'static str,
    denominator: &'static str,
    at_least: f64,
}

const TARGETS: [Target; 5] = [
    Target {
        section: Section::AtLeastOnce,
        numerator: "ferrokafka-alo-batch",
        denominator: "ferrokafka-poll",
        at_least: 0.8,
    },
    Target {
        section: Section::AtLeastOnce,
        numerator: "ferrokafka-alo-batch",
        denominator: "rdkafka-alo",
        at_least: 1.5,
    },
    Target {
        section: Section::ExactlyOnce,
        numerator: "ferrokafka-eos",
        denominator: "rdkafka-eos",
        at_least: 1.5,
    },
    Target {
        section: Section::ExactlyOnce,
        numerator: "ferrokafka-eos",
        denominator: "java-eos",
        at_least: 1.0,
    },
    Target {
        section: Section::Transactions,
        numerator: "ferrokafka-txn",
        denominator: "ferrokafka-idem",
        at_least: 0.8,
    },
];

/// The runs of one section at one size on one broker.
struct Row {
    broker: String,
    section: Section,
    size: usize,
    cells: Vec<(&'static str, Vec<Sample>)>,
}

impl Row {
    fn median(&self, cell: &str) -> Option<f64> {
        let (_, samples) = self.cells.iter().find(|(c, _)| *c == cell)?;
        let m = spread(samples.iter().map(|s| s.rate)).median;
        m.is_finite().then_some(m)
    }
}

/// Everything one `semantics` run found.
struct Results {
    command: String,
    machine: String,
    started: String,
    finished: String,
    runs: usize,
    rows: Vec<Row>,
    /// Cells left out, and why.
    skipped: Vec<String>,
    /// Runs that failed (left out of the medians).
    failures: Vec<String>,
}

/// Where the runs go: a broker started here, or one named by `--bootstrap`.
enum Place {
    Started(Broker),
    Given(String),
}

impl Place {
    fn bootstrap(&self) -> &str {
        match self {
            Place::Started(b) => b.bootstrap(),
            Place::Given(b) => b,
        }
    }

    fn pid(&self) -> Option<u32> {
        match self {
            Place::Started(b) => Some(b.pid()),
            Place::Given(_) => None,
        }
    }
}

/// What the runs of one invocation share.
struct Plan {
    runs: usize,
    sizes: Vec<usize>,
    sections: Vec<Section>,
    quick: bool,
    records: Option<usize>,
    producer_records: Option<usize>,
    eos_records: usize,
    /// Why the Java cell cannot run, if it cannot.
    java_missing: Option<String>,
}

impl Plan {
    /// Records per consumer run at `size`.
    fn records(&self, size: usize) -> usize {
        let full = if size <= 100 { 1_000_000 } else { 500_000 };
        self.records
            .unwrap_or(if self.quick { full / 10 } else { full })
    }

    /// Records per producer run at `size`.
    fn producer_records(&self, size: usize) -> usize {
        let full = if size <= 100 { 500_000 } else { 200_000 };
        self.producer_records
            .unwrap_or(if self.quick { full / 10 } else { full })
    }

    fn cells(&self, section: Section) -> Vec<&'static str> {
        section
            .cells()
            .iter()
            .copied()
            .filter(|c| *c != "java-eos" || self.java_missing.is_none())
            .collect()
    }
}

pub fn run(args: Args) -> ExitCode {
    match semantics(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("semantics: {err}");
            ExitCode::FAILURE
        }
    }
}

fn semantics(args: &Args) -> Result<(), String> {
    let machine = report::machine();
    let started = report::utc_now();
    let java_missing = eos::java_ready().err();
    let mut skipped = Vec::new();
    if let Some(why) = &java_missing {
        let line = format!("java-eos (the Java client): {why}");
        if eos::in_ci() {
            return Err(format!("the Java client is missing in CI: {line}"));
        }
        eprintln!(
            "\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n\
             !!! SKIPPED: {line}\n!!! scripts/setup.sh fetches the jars; Java 17 builds the peer.\n\
             !!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n"
        );
        skipped.push(line);
    }
    let plan = Plan {
        runs: args.runs.unwrap_or(if args.quick { 2 } else { 5 }).max(1),
        sizes: args.sizes.clone(),
        sections: args.sections.clone(),
        quick: args.quick,
        records: args.records,
        producer_records: args.producer_records,
        eos_records: args
            .eos_records
            .unwrap_or(if args.quick { 10_000 } else { 50_000 }),
        java_missing,
    };
    let kinds: Vec<BrokerKind> = if args.broker.bootstrap.is_some() {
        Vec::new()
    } else if args.real_kafka {
        vec![BrokerKind::MiniBinary, BrokerKind::RealKafka]
    } else {
        vec![BrokerKind::MiniBinary]
    };
    let per_size: usize = plan.sections.iter().map(|s| plan.cells(*s).len()).sum();
    let brokers = kinds.len().max(1);
    let mut runner = Runner {
        plan: &plan,
        rt: tokio::runtime::Runtime::new().map_err(|e| e.to_string())?,
        progress: Progress {
            done: 0,
            total: brokers * plan.sizes.len() * per_size * plan.runs,
            started: Instant::now(),
        },
        failures: Vec::new(),
    };
    let kafka_state = PathBuf::from("/tmp/rk-bench.env.state");
    let mut rows = Vec::new();
    for &size in &plan.sizes {
        if let Some(b) = &args.broker.bootstrap {
            let place = Place::Given(b.clone());
            rows.extend(runner.rows(&format!("the broker at {b}"), &place, size)?);
        }
        for &kind in &kinds {
            // A fresh broker per size, so one size's data does not weigh on the next.
            let broker = match kind {
                BrokerKind::MiniBinary if args.broker.mini_broker.is_some() => {
                    let bin = args.broker.mini_broker.clone().unwrap_or_default();
                    crate::broker::MiniBrokerProcess::start(&bin).map(Broker::Mini)?
                }
                _ => suite::start_broker(kind, &kafka_state)?,
            };
            rows.extend(runner.rows(kind.name(), &Place::Started(broker), size)?);
        }
    }
    let results = Results {
        command: command_line(args),
        machine,
        started,
        finished: report::utc_now(),
        runs: plan.runs,
        rows,
        skipped,
        failures: runner.failures,
    };
    let text = markdown(&results, &plan);
    println!("{text}");
    let out = args.out.clone().or_else(|| {
        (!args.quick)
            .then(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("results/semantics.md"))
    });
    if let Some(path) = out {
        std::fs::write(&path, &text).map_err(|e| format!("{}: {e}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

struct Runner<'a> {
    plan: &'a Plan,
    rt: tokio::runtime::Runtime,
    progress: Progress,
    failures: Vec<String>,
}

impl Runner<'_> {
    /// The plan's sections at `size` on one broker.
    fn rows(&mut self, broker: &str, place: &Place, size: usize) -> Result<Vec<Row>, String> {
        let plan = self.plan;
        let id = std::process::id();
        let records = plan.records(size);
        let mut rows = Vec::new();
        let endpoint = Endpoint::plain(place.bootstrap());

        if plan.sections.contains(&Section::AtLeastOnce) {
            let input = format!("semantics-alo-{size}-{id}");
            eprintln!("writing {records} records of {size} B to {input} ...");
            self.fill(place, &input, records, size)?;
            rows.push(
                self.section(broker, place, Section::AtLeastOnce, size, |cell, _| {
                    consumer::measure(cell, &endpoint, &input, records, PARTITIONS, true)
                }),
            );
        }
        if plan.sections.contains(&Section::ExactlyOnce) {
            rows.push(self.exactly_once(broker, place, size, &endpoint)?);
        }
        if plan.sections.contains(&Section::Transactions) {
            rows.push(self.transactions(broker, place, size, &endpoint)?);
        }
        Ok(rows)
    }

    fn exactly_once(
        &mut self,
        broker: &str,
        place: &Place,
        size: usize,
        endpoint: &Endpoint,
    ) -> Result<Row, String> {
        let plan = self.plan;
        let id = std::process::id();
        let eos_records = plan.eos_records;
        let input = format!("semantics-eos-in-{size}-{id}");
        eprintln!("writing {eos_records} records of {size} B to {input} ...");
        self.fill(place, &input, eos_records, size)?;
        let rt = &self.rt;
        let output = format!("semantics-eos-out-{size}-{id}");
        rt.block_on(suite::create_topic(place.bootstrap(), &output, PARTITIONS))?;
        Ok(
            self.section(broker, place, Section::ExactlyOnce, size, |cell, _| {
                eos::measure(cell, endpoint, &input, &output, eos_records)
            }),
        )
    }

    fn transactions(
        &mut self,
        broker: &str,
        place: &Place,
        size: usize,
        endpoint: &Endpoint,
    ) -> Result<Row, String> {
        let plan = self.plan;
        let id = std::process::id();
        let case = producer::Case {
            records: plan.producer_records(size),
            size,
            acks: "all".to_owned(),
            batch_size: BATCH_SIZE,
            linger_ms: LINGER_MS,
            compression: "none".to_owned(),
        };
        let bootstrap = place.bootstrap().to_owned();
        let create = |topic: &str| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?
                .block_on(suite::create_topic(&bootstrap, topic, PARTITIONS))
        };
        Ok(
            self.section(broker, place, Section::Transactions, size, |cell, run| {
                let topic = format!("semantics-txn-{size}-{id}-{run}-{cell}");
                create(&topic)?;
                // The idempotent cell is `producer`'s own ferrokafka worker with acks=all.
                let client = if cell == "ferrokafka-idem" {
                    "ferrokafka"
                } else {
                    cell
                };
                producer::measure(client, endpoint, &topic, &case)
            }),
        )
    }

    fn fill(&self, place: &Place, topic: &str, records: usize, size: usize) -> Result<(), String> {
        self.rt
            .block_on(consumer::fill(
                place.bootstrap(),
                topic,
                PARTITIONS,
                records,
                size,
            ))
            .map_err(|e| format!("writing {topic}: {e}"))
    }

    /// Every cell of `section`, `runs` times, interleaved; `measure(cell, run)` runs one.
    fn section(
        &mut self,
        broker: &str,
        place: &Place,
        section: Section,
        size: usize,
        measure: impl Fn(&'static str, usize) -> Result<worker::Measured, String>,
    ) -> Row {
        let cells = self.plan.cells(section);
        let mut samples: Vec<Vec<Sample>> = vec![Vec::new(); cells.len()];
        for run in 0..self.plan.runs {
            for (i, cell) in suite::rotated(&cells, run) {
                let what = format!(
                    "{broker}, {size} B, {cell}, run {}/{}",
                    run + 1,
                    self.plan.runs
                );
                let broker_cpu = place.pid().map(|p| process_cpu_ticks(&p.to_string()));
                match measure(cell, run) {
                    Ok(m) => {
                        let ticks = place.pid().zip(broker_cpu).map(|(p, before)| {
                            process_cpu_ticks(&p.to_string()).saturating_sub(before)
                        });
                        let sample =
                            Sample::new(m.records, m.elapsed, m.cpu, ticks, m.peak_rss_kib);
                        self.progress
                            .step(&format!("{what}: {:.0} records/s", sample.rate));
                        if let Some(s) = samples.get_mut(i) {
                            s.push(sample);
                        }
                    }
                    Err(e) => {
                        let line = format!("{what}: {e}");
                        self.progress.step(&format!("FAILED {line}"));
                        self.failures.push(line);
                    }
                }
            }
        }
        Row {
            broker: broker.to_owned(),
            section,
            size,
            cells: cells.into_iter().zip(samples).collect(),
        }
    }
}

fn command_line(args: &Args) -> String {
    let mut c = "ferrokafka-perf semantics".to_owned();
    if args.quick {
        c.push_str(" --quick");
    }
    if args.real_kafka {
        c.push_str(" --real-kafka");
    }
    if let Some(b) = &args.broker.bootstrap {
        let _ = write!(c, " --bootstrap {b}");
    }
    if let Some(r) = args.runs {
        let _ = write!(c, " --runs {r}");
    }
    if let Some(r) = args.records {
        let _ = write!(c, " --records {r}");
    }
    if let Some(r) = args.producer_records {
        let _ = write!(c, " --producer-records {r}");
    }
    if let Some(r) = args.eos_records {
        let _ = write!(c, " --eos-records {r}");
    }
    if args.sizes != [100, 1024] {
        let sizes: Vec<String> = args.sizes.iter().map(usize::to_string).collect();
        let _ = write!(c, " --sizes {}", sizes.join(","));
    }
    if args.sections != Section::ALL {
        let names: Vec<&str> = args.sections.iter().map(|s| s.name()).collect();
        let _ = write!(c, " --sections {}", names.join(","));
    }
    c
}

fn human(rate: f64) -> String {
    if rate >= 1e6 {
        format!("{:.2} M", rate / 1e6)
    } else {
        format!("{:.1} k", rate / 1e3)
    }
}

/// The ratios of the targets, each with its verdict.
fn ratio_lines(results: &Results) -> Vec<String> {
    let mut lines = Vec::new();
    for row in &results.rows {
        for t in TARGETS.iter().filter(|t| t.section == row.section) {
            let name = format!("{} / {}", t.numerator, t.denominator);
            let (measured, verdict) = match (row.median(t.numerator), row.median(t.denominator)) {
                (Some(a), Some(b)) => {
                    let r = a / b;
                    let verdict = if r >= t.at_least { "met" } else { "NOT MET" };
                    (format!("{r:.2}×"), verdict.to_owned())
                }
                _ => ("–".to_owned(), "not run (see below)".to_owned()),
            };
            lines.push(format!(
                "| {} | {} B | {name} | ≥ {:.1}× | {measured} | {verdict} |",
                row.broker, row.size, t.at_least
            ));
        }
    }
    lines
}

fn markdown(results: &Results, plan: &Plan) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Delivery semantics at speed\n");
    let _ = writeln!(
        out,
        "`{}` — {} to {}, on {}.\n",
        results.command, results.started, results.finished, results.machine
    );
    if plan.quick {
        out.push_str(
            "**A `--quick` smoke run** (fewer runs, a tenth of the records): it shows that every \
             cell runs, not what they cost; see the full run's command in README.md.\n\n",
        );
    }
    let _ = writeln!(
        out,
        "Every figure is the median of {} run(s) with the range of the runs; the cells of a \
         section run interleaved (the order rotates per repetition), each in its own child \
         process, on the same broker and data. Ratios are of medians from the same run. \
         Consumers read {} records per run at 100 B and {} at 1 KiB over {PARTITIONS} \
         partitions in group mode (a fresh group, `auto.offset.reset=earliest`), the clock \
         from the first record to the last, touching each value. Exactly-once: {} input \
         records per run, output = input value to a {PARTITIONS}-partition topic, \
         `read_committed`, a transaction per {} ms, input records per second from the first \
         record. Transactions: {} records per run at 100 B and {} at 1 KiB, keyless, \
         `linger.ms={LINGER_MS}`, `batch.size={BATCH_SIZE}`, `acks=all`, 5 in flight, \
         {PARTITIONS} partitions, the clock from the first send to the last acknowledgement \
         (the transactional cell's last commit). CPU is user + system time of the client's \
         process over the measured span (for Java: the JVM's process CPU time), 10 ms ticks; \
         broker CPU is the broker process's over the worker's whole life.\n",
        results.runs,
        plan.records(100),
        plan.records(1024),
        plan.eos_records,
        TRANSACTION_SPAN.as_millis(),
        plan.producer_records(100),
        plan.producer_records(1024)
    );
    out.push_str("## Ratios\n\n| broker | record | ratio | target | measured | verdict |\n");
    out.push_str("|---|---|---|---:|---:|---|\n");
    for line in ratio_lines(results) {
        let _ = writeln!(out, "{line}");
    }
    for &section in &plan.sections {
        let _ = writeln!(out, "\n## {}\n", section.title());
        out.push_str(
            "| broker | record | cell | records/s, median (min–max) | client CPU s / 1M | \
             broker CPU s / 1M | peak RSS MiB | runs |\n",
        );
        out.push_str("|---|---|---|---:|---:|---:|---:|---:|\n");
        for row in results.rows.iter().filter(|r| r.section == section) {
            for (cell, samples) in &row.cells {
                let rate = spread(samples.iter().map(|s| s.rate));
                let cpu = spread(samples.iter().map(|s| s.cpu_per_m)).median;
                let broker_cpu = spread(samples.iter().filter_map(|s| s.broker_cpu_per_m)).median;
                let rss = spread(samples.iter().map(|s| s.peak_rss_mib)).median;
                let broker_cpu = if broker_cpu.is_finite() {
                    format!("{broker_cpu:.2}")
                } else {
                    "–".to_owned()
                };
                let _ = writeln!(
                    out,
                    "| {} | {} B | {cell} | {} ({}–{}) | {cpu:.2} | {broker_cpu} | {rss:.0} | {} |",
                    row.broker,
                    row.size,
                    human(rate.median),
                    human(rate.min),
                    human(rate.max),
                    samples.len()
                );
            }
        }
    }
    let _ = writeln!(out, "\n## Cells\n");
    out.push_str(CELL_NOTES);
    if !results.skipped.is_empty() {
        out.push_str("\n## Not run\n\n");
        for s in &results.skipped {
            let _ = writeln!(out, "- {s}");
        }
    }
    if !results.failures.is_empty() {
        out.push_str("\n## Failed runs (left out of the medians)\n\n");
        for f in &results.failures {
            let _ = writeln!(out, "- {f}");
        }
    }
    out
}

const CELL_NOTES: &str = "\
- `ferrokafka-poll`: `Consumer::poll` loop, `enable.auto.commit=false`, no commits.
- `ferrokafka-alo-batch`: `consumer.process_batch(&mut Batches::new(AtLeastOnce), ..)` loop: \
a commit after every batch, in the background while the next batch is fetched; \
`commit_pending` after the clock stops. `-100ms`: the same with `commit_every(100 ms)`.
- `rdkafka-alo`: `BaseConsumer::poll` with `enable.auto.commit=true` (default interval), \
`enable.auto.offset.store=false` and `store_offset_from_message` after each record.
- `ferrokafka-eos`: `consumer.process_exactly_once_batch(&mut \
ExactlyOnce::new(&mut producer).transaction_every(100 ms), ..)` loop with a \
`TransactionalProducer` (`linger.ms=5`, `batch.size=16384`).
- `rdkafka-eos`: `BaseConsumer` (`read_committed`, no auto-commit) and a transactional \
`BaseProducer` (same linger and batch size): after the first record of a cycle, begin; poll \
and produce for 100 ms; `send_offsets_to_transaction(position, group metadata)`; commit.
- `java-eos`: the same loop with the Java client 4.1.2 (`KafkaPeer.java eos-loop`, the \
JVM's default JIT and GC), `sendOffsetsToTransaction(positions, consumer.groupMetadata())`.
- `ferrokafka-txn`: `TransactionalProducer`: begin; send until 100 ms have passed; commit; \
until all are sent. `ferrokafka-idem`: `Producer` with `enable.idempotence=true`, every \
delivery awaited. Both after a one-record warm-up.
";
