//! kafka-python through `interop-tests/python/peer.py`, and librdkafka's admin API through
//! confluent-kafka (`interop-tests/python/rdkafka_admin.py`), run with the interpreter of the
//! venv `scripts/setup.sh` installs both into (`KAFKA_PYTHON`, else
//! `.cache/python-venv/bin/python`).
//! Settings are kafka-python's keyword arguments ([`crate::secured::Dialect::KafkaPython`]),
//! handed over as one JSON object.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use crate::{missing, repo_root};

fn interpreter() -> PathBuf {
    std::env::var_os("KAFKA_PYTHON")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".cache/python-venv/bin/python"))
}

/// kafka-python's version when its interpreter imports it; otherwise reports the peer missing
/// (a failure in CI) and returns `None`.
pub fn available() -> Option<&'static str> {
    static VERSION: OnceLock<Result<String, String>> = OnceLock::new();
    let version = VERSION.get_or_init(|| {
        let python = interpreter();
        let out = Command::new(&python)
            .args(["-c", "import kafka; print(kafka.__version__)"])
            .output()
            .map_err(|e| format!("{}: {e}", python.display()))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    });
    match version {
        Ok(v) => Some(v),
        Err(why) => {
            missing(
                "kafka-python",
                &format!(
                    "run scripts/setup.sh (installs it into .cache/python-venv) or set \
                     KAFKA_PYTHON to a python that has it; {why}"
                ),
            );
            None
        }
    }
}

/// Produces `values` to partition 0 of `topic` with kafka-python's producer, then reads the
/// partition back from the beginning with its consumer: `(offset, value)` per record read,
/// all within `timeout`. Check [`available`] first.
pub fn round_trip(
    bootstrap: &str,
    topic: &str,
    values: &[String],
    settings: &[(String, String)],
    timeout: Duration,
) -> Vec<(i64, String)> {
    let config: serde_json::Map<String, serde_json::Value> = settings
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::Value::from(v.as_str())))
        .collect();
    let peer = repo_root().join("interop-tests/python/peer.py");
    // The outer bound catches a peer stuck where its own deadline does not reach.
    let mut child = Command::new("timeout")
        .arg((timeout.as_secs() + 15).to_string())
        .arg(interpreter())
        .arg(&peer)
        .args(["round-trip", bootstrap, topic])
        .arg(timeout.as_millis().to_string())
        .arg(serde_json::Value::Object(config).to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {}: {e}", peer.display()));
    let input: String = values.iter().map(|v| format!("{v}\n")).collect();
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write kafka-python peer stdin");
    let out = child.wait_with_output().expect("kafka-python peer output");
    let got: Vec<(i64, String)> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|line| {
            let (offset, value) = line
                .split_once('\t')
                .unwrap_or_else(|| panic!("kafka-python peer line: {line:?}"));
            (offset.parse().expect("offset"), value.to_owned())
        })
        .collect();
    assert!(
        out.status.success(),
        "kafka-python peer exited with {} after reading {} of {} records: {}",
        out.status,
        got.len(),
        values.len(),
        String::from_utf8_lossy(&out.stderr)
    );
    got
}

/// True when the interpreter imports confluent-kafka; otherwise reports it missing (a failure
/// in CI).
pub fn confluent_kafka_available() -> bool {
    static FOUND: OnceLock<Result<(), String>> = OnceLock::new();
    let found = FOUND.get_or_init(|| {
        let python = interpreter();
        let out = Command::new(&python)
            .args(["-c", "import confluent_kafka"])
            .output()
            .map_err(|e| format!("{}: {e}", python.display()))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    });
    match found {
        Ok(()) => true,
        Err(why) => {
            missing(
                "confluent-kafka (librdkafka's admin API)",
                &format!("run scripts/setup.sh (installs it into .cache/python-venv); {why}"),
            );
            false
        }
    }
}

/// Runs librdkafka's admin steps (`interop-tests/python/rdkafka_admin.py`) on `topic` and
/// `group`: `(step, outcome)` per line. Check [`confluent_kafka_available`] first.
pub fn rdkafka_admin_steps(bootstrap: &str, topic: &str, group: &str) -> Vec<(String, String)> {
    let peer = repo_root().join("interop-tests/python/rdkafka_admin.py");
    let out = Command::new("timeout")
        .arg("120")
        .arg(interpreter())
        .arg(&peer)
        .args([bootstrap, topic, group])
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}", peer.display()));
    assert!(
        out.status.success(),
        "{} exited with {}: {}",
        peer.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|line| {
            let (step, outcome) = line
                .split_once('\t')
                .unwrap_or_else(|| panic!("rdkafka admin peer line: {line:?}"));
            (step.to_owned(), outcome.to_owned())
        })
        .collect()
}
