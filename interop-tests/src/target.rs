//! The brokers a scenario runs against.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use ferrokafka_mini_broker::MiniBroker;

use crate::{missing, repo_root};

/// Which broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetKind {
    /// `MiniBroker::start()` in this process, on its own runtime.
    InProcess,
    /// The `mini-broker` binary as a child process.
    Binary,
    /// A real Apache Kafka broker started by `scripts/real-kafka.sh`.
    RealKafka,
    /// An `apache/kafka` container (feature `testcontainers`; needs a Docker engine).
    #[cfg(feature = "testcontainers")]
    Container,
}

/// A running broker and how to reach it; stops it when dropped (unless it is shared).
#[derive(Debug)]
pub struct Target {
    /// Which broker this is.
    pub kind: TargetKind,
    /// `host:port` for clients.
    pub bootstrap: String,
    guard: Guard,
}

#[derive(Debug)]
enum Guard {
    InProcess {
        runtime: tokio::runtime::Runtime,
        broker: Option<Box<MiniBroker>>,
    },
    Child(Child),
    Shared,
    #[cfg(feature = "testcontainers")]
    Container(#[allow(dead_code)] container::Running),
}

/// Starts the target and runs `body` against it; a missing target is reported by [`missing`].
pub fn run_on(kind: TargetKind, body: impl FnOnce(&Target)) {
    if let Some(target) = Target::start(kind) {
        body(&target);
    }
}

impl Target {
    /// Starts (or finds) a broker of `kind`; `None` when it is unavailable outside CI.
    pub fn start(kind: TargetKind) -> Option<Target> {
        match kind {
            TargetKind::InProcess => Some(in_process()),
            TargetKind::Binary => binary(),
            TargetKind::RealKafka => real_kafka(),
            #[cfg(feature = "testcontainers")]
            TargetKind::Container => container::start(),
        }
    }

    /// True for the mini-broker targets.
    pub fn is_mini(&self) -> bool {
        self.kind != TargetKind::RealKafka
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        match &mut self.guard {
            Guard::InProcess { runtime, broker } => {
                if let Some(broker) = broker.take() {
                    runtime.block_on(broker.shutdown());
                }
            }
            Guard::Child(child) => stop_child(child),
            Guard::Shared => {}
            #[cfg(feature = "testcontainers")]
            Guard::Container(_) => {}
        }
    }
}

/// Tests write records with fixed timestamps (2023, even 0), which a 7-day retention would
/// delete under a running reader: every target keeps records forever unless a topic sets
/// `retention.ms` (scripts/real-kafka.sh sets the same).
const NO_TIME_RETENTION: i64 = -1;

/// How often retention and the log cleaner run on every target (scripts/real-kafka.sh sets
/// the same), so scenarios about them finish in seconds.
const LOG_MAINTENANCE_INTERVAL: Duration = Duration::from_millis(500);

fn in_process() -> Target {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let broker = runtime
        .block_on(
            MiniBroker::builder()
                .log_retention_ms(NO_TIME_RETENTION)
                .log_retention_check_interval(LOG_MAINTENANCE_INTERVAL)
                .log_cleaner_backoff(LOG_MAINTENANCE_INTERVAL)
                .start(),
        )
        .expect("start in-process mini-broker");
    Target {
        kind: TargetKind::InProcess,
        bootstrap: broker.bootstrap(),
        guard: Guard::InProcess {
            runtime,
            broker: Some(Box::new(broker)),
        },
    }
}

/// The `mini-broker` binary: `MINI_BROKER_BIN`, or next to this test executable's target dir.
pub fn mini_broker_bin() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("MINI_BROKER_BIN") {
        return Some(PathBuf::from(path));
    }
    let exe = std::env::current_exe().ok()?;
    let profile_dir = exe.parent()?.parent()?;
    let bin = profile_dir.join("mini-broker");
    bin.exists().then_some(bin)
}

fn binary() -> Option<Target> {
    let Some(bin) = mini_broker_bin() else {
        missing(
            "the mini-broker binary",
            "build it first: cargo build -p ferrokafka-mini-broker --bin mini-broker",
        );
        return None;
    };
    let mut child = Command::new(&bin)
        .args(["--listen", "127.0.0.1:0", "--log-level", "warn"])
        .arg(format!("--log-retention-ms={NO_TIME_RETENTION}"))
        .arg(format!(
            "--log-retention-check-interval-ms={}",
            LOG_MAINTENANCE_INTERVAL.as_millis()
        ))
        .arg(format!(
            "--log-cleaner-backoff-ms={}",
            LOG_MAINTENANCE_INTERVAL.as_millis()
        ))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {}: {e}", bin.display()));
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = match rx.recv_timeout(Duration::from_secs(20)) {
        Ok(line) => line,
        Err(_) => {
            stop_child(&mut child);
            panic!("mini-broker binary did not report its address within 20 s");
        }
    };
    let bootstrap = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line from mini-broker: {line:?}"))
        .to_owned();
    Some(Target {
        kind: TargetKind::Binary,
        bootstrap,
        guard: Guard::Child(child),
    })
}

/// Sends SIGTERM (the binary shuts down cleanly), then kills it if it lingers.
pub(crate) fn stop_child(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        match child.try_wait() {
            Ok(Some(status)) => {
                assert!(
                    status.success(),
                    "mini-broker exited with {status} after SIGTERM"
                );
                return;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(_) => break,
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("mini-broker did not stop within 10 s of SIGTERM");
}

/// Where the Kafka scripts keep jars and state files for one Kafka version:
/// `$FERROKAFKA_CACHE/$KAFKA_VERSION`, by default `.cache/kafka/4.1.2` in the repository.
pub fn kafka_cache_dir() -> PathBuf {
    let version = std::env::var("KAFKA_VERSION").unwrap_or_else(|_| "4.1.2".into());
    std::env::var_os("FERROKAFKA_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".cache/kafka"))
        .join(version)
}

/// The real broker's bootstrap: `KAFKA_BOOTSTRAP`, or the state file of `scripts/real-kafka.sh`.
pub fn real_kafka_bootstrap() -> Option<String> {
    if let Ok(b) = std::env::var("KAFKA_BOOTSTRAP") {
        if !b.is_empty() {
            return Some(b);
        }
    }
    let state = std::env::var_os("KAFKA_STATE_FILE")
        .map(PathBuf::from)
        .unwrap_or_else(|| kafka_cache_dir().join("real-kafka.env"));
    let text = std::fs::read_to_string(state).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("KAFKA_BOOTSTRAP=").map(str::to_owned))
}

fn real_kafka() -> Option<Target> {
    match real_kafka_bootstrap() {
        Some(bootstrap) => Some(Target {
            kind: TargetKind::RealKafka,
            bootstrap,
            guard: Guard::Shared,
        }),
        None => {
            missing(
                "the real Kafka broker",
                "start it with scripts/real-kafka.sh start (scripts/test.sh does this)",
            );
            None
        }
    }
}

#[cfg(feature = "testcontainers")]
mod container {
    //! One single-node KRaft `apache/kafka` container per target, advertised on a host port
    //! picked before start so clients reach it through the port mapping.

    use testcontainers::core::{IntoContainerPort, WaitFor};
    use testcontainers::runners::SyncRunner;
    use testcontainers::{Container, GenericImage, ImageExt};

    use super::{Guard, Target, TargetKind};
    use crate::missing;

    /// Keeps the container alive; it is removed when dropped.
    pub(super) type Running = Container<GenericImage>;

    pub(super) fn start() -> Option<Target> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("free port");
        let image = GenericImage::new("apache/kafka", "4.1.0")
            .with_wait_for(WaitFor::message_on_stdout("Kafka Server started"))
            .with_mapped_port(port, 9092.tcp())
            .with_env_var("KAFKA_NODE_ID", "1")
            .with_env_var("KAFKA_PROCESS_ROLES", "broker,controller")
            .with_env_var("KAFKA_LISTENERS", "PLAINTEXT://:9092,CONTROLLER://:9093")
            .with_env_var(
                "KAFKA_ADVERTISED_LISTENERS",
                format!("PLAINTEXT://127.0.0.1:{port}"),
            )
            .with_env_var("KAFKA_CONTROLLER_LISTENER_NAMES", "CONTROLLER")
            .with_env_var(
                "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP",
                "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            )
            .with_env_var("KAFKA_CONTROLLER_QUORUM_VOTERS", "1@localhost:9093")
            .with_env_var("KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR", "1")
            .with_env_var("KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR", "1")
            .with_env_var("KAFKA_TRANSACTION_STATE_LOG_MIN_ISR", "1")
            .with_env_var("KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS", "0");
        match image.start() {
            Ok(running) => Some(Target {
                kind: TargetKind::Container,
                bootstrap: format!("127.0.0.1:{port}"),
                guard: Guard::Container(running),
            }),
            Err(err) => {
                missing(
                    "a Docker engine for the testcontainers target",
                    &err.to_string(),
                );
                None
            }
        }
    }
}
