//! kcat (librdkafka's command-line client, from Debian's `kcat` package): metadata listing,
//! line-based produce, and consume with a tab-separated format that keeps null apart from
//! empty (`%K`/`%S` print -1 for null).

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::missing;
use crate::record::{Consumed, TestRecord};

/// True if kcat is on PATH; otherwise reports it missing (a failure in CI).
pub fn available() -> bool {
    let ok = Command::new("kcat")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        missing(
            "kcat",
            "run scripts/setup.sh (installs Debian's kcat package)",
        );
    }
    ok
}

/// Runs kcat to the end: its stdout, or its exit status and stderr when it failed.
fn output(args: &[&str], stdin: Option<&[u8]>, timeout: Duration) -> Result<Vec<u8>, String> {
    let mut child = Command::new("timeout")
        .arg(timeout.as_secs().max(1).to_string())
        .arg("kcat")
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn kcat");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input)
            .expect("write kcat stdin");
    }
    let out = child.wait_with_output().expect("kcat output");
    if out.status.success() {
        Ok(out.stdout)
    } else {
        Err(format!(
            "{}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

fn run(args: &[&str], stdin: Option<&[u8]>, timeout: Duration) -> Vec<u8> {
    output(args, stdin, timeout).unwrap_or_else(|e| panic!("kcat {args:?} failed with {e}"))
}

/// The librdkafka version kcat is built with (`kcat -V`), as `(major, minor, patch)`.
pub fn librdkafka_version() -> (u32, u32, u32) {
    let banner = String::from_utf8_lossy(&run(&["-V"], None, Duration::from_secs(10))).into_owned();
    let version = banner
        .split("librdkafka ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no librdkafka version in kcat -V: {banner}"));
    let mut parts = version.split('.').map(|p| {
        p.parse::<u32>()
            .unwrap_or_else(|_| panic!("librdkafka version {version}"))
    });
    let mut next = || parts.next().unwrap_or(0);
    (next(), next(), next())
}

/// `kcat -L`: the metadata listing as text.
pub fn list(bootstrap: &str) -> String {
    String::from_utf8_lossy(&run(
        &["-L", "-b", bootstrap, "-m", "10"],
        None,
        Duration::from_secs(20),
    ))
    .into_owned()
}

/// Produces one record per `(key, value)` to `partition`, each with `headers`, with
/// librdkafka settings `-X k=v`; kcat's exit status and stderr when it fails.
pub fn produce(
    bootstrap: &str,
    topic: &str,
    partition: i32,
    pairs: &[(String, String)],
    headers: &[(&str, &str)],
    settings: &[(&str, &str)],
) -> Result<(), String> {
    let mut args: Vec<String> = vec![
        "-P".into(),
        "-b".into(),
        bootstrap.into(),
        "-t".into(),
        topic.into(),
    ];
    args.extend(["-p".into(), partition.to_string(), "-K".into(), "\t".into()]);
    for (k, v) in headers {
        args.extend(["-H".into(), format!("{k}={v}")]);
    }
    for (k, v) in settings {
        args.extend(["-X".into(), format!("{k}={v}")]);
    }
    let input: String = pairs.iter().map(|(k, v)| format!("{k}\t{v}\n")).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    output(&args, Some(input.as_bytes()), Duration::from_secs(30)).map(drop)
}

/// Reads `count` records of `partition` from `offset`, with librdkafka settings `-X k=v`.
pub fn consume(
    bootstrap: &str,
    topic: &str,
    partition: i32,
    offset: i64,
    count: usize,
    settings: &[(&str, &str)],
) -> Vec<Consumed> {
    let (p, o, c) = (partition.to_string(), offset.to_string(), count.to_string());
    let fmt = "%p\t%o\t%T\t%K\t%k\t%S\t%s\t%h\n";
    let mut args = vec![
        "-C", "-b", bootstrap, "-t", topic, "-p", &p, "-o", &o, "-c", &c, "-e", "-q", "-f", fmt,
    ];
    let settings: Vec<String> = settings.iter().map(|(k, v)| format!("{k}={v}")).collect();
    for setting in &settings {
        args.extend(["-X", setting]);
    }
    let out = run(&args, None, Duration::from_secs(30));
    let records: Vec<Consumed> = out
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(parse_line)
        .collect();
    assert_eq!(
        records.len(),
        count,
        "kcat read {} of {count} records",
        records.len()
    );
    records
}

fn parse_line(line: &[u8]) -> Consumed {
    let f: Vec<&[u8]> = line.split(|b| *b == b'\t').collect();
    assert_eq!(
        f.len(),
        8,
        "kcat line has {} fields: {:?}",
        f.len(),
        String::from_utf8_lossy(line)
    );
    let num = |b: &[u8]| -> i64 {
        std::str::from_utf8(b)
            .ok()
            .and_then(|s| s.parse().ok())
            .expect("kcat number")
    };
    let nullable = |len: &[u8], data: &[u8]| (num(len) >= 0).then(|| data.to_vec());
    Consumed {
        offset: num(f[1]),
        record: TestRecord {
            partition: num(f[0]) as i32,
            timestamp: Some(num(f[2])).filter(|t| *t >= 0),
            key: nullable(f[3], f[4]),
            value: nullable(f[5], f[6]),
            headers: parse_headers(f[7]),
        },
    }
}

/// kcat prints headers as `k=v,k2=v2`, a null value as `NULL`.
fn parse_headers(h: &[u8]) -> Vec<(String, Option<Vec<u8>>)> {
    if h.is_empty() {
        return Vec::new();
    }
    h.split(|b| *b == b',')
        .map(|pair| {
            let eq = pair
                .iter()
                .position(|b| *b == b'=')
                .expect("kcat header without '='");
            let key = String::from_utf8_lossy(&pair[..eq]).into_owned();
            let value = &pair[eq + 1..];
            (key, (value != b"NULL").then(|| value.to_vec()))
        })
        .collect()
}
