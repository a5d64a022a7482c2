//! Crash tests with real processes: a consumer that processes records with
//! [`AtLeastOnce`](ferrokafka::AtLeastOnce) or [`AtMostOnce`](ferrokafka::AtMostOnce) is
//! killed with SIGKILL at random moments, again and again, and restarted; afterwards we count
//! what was lost and what was processed twice.
//!
//! What: [`run`] starts an in-process mini-broker (or uses the broker at
//! [`Options::bootstrap`], e.g. a real Kafka), writes `records` records over three partitions
//! of a fresh topic, then starts the worker (`crash-consumer`, `worker.rs`) as a child process,
//! kills it after a random [`Options::life_ms`] (20–400 ms by default; so the kill lands
//! anywhere: mid-join, mid-fetch, between the handler's side effect and the commit), `kills`
//! times, and finally lets one run finish. "Processing" a record is appending
//! `partition offset` to a file with one `write` call, which a SIGKILL cannot tear: the file
//! is the ground truth of what was processed. The worker is a static member (`group.instance.id`), so each restart takes the
//! dead process's place without waiting for its session to time out.
//!
//! Expected: AtLeastOnce loses nothing (duplicates allowed), AtMostOnce duplicates nothing
//! (losses allowed). `crash-harness` prints the counts; `tests/consumer.rs` asserts them.
//!
//! The exactly-once variant (a consume-transform-produce pipeline from topic A to topic B,
//! killed the same way; counted from a `read_committed` reader of B) is in [`exactly_once`].
//!
//! What not: no broker crashes, no power loss (the file is not fsynced; a killed process
//! loses nothing the kernel already has).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ferrokafka_mini_broker::MiniBroker;

pub mod broker;
pub mod exactly_once;

pub use broker::Victim;

/// The partitions of the crash topic.
pub const PARTITIONS: i32 = 3;

/// What one crash run found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// `at-least-once` or `at-most-once`.
    pub semantics: String,
    /// Records written.
    pub records: usize,
    /// Worker processes killed with SIGKILL.
    pub kills: usize,
    /// Kills that landed before the worker had processed anything in that run.
    pub early_kills: usize,
    /// Distinct records processed.
    pub processed: usize,
    /// Records never processed.
    pub lost: usize,
    /// Extra processings (a record processed three times counts two).
    pub duplicated: usize,
    /// With [`Victim::Broker`]: workers that exited by themselves and were started again.
    pub worker_restarts: usize,
}

/// Options of one crash run.
#[derive(Debug, Clone)]
pub struct Options {
    /// The `crash-consumer` binary.
    pub worker: PathBuf,
    /// `at-least-once` or `at-most-once`.
    pub semantics: String,
    pub records: usize,
    pub kills: usize,
    /// Seed for the kill delays, for reproducible runs.
    pub seed: u64,
    /// Where the processed-records file goes.
    pub dir: PathBuf,
    /// The broker to use (e.g. a real Kafka); `None` starts an in-process mini-broker.
    pub bootstrap: Option<String>,
    /// Each killed worker lives a random time in this range, in milliseconds.
    pub life_ms: (u64, u64),
    /// How long the batch modes' handler works on each batch, in milliseconds (see
    /// `worker.rs`): without it a worker drains the topic in its first life and later kills
    /// find nothing to cut short.
    pub batch_work_ms: u64,
    /// Who is killed: the worker (default) or the broker ([`broker`]; then `bootstrap` is
    /// not used).
    pub victim: Victim,
}

impl Options {
    /// The defaults: 20–400 ms kill delays, an in-process mini-broker, the temp dir.
    pub fn new(worker: impl Into<PathBuf>, semantics: &str, records: usize, kills: usize) -> Self {
        Options {
            worker: worker.into(),
            semantics: semantics.to_owned(),
            records,
            kills,
            seed: 7,
            dir: std::env::temp_dir(),
            bootstrap: None,
            life_ms: (20, 400),
            batch_work_ms: 40,
            victim: Victim::Worker,
        }
    }
}

/// A small xorshift generator: reproducible delays without a dependency.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub(crate) fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo).max(1)
    }
}

/// Runs the crash test; see the module docs.
pub fn run(options: &Options) -> Result<Report, String> {
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    let mut crashing = match &options.victim {
        Victim::Worker => None,
        Victim::Broker { binary } => {
            let dir = options.dir.join(crate::unique_topic("crash-data"));
            Some(broker::Broker::start(binary, &dir)?)
        }
    };
    let broker = match (&options.bootstrap, &crashing) {
        (None, None) => Some(
            runtime
                .block_on(MiniBroker::start())
                .map_err(|e| format!("mini-broker: {e}"))?,
        ),
        _ => None,
    };
    let bootstrap = match (&crashing, &options.bootstrap, &broker) {
        (Some(crashing), _, _) => crashing.bootstrap(),
        (None, Some(b), _) => b.clone(),
        (None, None, Some(broker)) => broker.bootstrap(),
        (None, None, None) => unreachable!("a broker was started"),
    };
    // Fresh names: a shared broker (a real Kafka) keeps topics and commits of earlier runs.
    let topic = crate::unique_topic("crash");
    let topic = topic.as_str();
    runtime.block_on(fill(&bootstrap, topic, options.records))?;
    let out = options
        .dir
        .join(format!("processed-{}-{topic}.txt", options.semantics));
    let _ = std::fs::remove_file(&out);
    let group = format!("{topic}-{}", options.semantics);
    let mut rng = Rng(options.seed | 1);
    let mut early_kills = 0;
    let mut worker_restarts = 0;
    if let Some(crashing) = crashing.as_mut() {
        let mut before = 0;
        worker_restarts = broker::kill_broker_under(
            crashing,
            options.kills,
            || Duration::from_millis(rng.between(options.life_ms.0, options.life_ms.1)),
            || spawn(options, &bootstrap, topic, &group, &out, None),
            || {
                let now = lines(&out);
                if now == before {
                    early_kills += 1;
                }
                before = now;
            },
        )?;
    }
    let worker_kills = if crashing.is_some() { 0 } else { options.kills };
    for _ in 0..worker_kills {
        let before = lines(&out);
        let mut child = spawn(options, &bootstrap, topic, &group, &out, None)?;
        let delay = Duration::from_millis(rng.between(options.life_ms.0, options.life_ms.1));
        std::thread::sleep(delay);
        // SIGKILL: no destructor, no LeaveGroup, no last commit.
        child.kill().map_err(|e| e.to_string())?;
        let _ = child.wait();
        if lines(&out) == before {
            early_kills += 1;
        }
    }
    // The last run goes until the topic is drained.
    let mut last = spawn(options, &bootstrap, topic, &group, &out, Some(1_500))?;
    let deadline = Instant::now() + Duration::from_secs(120);
    final_exit(&mut last, deadline, "drain the topic")?;
    if let Some(broker) = broker {
        runtime.block_on(broker.shutdown());
    }
    let mut counts: BTreeMap<(i32, i64), usize> = BTreeMap::new();
    for line in std::fs::read_to_string(&out)
        .map_err(|e| e.to_string())?
        .lines()
    {
        let mut f = line.split_whitespace().map(str::parse::<i64>);
        match (f.next(), f.next()) {
            (Some(Ok(p)), Some(Ok(o))) => {
                *counts
                    .entry((i32::try_from(p).unwrap_or(-1), o))
                    .or_default() += 1;
            }
            _ => return Err(format!("torn line in {}: {line:?}", out.display())),
        }
    }
    let _ = std::fs::remove_file(&out);
    let expected = expected(options.records);
    let seen: BTreeSet<(i32, i64)> = counts.keys().copied().collect();
    if let Some(extra) = seen.difference(&expected).next() {
        return Err(format!(
            "processed a record that was never written: {extra:?}"
        ));
    }
    Ok(Report {
        semantics: options.semantics.clone(),
        records: options.records,
        kills: options.kills,
        early_kills,
        processed: seen.len(),
        lost: expected.difference(&seen).count(),
        duplicated: counts.values().map(|n| n - 1).sum(),
        worker_restarts,
    })
}

/// Waits for the final worker to exit by itself (it stops once idle), checking every 50 ms
/// until `deadline`; a failed exit, or none by then (the worker is killed), is an error
/// saying what it did not `finish`.
fn final_exit(worker: &mut Child, deadline: Instant, finish: &str) -> Result<(), String> {
    loop {
        if let Some(status) = worker.try_wait().map_err(|e| e.to_string())? {
            return if status.success() {
                Ok(())
            } else {
                Err(format!("the final worker exited with {status}"))
            };
        }
        if Instant::now() > deadline {
            let _ = worker.kill();
            let _ = worker.wait();
            return Err(format!("the final worker did not {finish} in time"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn lines(path: &Path) -> usize {
    std::fs::read_to_string(path).map_or(0, |s| s.lines().count())
}

fn spawn(
    options: &Options,
    bootstrap: &str,
    topic: &str,
    group: &str,
    out: &Path,
    until_idle_ms: Option<u64>,
) -> Result<Child, String> {
    let mut cmd = Command::new(&options.worker);
    cmd.args(["--bootstrap", bootstrap, "--topic", topic, "--group", group])
        .args(["--semantics", &options.semantics])
        .args(["--batch-work-ms", &options.batch_work_ms.to_string()])
        .arg("--out")
        .arg(out)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    if let Some(ms) = until_idle_ms {
        cmd.args(["--until-idle-ms", &ms.to_string()]);
    }
    cmd.spawn()
        .map_err(|e| format!("spawn {}: {e}", options.worker.display()))
}

/// Records `(partition, offset)` written by [`fill`]: round-robin over the partitions.
fn expected(records: usize) -> BTreeSet<(i32, i64)> {
    (0..records)
        .map(|i| {
            let p = i32::try_from(i % PARTITIONS as usize).unwrap_or(0);
            (p, (i / PARTITIONS as usize) as i64)
        })
        .collect()
}

async fn fill(bootstrap: &str, topic: &str, records: usize) -> Result<(), String> {
    use bytes::Bytes;
    use ferrokafka::kafka_protocol::messages::produce_request::{
        PartitionProduceData, TopicProduceData,
    };
    use ferrokafka::kafka_protocol::messages::{ProduceRequest, TopicName};
    use ferrokafka::kafka_protocol::protocol::StrBytes;
    use ferrokafka::{Client, ClientConfig, NewTopic};
    use ferrokafka_protocol::record::{BatchBuilder, RecordInput};

    let err = |e: &dyn std::fmt::Display| e.to_string();
    let client = Client::connect(ClientConfig::new(bootstrap).map_err(|e| err(&e))?)
        .await
        .map_err(|e| err(&e))?;
    for (_, result) in client
        .create_topics(&[NewTopic::new(topic).partitions(PARTITIONS)])
        .await
        .map_err(|e| err(&e))?
    {
        result.map_err(|e| err(&e))?;
    }
    client.metadata(&[topic]).await.map_err(|e| err(&e))?;
    let leader = client.leader_for(topic, 0).await.map_err(|e| err(&e))?;
    let per_partition: Vec<Vec<usize>> = (0..PARTITIONS as usize)
        .map(|p| (p..records).step_by(PARTITIONS as usize).collect())
        .collect();
    for round in 0.. {
        let mut data = Vec::new();
        for (p, ids) in per_partition.iter().enumerate() {
            let chunk: Vec<&usize> = ids.iter().skip(round * 100).take(100).collect();
            if chunk.is_empty() {
                continue;
            }
            let mut b = BatchBuilder::new();
            for id in chunk {
                b.push(RecordInput {
                    timestamp: 0,
                    key: None,
                    value: Some(Bytes::from(format!("record-{id}"))),
                    headers: Vec::new(),
                })
                .map_err(|e| err(&e))?;
            }
            data.push(
                PartitionProduceData::default()
                    .with_index(i32::try_from(p).unwrap_or(0))
                    .with_records(Some(b.build().map_err(|e| err(&e))?)),
            );
        }
        if data.is_empty() {
            break;
        }
        // A real Kafka may not have the new partitions' leaders ready yet: resend what
        // failed with a retriable error (only that, so no record is written twice).
        let deadline = Instant::now() + Duration::from_secs(30);
        while !data.is_empty() {
            let response = client
                .send_to(
                    leader,
                    ProduceRequest::default()
                        .with_acks(-1)
                        .with_timeout_ms(10_000)
                        .with_topic_data(vec![TopicProduceData::default()
                            .with_name(TopicName(StrBytes::from_string(topic.to_owned())))
                            .with_partition_data(data.clone())]),
                )
                .await
                .map_err(|e| err(&e))?;
            let mut failed = BTreeSet::new();
            for t in &response.responses {
                for p in &t.partition_responses {
                    if let Err(e) = ferrokafka::Error::check(p.error_code, None) {
                        if !e.is_retriable() || Instant::now() > deadline {
                            return Err(err(&e));
                        }
                        failed.insert(p.index);
                    }
                }
            }
            data.retain(|d| failed.contains(&d.index));
            if !data.is_empty() {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
    client.close().await;
    Ok(())
}

/// The flags both crash drivers (`crash-harness`, `eos-chaos`) take:
/// `[--bootstrap host:port] [--kills N] [--records N] [--seed N]`.
#[derive(Debug, Clone)]
pub struct DriverArgs {
    /// SIGKILLs per run.
    pub kills: usize,
    /// Records written before the run.
    pub records: usize,
    /// Seed of the kill timing.
    pub seed: u64,
    /// A broker to use instead of starting one.
    pub bootstrap: Option<String>,
}

impl DriverArgs {
    /// Parses the process arguments over `defaults`; prints a usage line naming `program` and
    /// returns `None` on anything else.
    pub fn parse(program: &str, defaults: DriverArgs) -> Option<DriverArgs> {
        let mut out = defaults;
        let mut args = std::env::args().skip(1);
        while let Some(flag) = args.next() {
            let value = args.next();
            let number = value.as_deref().and_then(|v| v.parse::<u64>().ok());
            match (flag.as_str(), number) {
                ("--kills", Some(v)) => out.kills = v as usize,
                ("--records", Some(v)) => out.records = v as usize,
                ("--seed", Some(v)) => out.seed = v,
                ("--bootstrap", _) if value.is_some() => out.bootstrap = value,
                _ => {
                    eprintln!(
                        "usage: {program} [--bootstrap host:port] [--kills N] [--records N] [--seed N]"
                    );
                    return None;
                }
            }
        }
        Some(out)
    }
}
