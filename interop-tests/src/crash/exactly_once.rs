//! The exactly-once crash test: a consume-transform-produce pipeline (`eos-pipeline`,
//! [`ExactlyOnce`](ferrokafka::ExactlyOnce)) reads topic A and writes one output per input to
//! topic B; it is killed with SIGKILL at random moments, `kills` times, restarted each time,
//! and finally left to drain A. Then a `read_committed` reader of B counts each input's
//! outputs: none missing (lost) and none extra (duplicated) is the guarantee.
//!
//! Unlike the at-least/at-most-once test next door, the broker is given (any target: the
//! in-process or binary mini-broker, or real Kafka), so the same run checks the client against
//! Kafka's own transaction coordinator. Every restart uses the same `transactional.id` and
//! `group.instance.id`: the new process fences the killed one and aborts its open
//! transaction at once (InitProducerId), and takes its place in the group without a
//! rebalance wait.
//!
//! With [`Victim::Broker`] the broker is killed instead (`broker.rs`): the worker runs
//! through the restarts, started again when it gives up.
//!
//! What not: the reader's own view is trusted (it is our consumer; the
//! interop tests check that other clients read our transactions the same way).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ferrokafka::consumer::TopicPartition;
use ferrokafka::{
    AutoOffsetReset, ClientConfig, Consumer, ConsumerConfig, IsolationLevel, ProducerConfig,
    ProducerRecord,
};

use super::{broker, final_exit, Rng, Victim, PARTITIONS};

/// Options of one exactly-once crash run.
#[derive(Debug, Clone)]
pub struct Options {
    /// The `eos-pipeline` binary.
    pub worker: PathBuf,
    /// The broker (not used with [`Victim::Broker`], which starts its own).
    pub bootstrap: String,
    /// Prefix of the topics, group and transactional id (unique per run on a shared broker).
    pub name: String,
    /// Input records.
    pub records: usize,
    /// SIGKILLs.
    pub kills: usize,
    /// Each worker lives a random time in this range (ms) before it is killed.
    pub life_ms: (u64, u64),
    /// Seed for the lifetimes.
    pub seed: u64,
    /// Longest the whole run may take.
    pub budget: Duration,
    /// Who is killed.
    pub victim: Victim,
}

/// What one run found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// Input records.
    pub records: usize,
    /// Worker processes killed with SIGKILL.
    pub kills: usize,
    /// Outputs a `read_committed` reader of B saw.
    pub outputs: usize,
    /// Inputs without an output.
    pub lost: usize,
    /// Outputs beyond the first per input.
    pub duplicated: usize,
    /// Outputs a `read_uncommitted` reader saw beyond the committed ones: written by
    /// transactions that were then aborted (by a kill, mostly). Shows the kills landed
    /// mid-transaction.
    pub aborted_outputs: usize,
    /// Wall time of the run.
    pub elapsed: Duration,
    /// With [`Victim::Broker`]: workers that exited by themselves and were started again.
    pub worker_restarts: usize,
}

/// Runs the test; see the module docs.
pub fn run(options: &Options) -> Result<Report, String> {
    let started = Instant::now();
    let deadline = started + options.budget;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let mut crashing = match &options.victim {
        Victim::Worker => None,
        Victim::Broker { binary } => {
            let dir = std::env::temp_dir().join(format!("{}-data", options.name));
            Some(broker::Broker::start(binary, &dir)?)
        }
    };
    let options = &Options {
        bootstrap: crashing
            .as_ref()
            .map_or_else(|| options.bootstrap.clone(), broker::Broker::bootstrap),
        ..options.clone()
    };
    let input = format!("{}-in", options.name);
    let output = format!("{}-out", options.name);
    let ends = runtime.block_on(async {
        create(&options.bootstrap, &input).await?;
        create(&options.bootstrap, &output).await?;
        fill(&options.bootstrap, &input, options.records).await
    })?;
    let mut rng = Rng(options.seed | 1);
    let mut worker_restarts = 0;
    if let Some(crashing) = crashing.as_mut() {
        worker_restarts = broker::kill_broker_under(
            crashing,
            options.kills,
            || Duration::from_millis(rng.between(options.life_ms.0, options.life_ms.1)),
            || spawn(options, &input, &output, None),
            || {},
        )?;
    }
    let worker_kills = if crashing.is_some() { 0 } else { options.kills };
    for _ in 0..worker_kills {
        let mut child = spawn(options, &input, &output, None)?;
        let life = rng.between(options.life_ms.0, options.life_ms.1);
        std::thread::sleep(Duration::from_millis(life));
        // SIGKILL: no abort, no LeaveGroup; the next process must clean up.
        child.kill().map_err(|e| e.to_string())?;
        let _ = child.wait();
        if Instant::now() > deadline {
            return Err("out of time while killing workers".into());
        }
    }
    // A worker that found nothing to do for 2 s exits; one may do so before it was handed the
    // partitions (a restarted member's rebalance, a fenced transaction still aborting), so
    // another runs until the group's committed offsets cover the whole input.
    loop {
        let mut last = spawn(options, &input, &output, Some(2_000))?;
        final_exit(&mut last, deadline, "drain the input")?;
        if runtime.block_on(drained(options, &input, &ends))? {
            break;
        }
        eprintln!("exactly-once: the final worker went idle with input left; another one runs");
    }
    let counts = runtime.block_on(read_all(
        &options.bootstrap,
        &output,
        IsolationLevel::ReadCommitted,
        deadline,
    ))?;
    let everything = runtime.block_on(read_all(
        &options.bootstrap,
        &output,
        IsolationLevel::ReadUncommitted,
        deadline,
    ))?;
    let mut lost = 0;
    let mut duplicated = 0;
    for id in 0..options.records {
        match counts.get(&id) {
            None => lost += 1,
            Some(n) => duplicated += n - 1,
        }
    }
    if let Some(extra) = counts.keys().find(|id| **id >= options.records) {
        return Err(format!(
            "an output for input {extra}, which was never written"
        ));
    }
    Ok(Report {
        records: options.records,
        kills: options.kills,
        outputs: counts.values().sum(),
        lost,
        duplicated,
        aborted_outputs: everything
            .values()
            .sum::<usize>()
            .saturating_sub(counts.values().sum()),
        elapsed: started.elapsed(),
        worker_restarts,
    })
}

fn spawn(
    options: &Options,
    input: &str,
    output: &str,
    until_idle_ms: Option<u64>,
) -> Result<Child, String> {
    let mut cmd = Command::new(&options.worker);
    cmd.args(["--bootstrap", &options.bootstrap])
        .args(["--input", input, "--output", output])
        .args(["--name", &options.name])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    if let Some(ms) = until_idle_ms {
        cmd.args(["--until-idle-ms", &ms.to_string()]);
    }
    cmd.spawn()
        .map_err(|e| format!("spawn {}: {e}", options.worker.display()))
}

/// Whether the pipeline's group has committed, in every input partition, at least the end
/// offset `fill` left there.
async fn drained(
    options: &Options,
    input: &str,
    ends: &BTreeMap<i32, i64>,
) -> Result<bool, String> {
    let err = |e: ferrokafka::Error| e.to_string();
    let consumer = Consumer::new(
        ConsumerConfig::builder()
            .client(ClientConfig::new(&options.bootstrap).map_err(err)?)
            .group_id(format!("{}-group", options.name))
            .isolation_level(IsolationLevel::ReadCommitted)
            .build()
            .map_err(err)?,
    )
    .await
    .map_err(err)?;
    let tps: Vec<TopicPartition> = (0..PARTITIONS)
        .map(|p| TopicPartition::new(input, p))
        .collect();
    let committed = consumer.committed(&tps).await.map_err(err);
    consumer.close().await.map_err(err)?;
    Ok(committed?.into_iter().all(|(tp, offset)| {
        let end = ends.get(&tp.partition).copied().unwrap_or(0);
        offset.is_some_and(|o| o >= end)
    }))
}

/// Creates `topic` with [`PARTITIONS`] partitions and waits until its metadata is known.
pub(super) async fn create(bootstrap: &str, topic: &str) -> Result<(), String> {
    let err = |e: ferrokafka::Error| e.to_string();
    let client = ferrokafka::Client::connect(ClientConfig::new(bootstrap).map_err(err)?)
        .await
        .map_err(err)?;
    for (_, result) in client
        .create_topics(&[ferrokafka::NewTopic::new(topic).partitions(PARTITIONS)])
        .await
        .map_err(err)?
    {
        result.map_err(err)?;
    }
    client.metadata(&[topic]).await.map_err(err)?;
    client.close().await;
    Ok(())
}

/// Writes `record-<id>` for every id, round robin over the partitions, with our idempotent
/// producer (it retries while a new topic's leadership settles on a real broker); returns each
/// partition's end offset after them (the offset after its last acknowledged record).
async fn fill(bootstrap: &str, topic: &str, records: usize) -> Result<BTreeMap<i32, i64>, String> {
    let err = |e: ferrokafka::Error| e.to_string();
    let producer = ferrokafka::Producer::connect(ProducerConfig::new(bootstrap).map_err(err)?)
        .await
        .map_err(err)?;
    let mut deliveries = Vec::with_capacity(records);
    for id in 0..records {
        let partition = i32::try_from(id % PARTITIONS as usize).unwrap_or(0);
        let record = ProducerRecord::new(topic.to_owned())
            .partition(partition)
            .value(format!("record-{id}"));
        deliveries.push(producer.send(record).await.map_err(err)?);
    }
    let mut ends = BTreeMap::new();
    for delivery in deliveries {
        let meta = delivery.await.map_err(err)?;
        let after = meta.offset.map_or(0, |o| o + 1);
        let end = ends.entry(meta.partition).or_insert(0);
        *end = after.max(*end);
    }
    producer.close().await.map_err(err)?;
    Ok(ends)
}

/// Outputs per input id (`out-<id>`), read at `level` to the end of every partition.
async fn read_all(
    bootstrap: &str,
    topic: &str,
    level: IsolationLevel,
    deadline: Instant,
) -> Result<BTreeMap<usize, usize>, String> {
    let err = |e: ferrokafka::Error| e.to_string();
    let mut consumer = Consumer::new(
        ConsumerConfig::builder()
            .client(ClientConfig::new(bootstrap).map_err(err)?)
            .isolation_level(level)
            .auto_offset_reset(AutoOffsetReset::Earliest)
            .fetch_max_wait(Duration::from_millis(100))
            .build()
            .map_err(err)?,
    )
    .await
    .map_err(err)?;
    let tps: Vec<TopicPartition> = (0..PARTITIONS)
        .map(|p| TopicPartition::new(topic, p))
        .collect();
    consumer.assign(tps.clone()).map_err(err)?;
    let mut counts: BTreeMap<usize, usize> = BTreeMap::new();
    loop {
        let batch = consumer
            .poll(Duration::from_millis(300))
            .await
            .map_err(err)?;
        if batch.is_empty() && tps.iter().all(|tp| consumer.lag(tp) == Some(0)) {
            break;
        }
        for r in batch {
            let value =
                String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into_owned();
            let id = value
                .strip_prefix("out-")
                .and_then(|id| id.parse::<usize>().ok())
                .ok_or_else(|| format!("unexpected output {value:?}"))?;
            *counts.entry(id).or_default() += 1;
        }
        if Instant::now() > deadline {
            return Err("out of time reading the output".into());
        }
    }
    Ok(counts)
}
