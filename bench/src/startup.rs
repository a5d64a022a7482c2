//! Broker start-up: launch → first answered ApiVersions, and idle RSS.
//!
//! The mini-broker binary is launched here and probed with a real ApiVersions request on a
//! fresh connection every millisecond until one is answered. The real Kafka broker is launched
//! by `scripts/real-kafka.sh`, whose readiness probe is `kcat -L` (ApiVersions + Metadata); its
//! figure is the script's launch-to-ready time, so it includes up to one probe interval.
//! Idle RSS is VmRSS from /proc after the broker has been idle for a second.
//!
//! Then client connection set-up on one mini-broker, per listener (`--security`, by default
//! PLAINTEXT, SSL and SASL_SSL with SCRAM-SHA-512): ferrokafka against librdkafka, from the
//! client's settings to its first Metadata answer (see `connect.rs`).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use crate::broker::sibling;
use crate::connect;
use crate::security::Security;

use bytes::BytesMut;
use ferrokafka_protocol::frame::encode_frame;
use ferrokafka_protocol::header::RequestHeader;
use kafka_protocol::messages::{ApiKey, ApiVersionsRequest};
use kafka_protocol::protocol::{Encodable, StrBytes};

/// Options of `startup`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Runs per broker; the table shows the median and the range.
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Also measure a real Kafka broker (needs Java and scripts/setup.sh).
    #[arg(long)]
    real_kafka: bool,
    /// The mini-broker binary (default: next to this executable).
    #[arg(long)]
    mini_broker: Option<PathBuf>,
    /// Listeners to measure client connection set-up on.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "plaintext,ssl,sasl-ssl-scram"
    )]
    security: Vec<Security>,
    /// Connection set-up runs per client and listener (0: none).
    #[arg(long, default_value_t = 10)]
    connect_runs: usize,
}

pub(crate) struct Sample {
    pub(crate) ready: Duration,
    pub(crate) rss_kib: u64,
}

pub fn run(args: Args) -> ExitCode {
    let bin = args
        .mini_broker
        .clone()
        .unwrap_or_else(|| sibling("mini-broker"));
    let mut rows = Vec::new();
    let mini: Result<Vec<Sample>, String> = (0..args.runs).map(|_| mini_broker(&bin)).collect();
    match mini {
        Ok(samples) => rows.push(("mini-broker", samples)),
        Err(err) => {
            eprintln!("mini-broker: {err}");
            return ExitCode::FAILURE;
        }
    }
    if args.real_kafka {
        let real: Result<Vec<Sample>, String> = (0..args.runs).map(|_| real_kafka(None)).collect();
        match real {
            Ok(samples) => rows.push(("Apache Kafka 4.1 (KRaft, -Xmx512m)", samples)),
            Err(err) => {
                eprintln!("real Kafka: {err}");
                return ExitCode::FAILURE;
            }
        }
    }
    println!(
        "| broker | start → first ApiVersions (median, min–max) | idle RSS (median, min–max) |"
    );
    println!("|---|---|---|");
    for (name, samples) in &rows {
        let ready: Vec<f64> = samples
            .iter()
            .map(|s| s.ready.as_secs_f64() * 1000.0)
            .collect();
        let rss: Vec<f64> = samples.iter().map(|s| s.rss_kib as f64 / 1024.0).collect();
        let (rm, rl, rh) = stats(&ready);
        let (mm, ml, mh) = stats(&rss);
        println!("| {name} | {rm:.1} ms ({rl:.1}–{rh:.1}) | {mm:.1} MiB ({ml:.1}–{mh:.1}) |");
    }
    if rows.len() == 2 {
        let med = |i: usize, f: fn(&Sample) -> f64| {
            let v: Vec<f64> = rows[i].1.iter().map(f).collect();
            stats(&v).0
        };
        let start = med(1, |s| s.ready.as_secs_f64()) / med(0, |s| s.ready.as_secs_f64());
        let rss = med(1, |s| s.rss_kib as f64) / med(0, |s| s.rss_kib as f64);
        println!("\nmini-broker starts {start:.0}× faster and idles in 1/{rss:.0} of the memory.");
    }
    if args.connect_runs > 0 {
        let rows = connect::matrix(&bin, &args.security, args.connect_runs, |row, s| {
            eprintln!(
                "set-up over {} {}: cold {:.2} ms, warm {:.2} ms",
                row.security.label(),
                row.client,
                s.cold.as_secs_f64() * 1e3,
                s.warm.as_secs_f64() * 1e3
            );
        });
        match rows {
            Ok(rows) => println!(
                "\nClient connection set-up on the mini-broker binary, {} runs each \
                 (interleaved), each in a fresh process:\n\n{}",
                args.connect_runs,
                connect::table(&rows)
            ),
            Err(err) => {
                eprintln!("connection set-up: {err}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}

fn stats(v: &[f64]) -> (f64, f64, f64) {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let mid = s.get(s.len() / 2).copied().unwrap_or(f64::NAN);
    (
        mid,
        s.first().copied().unwrap_or(f64::NAN),
        s.last().copied().unwrap_or(f64::NAN),
    )
}

pub(crate) fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(PathBuf::from)
        .unwrap_or_default()
}

pub(crate) fn mini_broker(bin: &PathBuf) -> Result<Sample, String> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| e.to_string())?
        .port();
    let addr = format!("127.0.0.1:{port}");
    let start = Instant::now();
    let mut child = Command::new(bin)
        .args(["--listen", &addr, "--log-level", "error"])
        .stdout(Stdio::null())
        .spawn()
        .map_err(|e| format!("spawn {}: {e}", bin.display()))?;
    let ready = wait_for_api_versions(&addr, start, Duration::from_secs(10));
    std::thread::sleep(Duration::from_secs(1));
    let rss = rss_kib(child.id());
    let _ = child.kill();
    let _ = child.wait();
    Ok(Sample {
        ready: ready?,
        rss_kib: rss?,
    })
}

/// One launch of a real Kafka broker: start-up time and idle RSS. `state` is the script's
/// `KAFKA_STATE_FILE` (its default when `None`), so that a run can keep off a shared broker.
pub(crate) fn real_kafka(state: Option<&Path>) -> Result<Sample, String> {
    let kafka = RealKafka::start(state)?;
    wait_for_api_versions(&kafka.bootstrap, Instant::now(), Duration::from_secs(10))?;
    std::thread::sleep(Duration::from_secs(1));
    Ok(Sample {
        ready: kafka.startup,
        rss_kib: rss_kib(kafka.pid)?,
    })
}

/// A real Kafka broker started by `scripts/real-kafka.sh`; stopped when dropped.
pub(crate) struct RealKafka {
    pub(crate) bootstrap: String,
    pub(crate) pid: u32,
    /// The script's launch-to-ready time.
    pub(crate) startup: Duration,
    state: Option<PathBuf>,
}

impl RealKafka {
    fn script(state: Option<&Path>, command: &str) -> Command {
        let mut c = Command::new(repo().join("scripts/real-kafka.sh"));
        c.arg(command);
        if let Some(state) = state {
            c.env("KAFKA_STATE_FILE", state);
        }
        c
    }

    pub(crate) fn start(state: Option<&Path>) -> Result<Self, String> {
        let _ = Self::script(state, "stop").stderr(Stdio::null()).status();
        let out = Self::script(state, "start")
            .stderr(Stdio::inherit())
            .output()
            .map_err(|e| format!("run scripts/real-kafka.sh: {e}"))?;
        // Built first so that it stops the broker if the output cannot be read.
        let mut kafka = RealKafka {
            bootstrap: String::new(),
            pid: 0,
            startup: Duration::ZERO,
            state: state.map(Path::to_path_buf),
        };
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let field = |k: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(k))
                .map(str::to_owned)
                .ok_or(format!("no {k} from scripts/real-kafka.sh"))
        };
        let ms: u64 = field("KAFKA_STARTUP_MS=")?
            .parse()
            .map_err(|_| "bad startup ms")?;
        kafka.bootstrap = field("KAFKA_BOOTSTRAP=")?;
        kafka.pid = field("KAFKA_PID=")?.parse().map_err(|_| "bad pid")?;
        kafka.startup = Duration::from_millis(ms);
        Ok(kafka)
    }
}

impl Drop for RealKafka {
    fn drop(&mut self) {
        let _ = Self::script(self.state.as_deref(), "stop")
            .stderr(Stdio::null())
            .status();
    }
}

/// Connects and sends ApiVersions v3 until an answer arrives; returns the time since `start`.
fn wait_for_api_versions(addr: &str, start: Instant, limit: Duration) -> Result<Duration, String> {
    let mut request = BytesMut::new();
    RequestHeader {
        api_key: ApiKey::ApiVersions as i16,
        api_version: 3,
        correlation_id: 1,
        client_id: Some("ferrokafka-perf".into()),
    }
    .encode(&mut request);
    ApiVersionsRequest::default()
        .with_client_software_name(StrBytes::from_static_str("ferrokafka-perf"))
        .with_client_software_version(StrBytes::from_static_str("0"))
        .encode(&mut request, 3)
        .map_err(|e| e.to_string())?;
    let mut frame = BytesMut::new();
    encode_frame(&request, &mut frame);
    while start.elapsed() < limit {
        if let Ok(mut s) = TcpStream::connect(addr) {
            let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
            let mut len = [0u8; 4];
            if s.write_all(&frame).is_ok() && s.read_exact(&mut len).is_ok() {
                return Ok(start.elapsed());
            }
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    Err(format!(
        "{addr} did not answer ApiVersions within {limit:?}"
    ))
}

fn rss_kib(pid: u32) -> Result<u64, String> {
    status_kib(pid, "VmRSS")
}

/// A `kB` field of `/proc/<pid>/status` (`VmRSS`, `RssAnon`, `RssFile`, `VmHWM`, …).
pub(crate) fn status_kib(pid: u32, field: &str) -> Result<u64, String> {
    let status =
        std::fs::read_to_string(format!("/proc/{pid}/status")).map_err(|e| e.to_string())?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| format!("no {field} in /proc/{pid}/status"))
}
