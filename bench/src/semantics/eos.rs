//! The exactly-once cells of `semantics`, each run in a `semantics-worker` child process:
//! read the input topic in a fresh group (`read_committed`, earliest, no auto-commit), copy
//! each value to the output topic in transactions of [`TRANSACTION_SPAN`] that also carry the
//! consumed offsets, until the given number of input records is committed. The clock and the
//! CPU count start at the first input record and stop when the transaction holding the last
//! one has committed. Prints `RESULT <elapsed ns> <cpu ticks> <records> <peak RSS KiB>`, as
//! `consumer-worker` does.
//!
//! `java-eos` runs the Java client's loop (`interop-tests/java/KafkaPeer.java`, mode
//! `eos-loop`) through `scripts/java-peer.sh`, the interop tests' own build of it, with the
//! JVM's default JIT and GC (the script's test flags trade peak speed for start-up); the JVM
//! measures its own span and CPU and prints them.

use std::convert::Infallible;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use ferrokafka::{
    AutoOffsetReset, Consumer, ConsumerConfig, ExactlyOnce, IsolationLevel, ProducerConfig,
    ProducerRecord, TransactionalProducer,
};
use rdkafka::config::ClientConfig as RdConfig;

use super::{BATCH_SIZE, LINGER_MS, TRANSACTION_SPAN};
use crate::producer::{peak_rss_kib, process_cpu_ticks};
use crate::security::Endpoint;
use crate::worker::{self, Measured};

/// Longest a run may take, from start to the last commit.
const RUN_LIMIT: Duration = Duration::from_secs(180);
/// Timeout of librdkafka's transactional calls.
const RDKAFKA_TXN_TIMEOUT: Duration = Duration::from_secs(30);

/// Options of the hidden `semantics-worker`: one exactly-once cell, one run.
#[derive(Debug, clap::Args)]
pub struct WorkerArgs {
    /// `--topic` is the input.
    #[command(flatten)]
    target: worker::Target,
    #[arg(long)]
    output: String,
    /// Input records to commit.
    #[arg(long)]
    records: usize,
}

/// True when running in CI, where no cell may be skipped.
pub(crate) fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

fn java_peer() -> std::path::PathBuf {
    crate::startup::repo().join("scripts/java-peer.sh")
}

/// Builds the Java peer if needed (`scripts/java-peer.sh build`); why it cannot run if not.
pub(crate) fn java_ready() -> Result<(), String> {
    let out = Command::new("bash")
        .arg(java_peer())
        .arg("build")
        .output()
        .map_err(|e| format!("cannot run scripts/java-peer.sh: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "scripts/java-peer.sh build failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Runs one cell in a child process and reads its result line.
pub(crate) fn measure(
    cell: &str,
    broker: &Endpoint,
    input: &str,
    output: &str,
    records: usize,
) -> Result<Measured, String> {
    let records = records.to_string();
    worker::run_measured(
        "semantics-worker",
        [cell, &broker.bootstrap, input],
        &broker.settings,
        &["--output", output, "--records", &records],
    )
}

pub fn work(args: WorkerArgs) -> ExitCode {
    let result = match args.target.client.as_str() {
        "ferrokafka-eos" => ferrokafka_run(&args),
        "rdkafka-eos" => rdkafka_run(&args),
        "java-eos" => java_run(&args),
        other => Err(format!(
            "unknown cell {other}; known: ferrokafka-eos, rdkafka-eos, java-eos"
        )),
    };
    worker::finish(&args.target.client, result)
}

/// A group id (and, with a suffix, a transactional id) no other run used.
fn fresh_group() -> String {
    format!("semantics-eos-{}", std::process::id())
}

/// The clock and the CPU count, from the first input record; and the run's deadline.
struct Span {
    start: Option<(Instant, u64)>,
    deadline: Instant,
}

impl Span {
    fn new() -> Self {
        Span {
            start: None,
            deadline: Instant::now() + RUN_LIMIT,
        }
    }

    /// An error once the run has taken too long.
    fn check(&self, committed: usize, records: usize) -> Result<(), String> {
        if Instant::now() > self.deadline {
            return Err(format!("{committed} of {records} committed in time"));
        }
        Ok(())
    }

    fn start(&mut self) {
        if self.start.is_none() {
            self.start = Some((Instant::now(), process_cpu_ticks("self")));
        }
    }

    fn stop(&self, records: usize) -> Measured {
        let (at, cpu) = self
            .start
            .unwrap_or((Instant::now(), process_cpu_ticks("self")));
        Measured {
            elapsed: at.elapsed(),
            cpu: Duration::from_millis(process_cpu_ticks("self").saturating_sub(cpu) * 10),
            records,
            peak_rss_kib: peak_rss_kib("self"),
        }
    }
}

fn ferrokafka_run(args: &WorkerArgs) -> Result<Measured, String> {
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let client = crate::security::client_config(&args.target.bootstrap, &args.target.settings)?;
        let group = fresh_group();
        let config = ConsumerConfig::builder()
            .client(client.clone())
            .group_id(group.as_str())
            .enable_auto_commit(false)
            .isolation_level(IsolationLevel::ReadCommitted)
            .auto_offset_reset(AutoOffsetReset::Earliest)
            .build()
            .map_err(|e| e.to_string())?;
        let mut consumer = Consumer::new(config).await.map_err(|e| e.to_string())?;
        consumer
            .subscribe([args.target.topic.as_str()])
            .map_err(|e| e.to_string())?;
        let config = ProducerConfig::builder()
            .client(client)
            .transactional_id(format!("{group}-txn"))
            .linger(Duration::from_millis(LINGER_MS))
            .batch_size(BATCH_SIZE)
            .build()
            .map_err(|e| e.to_string())?;
        let mut producer = TransactionalProducer::connect(config)
            .await
            .map_err(|e| e.to_string())?;
        let output: std::sync::Arc<str> = args.output.as_str().into();
        let mut eos = ExactlyOnce::new(&mut producer).transaction_every(TRANSACTION_SPAN);
        let mut span = Span::new();
        let mut committed = 0;
        while committed < args.records {
            span.check(committed, args.records)?;
            committed += consumer
                .process_exactly_once_batch(&mut eos, |r| {
                    span.start();
                    let mut out = ProducerRecord::new(&output);
                    out.value = r.value;
                    async move { Ok::<_, Infallible>(vec![out]) }
                })
                .await
                .map_err(|e| e.to_string())?;
        }
        let measured = span.stop(committed);
        producer.close().await.map_err(|e| e.to_string())?;
        consumer.close().await.map_err(|e| e.to_string())?;
        Ok(measured)
    })
}

fn rdkafka_run(args: &WorkerArgs) -> Result<Measured, String> {
    use rdkafka::consumer::{BaseConsumer, Consumer as _};
    use rdkafka::error::KafkaError;
    use rdkafka::message::Message as _;
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer as _};
    use rdkafka::types::RDKafkaErrorCode;

    let group = fresh_group();
    let mut config = RdConfig::new();
    config
        .set("group.id", &group)
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false")
        .set("auto.offset.reset", "earliest")
        .set("isolation.level", "read_committed")
        // ferrokafka's and Java's default; librdkafka's is not to check.
        .set("check.crcs", "true");
    worker::rdkafka_common(&mut config, &args.target);
    let consumer: BaseConsumer = config.create().map_err(|e| e.to_string())?;
    let mut config = RdConfig::new();
    config
        .set("transactional.id", format!("{group}-txn"))
        .set("linger.ms", LINGER_MS.to_string())
        .set("batch.size", BATCH_SIZE.to_string());
    worker::rdkafka_common(&mut config, &args.target);
    let producer: BaseProducer = config.create().map_err(|e| e.to_string())?;
    producer
        .init_transactions(RDKAFKA_TXN_TIMEOUT)
        .map_err(|e| e.to_string())?;
    consumer
        .subscribe(&[args.target.topic.as_str()])
        .map_err(|e| e.to_string())?;
    let send = |payload: &[u8]| loop {
        match producer.send(BaseRecord::<(), [u8]>::to(&args.output).payload(payload)) {
            Ok(()) => return Ok(()),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                producer.poll(Duration::from_millis(1));
            }
            Err((e, _)) => return Err(e.to_string()),
        }
    };
    let mut span = Span::new();
    let mut committed = 0;
    while committed < args.records {
        span.check(committed, args.records)?;
        // A transaction begins once there is something to put in it.
        let mut next = match consumer.poll(Duration::from_millis(100)) {
            Some(m) => Some(m.map_err(|e| e.to_string())?),
            None => continue,
        };
        span.start();
        producer.begin_transaction().map_err(|e| e.to_string())?;
        let span_end = Instant::now() + TRANSACTION_SPAN;
        let mut in_txn = 0;
        loop {
            if let Some(m) = next.take() {
                send(m.payload().unwrap_or_default())?;
                in_txn += 1;
                if in_txn % 1024 == 0 {
                    // Delivery reports, as a BaseProducer loop serves them.
                    producer.poll(Duration::ZERO);
                }
            }
            let left = span_end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            next = match consumer.poll(left) {
                Some(m) => Some(m.map_err(|e| e.to_string())?),
                None => None,
            };
        }
        let positions = consumer.position().map_err(|e| e.to_string())?;
        let metadata = consumer
            .group_metadata()
            .ok_or("no consumer group metadata")?;
        producer
            .send_offsets_to_transaction(&positions, &metadata, RDKAFKA_TXN_TIMEOUT)
            .map_err(|e| e.to_string())?;
        producer
            .commit_transaction(RDKAFKA_TXN_TIMEOUT)
            .map_err(|e| e.to_string())?;
        committed += in_txn;
    }
    Ok(span.stop(committed))
}

/// The Java client's loop: `KafkaPeer eos-loop`, which prints
/// `eos \t <records> \t <elapsed ns> \t <cpu ns> \t <peak RSS KiB>`.
fn java_run(args: &WorkerArgs) -> Result<Measured, String> {
    let group = fresh_group();
    let out = Command::new("bash")
        .arg(java_peer())
        .arg("run")
        .args([
            "eos-loop",
            args.target.bootstrap.as_str(),
            args.target.topic.as_str(),
            args.output.as_str(),
            group.as_str(),
        ])
        .arg(args.records.to_string())
        .arg(TRANSACTION_SPAN.as_millis().to_string())
        .arg(RUN_LIMIT.as_millis().to_string())
        .args(args.target.settings.iter().map(|(k, v)| format!("{k}={v}")))
        .env("KAFKA_PEER_JVM_FLAGS", "")
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run scripts/java-peer.sh: {e}"))?;
    if !out.status.success() {
        return Err(format!("java eos-loop exited with {}", out.status));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("eos\t"))
        .ok_or_else(|| format!("no result from java eos-loop: {text}"))?;
    let fields = line
        .split('\t')
        .map(str::parse)
        .collect::<Result<Vec<u64>, _>>()
        .map_err(|e| format!("{e} in {line:?}"))?;
    let [records, elapsed_ns, cpu_ns, peak_rss_kib, ..] = fields[..] else {
        return Err(format!("bad java result: {line:?}"));
    };
    Ok(Measured {
        elapsed: Duration::from_nanos(elapsed_ns),
        // In 10 ms ticks, as /proc counts the other cells' CPU.
        cpu: Duration::from_millis(cpu_ns / 10_000_000 * 10),
        records: usize::try_from(records).unwrap_or(0),
        peak_rss_kib,
    })
}
