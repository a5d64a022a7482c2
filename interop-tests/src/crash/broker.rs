//! Broker crashes: the `mini-broker` binary with `--data-dir`, SIGKILLed and restarted on the
//! same address and directory again and again while clients work against it. Three workloads,
//! each with its guarantee:
//! - an idempotent `acks=all` ferrokafka producer ([`producer_run`]): every acknowledged
//!   record is in the log once — 0 lost, 0 duplicated;
//! - the at-least-once group worker of the consumer crash test ([`super::run`] with
//!   [`Victim::Broker`]): 0 lost;
//! - the exactly-once pipeline ([`super::exactly_once::run`] with [`Victim::Broker`]): 0 lost,
//!   0 duplicated in what a `read_committed` reader sees.
//!
//! The clients are not restarted by the test unless they give up: a worker that exits (an
//! error it does not retry, a fenced producer) is started again and counted. A restart
//! aborts the transactions the broker had open (their producer is fenced), so the
//! exactly-once worker starts again after most kills.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use super::Rng;

/// Who a crash run kills.
#[derive(Debug, Clone)]
pub enum Victim {
    /// The worker process (the broker is left alone).
    Worker,
    /// The broker: this `mini-broker` binary, started by the run with a data dir.
    Broker {
        /// The `mini-broker` binary.
        binary: PathBuf,
    },
}

/// A `mini-broker --data-dir` child process on a fixed address; killed when dropped.
#[derive(Debug)]
pub struct Broker {
    binary: PathBuf,
    dir: PathBuf,
    addr: String,
    child: Option<Child>,
    /// SIGKILLs so far.
    pub kills: usize,
}

impl Broker {
    /// Starts `binary` on a free loopback port with the data dir `dir` (emptied first).
    pub fn start(binary: &Path, dir: &Path) -> Result<Broker, String> {
        let _ = std::fs::remove_dir_all(dir);
        let mut broker = Broker {
            binary: binary.to_owned(),
            dir: dir.to_owned(),
            addr: "127.0.0.1:0".into(),
            child: None,
            kills: 0,
        };
        broker.spawn()?;
        Ok(broker)
    }

    /// Its address (the same across restarts).
    pub fn bootstrap(&self) -> String {
        self.addr.clone()
    }

    /// SIGKILL (no shutdown, nothing flushed but what the kernel has), then a new process on
    /// the same address and data dir, waiting until it listens.
    pub fn kill_and_restart(&mut self) -> Result<(), String> {
        if let Some(mut child) = self.child.take() {
            child.kill().map_err(|e| format!("kill mini-broker: {e}"))?;
            let _ = child.wait();
        }
        self.kills += 1;
        self.spawn()
    }

    fn spawn(&mut self) -> Result<(), String> {
        let mut child = Command::new(&self.binary)
            .args(["--listen", &self.addr, "--log-level", "warn", "--data-dir"])
            .arg(&self.dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("spawn {}: {e}", self.binary.display()))?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(Duration::from_secs(20)).unwrap_or_default();
        let Some(addr) = line.trim().strip_prefix("listening on ") else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!(
                "mini-broker on {} did not start (first line {line:?})",
                self.dir.display()
            ));
        };
        self.addr = addr.to_owned();
        self.child = Some(child);
        Ok(())
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// What the producer run found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProducerReport {
    /// Broker SIGKILLs.
    pub kills: usize,
    /// The audit of the log against the acknowledgements.
    pub audit: crate::failover::Audit,
}

/// The producer of [`producer_run`].
const PRODUCER_SETTINGS: [(&str, &str); 3] = [
    ("enable.idempotence", "true"),
    ("acks", "all"),
    // Long enough to outlast every restart: a record fails only if the broker is gone for
    // good.
    ("delivery.timeout.ms", "120000"),
];

/// An idempotent `acks=all` producer ([`crate::failover::feed_with`], one record per ms over
/// three partitions) writes while the broker is killed and restarted `kills` times, every
/// `life_ms` (random in the range); then the log is read back and audited.
pub fn producer_run(
    binary: &Path,
    dir: &Path,
    kills: usize,
    life_ms: (u64, u64),
    seed: u64,
) -> Result<ProducerReport, String> {
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    let mut broker = Broker::start(binary, dir)?;
    let bootstrap = broker.bootstrap();
    let topic = crate::unique_topic("broker-crash-idem");
    runtime.block_on(super::exactly_once::create(&bootstrap, &topic))?;
    let stop = Arc::new(AtomicBool::new(false));
    let feeder = runtime.spawn(crate::failover::feed_with(
        bootstrap.clone(),
        topic.clone(),
        super::PARTITIONS,
        Duration::from_millis(1),
        &PRODUCER_SETTINGS,
        Arc::clone(&stop),
    ));
    let mut rng = Rng(seed | 1);
    for _ in 0..kills {
        std::thread::sleep(Duration::from_millis(rng.between(life_ms.0, life_ms.1)));
        broker.kill_and_restart()?;
    }
    // Some records after the last restart too.
    std::thread::sleep(Duration::from_millis(life_ms.1));
    stop.store(true, Ordering::SeqCst);
    let acked = runtime
        .block_on(feeder)
        .map_err(|e| format!("feeder: {e}"))?;
    let log = runtime.block_on(crate::failover::read_topic(
        &bootstrap,
        &topic,
        super::PARTITIONS,
    ));
    Ok(ProducerReport {
        kills: broker.kills,
        audit: crate::failover::audit(&log, &acked),
    })
}

/// Kills and restarts `broker` `kills` times, each after `life()`, while a worker started by
/// `spawn` runs; a worker that exited is started again. `after_kill` runs after each restart.
/// At the end the worker is SIGKILLed (the callers' final worker drains what is left).
/// Returns how often the worker was started again.
pub(super) fn kill_broker_under(
    broker: &mut Broker,
    kills: usize,
    mut life: impl FnMut() -> Duration,
    mut spawn: impl FnMut() -> Result<Child, String>,
    mut after_kill: impl FnMut(),
) -> Result<usize, String> {
    let mut worker = spawn()?;
    let mut restarts = 0;
    for _ in 0..kills {
        std::thread::sleep(life());
        broker.kill_and_restart()?;
        after_kill();
        if worker.try_wait().map_err(|e| e.to_string())?.is_some() {
            worker = spawn()?;
            restarts += 1;
        }
    }
    let _ = worker.kill();
    let _ = worker.wait();
    Ok(restarts)
}
