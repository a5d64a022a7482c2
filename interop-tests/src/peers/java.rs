//! The Java `kafka-clients` library through `interop-tests/java/KafkaPeer.java`, built and run
//! by `scripts/java-peer.sh`. Records cross the process boundary as tab-separated lines with
//! base64 fields (see the header of KafkaPeer.java).

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::OnceLock;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use super::{Delivered, Settings};
use crate::record::{Consumed, TestRecord};
use crate::{missing, repo_root};

fn script() -> std::path::PathBuf {
    repo_root().join("scripts/java-peer.sh")
}

/// True once the peer is built; otherwise reports it missing (a failure in CI).
pub fn available() -> bool {
    static BUILT: OnceLock<Result<(), String>> = OnceLock::new();
    let built = BUILT.get_or_init(|| {
        let out = Command::new("bash")
            .arg(script())
            .arg("build")
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    });
    match built {
        Ok(()) => true,
        Err(why) => {
            missing(
                "the Java client peer",
                &format!("scripts/setup.sh fetches its jars; build said: {why}"),
            );
            false
        }
    }
}

/// Starts the peer with `args`, killed by `timeout` after `limit_secs`; stdin and stdout
/// piped.
fn peer(args: &[String], limit_secs: u32, stderr: Stdio) -> std::process::Child {
    Command::new("timeout")
        .arg(limit_secs.to_string())
        .arg("bash")
        .arg(script())
        .arg("run")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap_or_else(|e| panic!("spawn java peer {args:?}: {e}"))
}

/// A long-running peer: the child (killed by `timeout` after `limit_secs`), its stdin, and
/// its stdout lines as a thread forwards them; stderr is inherited.
pub(crate) fn spawn_lines(
    args: &[String],
    limit_secs: u32,
) -> (
    std::process::Child,
    std::process::ChildStdin,
    Receiver<String>,
) {
    let mut child = peer(args, limit_secs, Stdio::inherit());
    let stdout = child.stdout.take().expect("piped stdout");
    let stdin = child.stdin.take().expect("piped stdin");
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (child, stdin, lines)
}

fn run(args: &[String], stdin: &str) -> (i32, String) {
    let mut child = peer(args, 120, Stdio::piped());
    // Written from another thread: the peer answers line by line, and with more output than
    // a pipe holds, writing all input first would deadlock against its blocked stdout.
    let mut input = child.stdin.take().expect("stdin");
    let stdin = stdin.to_owned();
    let writer = std::thread::spawn(move || input.write_all(stdin.as_bytes()));
    let out = child.wait_with_output().expect("java peer output");
    writer
        .join()
        .expect("stdin writer")
        .expect("write java stdin");
    let code = out.status.code().unwrap_or(-1);
    if code != 0 && code != 3 {
        panic!(
            "java peer {args:?} exited {code}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    (
        code,
        String::from_utf8(out.stdout).expect("java peer prints ASCII"),
    )
}

fn b64(v: &Option<Vec<u8>>) -> String {
    v.as_ref()
        .map_or_else(|| "~".to_owned(), |b| STANDARD.encode(b))
}

fn unb64(s: &str) -> Option<Vec<u8>> {
    (s != "~").then(|| STANDARD.decode(s).expect("java peer base64"))
}

/// Produces `records` with the Java producer; returns where each landed. A negative
/// `partition` leaves the choice to the producer's partitioner.
pub fn produce(
    bootstrap: &str,
    topic: &str,
    records: &[TestRecord],
    settings: Settings,
) -> Vec<Delivered> {
    let mut args = vec!["produce".to_owned(), bootstrap.to_owned(), topic.to_owned()];
    args.extend(settings.iter().map(|(k, v)| format!("{k}={v}")));
    let (_, out) = run(&args, &produce_input(records));
    let delivered: Vec<Delivered> = out.lines().map(parse_delivered).collect();
    assert_eq!(delivered.len(), records.len(), "java peer delivery count");
    delivered
}

/// Produces `records` (all to one partition) and reads them back in the same JVM, both
/// clients with `settings`: where each landed, and what the consumer read from the first of
/// them on, within 30 s. Half the JVM starts of [`produce`] then [`consume`].
pub fn round_trip(
    bootstrap: &str,
    topic: &str,
    records: &[TestRecord],
    settings: Settings,
) -> (Vec<Delivered>, Vec<Consumed>) {
    let mut args = vec![
        "round-trip".to_owned(),
        bootstrap.to_owned(),
        topic.to_owned(),
        "30000".to_owned(),
    ];
    args.extend(settings.iter().map(|(k, v)| format!("{k}={v}")));
    let (code, out) = run(&args, &produce_input(records));
    let lines: Vec<&str> = out.lines().collect();
    let (delivered, read) = lines.split_at(records.len().min(lines.len()));
    let delivered: Vec<Delivered> = delivered.iter().copied().map(parse_delivered).collect();
    assert_eq!(delivered.len(), records.len(), "java peer delivery count");
    let got: Vec<Consumed> = read.iter().copied().map(parse_line).collect();
    assert_eq!(
        code,
        0,
        "java consumer timed out after {} of {} records",
        got.len(),
        records.len()
    );
    (delivered, got)
}

/// The peer's stdin for `records`: one tab-separated line each (see KafkaPeer.java).
fn produce_input(records: &[TestRecord]) -> String {
    records
        .iter()
        .map(|r| {
            let headers = if r.headers.is_empty() {
                "-".to_owned()
            } else {
                r.headers
                    .iter()
                    .map(|(k, v)| format!("{}={}", STANDARD.encode(k), b64(v)))
                    .collect::<Vec<_>>()
                    .join(",")
            };
            let ts = r.timestamp.map_or("-".to_owned(), |t| t.to_string());
            // A negative partition lets the Java partitioner choose (as -1 does for rdkafka).
            let partition = if r.partition < 0 {
                "-".to_owned()
            } else {
                r.partition.to_string()
            };
            format!(
                "{partition}\t{ts}\t{}\t{}\t{headers}\n",
                b64(&r.key),
                b64(&r.value)
            )
        })
        .collect()
}

/// A delivery line: `partition \t offset \t timestamp`.
fn parse_delivered(line: &str) -> Delivered {
    let f: Vec<&str> = line.split('\t').collect();
    (
        f[0].parse().expect("partition"),
        f[1].parse().expect("offset"),
    )
}

/// Reads `count` records of `partition` from `offset` with the Java consumer (manual assign).
pub fn consume(
    bootstrap: &str,
    topic: &str,
    partition: i32,
    offset: i64,
    count: usize,
    settings: Settings,
) -> Vec<Consumed> {
    let mut args = vec![
        "consume".to_owned(),
        bootstrap.to_owned(),
        topic.to_owned(),
        partition.to_string(),
        offset.to_string(),
        count.to_string(),
        "30000".to_owned(),
    ];
    args.extend(settings.iter().map(|(k, v)| format!("{k}={v}")));
    let (code, out) = run(&args, "");
    let got: Vec<Consumed> = out.lines().map(parse_line).collect();
    assert_eq!(
        code,
        0,
        "java consumer timed out after {} of {count} records",
        got.len()
    );
    got
}

fn parse_line(line: &str) -> Consumed {
    let f: Vec<&str> = line.split('\t').collect();
    assert_eq!(f.len(), 7, "java peer line: {line:?}");
    let headers = if f[6] == "-" {
        Vec::new()
    } else {
        f[6].split(',')
            .map(|pair| {
                // The separator is the last '=' of the first run of '=' (base64 padding of the
                // key comes before it).
                let start = pair.find('=').expect("header separator");
                let run_len = pair[start..].chars().take_while(|c| *c == '=').count();
                let sep = start + run_len - 1;
                let key = STANDARD.decode(&pair[..sep]).expect("header key base64");
                (
                    String::from_utf8(key).expect("header key utf-8"),
                    unb64(&pair[sep + 1..]),
                )
            })
            .collect()
    };
    Consumed {
        offset: f[1].parse().expect("offset"),
        record: TestRecord {
            partition: f[0].parse().expect("partition"),
            timestamp: f[2].parse().ok().filter(|t: &i64| *t >= 0),
            key: unb64(f[4]),
            value: unb64(f[5]),
            headers,
        },
    }
}

/// Runs KafkaPeer's `txn-fence` mode: a transactional producer fenced by a second instance
/// with the same `transactional_id`, on partition 0 of `topic`; returns each step's
/// `(name, outcome)` (see KafkaPeer.java).
pub fn txn_fence(bootstrap: &str, topic: &str, transactional_id: &str) -> Vec<(String, String)> {
    let args = ["txn-fence", bootstrap, topic, transactional_id].map(str::to_owned);
    let (code, out) = run(&args, "");
    assert_eq!(
        code, 0,
        "txn-fence: the read_committed consumer timed out: {out}"
    );
    steps(&out)
}

/// `step \t outcome` lines.
fn steps(out: &str) -> Vec<(String, String)> {
    out.lines()
        .map(|l| {
            let (step, outcome) = l.split_once('\t').unwrap_or((l, ""));
            (step.to_owned(), outcome.to_owned())
        })
        .collect()
}

/// Runs the Java AdminClient's steps (KafkaPeer's `admin` mode) on `topic` (which it creates)
/// and `group`; returns each step's `(name, outcome)`.
pub fn admin_steps(bootstrap: &str, topic: &str, group: &str) -> Vec<(String, String)> {
    let args = ["admin", bootstrap, topic, group].map(str::to_owned);
    let (_, out) = run(&args, "");
    steps(&out)
}
