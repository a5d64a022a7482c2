//! The `ferrokafka` binary against every target (the in-process mini-broker, the binary, and
//! real Kafka): topics, produce, consume, offsets, groups, exit codes.

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use ferrokafka_interop_tests::{scenario, unique_topic, Target};
use serde_json::Value;

/// Runs the tool with `args` against `t`, feeding `stdin`.
fn tool(t: &Target, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ferrokafka"))
        .args(["-b", &t.bootstrap])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ferrokafka");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    let out = child.wait_with_output().expect("ferrokafka output");
    eprintln!(
        "ferrokafka {args:?} -> {:?}\n{}{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn code(out: &Output) -> Option<i32> {
    out.status.code()
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("utf-8 output")
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).expect("one JSON document")
}

scenario!(topics_produce_consume_groups, |t: &Target| {
    let topic = unique_topic("cli");
    let group = unique_topic("cli-group");

    let created = tool(
        t,
        &[
            "topics",
            "create",
            &topic,
            "-p",
            "2",
            "-c",
            "retention.ms=3600000",
        ],
        "",
    );
    assert_eq!(
        (code(&created), stdout(&created)),
        (Some(0), format!("created {topic}\n"))
    );
    let again = tool(t, &["topics", "create", &topic, "-p", "2"], "");
    assert_eq!(code(&again), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("TOPIC_ALREADY_EXISTS"));

    let produced = tool(
        t,
        &["produce", &topic, "-K", ":", "-p", "0", "-H", "h=1"],
        "k1:v1\nk2:v2\nv3\n",
    );
    assert_eq!(code(&produced), Some(0));

    let read = tool(
        t,
        &["consume", &topic, "-p", "0", "-e", "-F", "%o %k=%s %h\\n"],
        "",
    );
    assert_eq!(
        (code(&read), stdout(&read)),
        (Some(0), "0 k1=v1 h=1\n1 k2=v2 h=1\n2 =v3 h=1\n".to_owned())
    );
    let lines = tool(
        t,
        &[
            "--json", "consume", &topic, "-p", "0", "--from", "1", "-c", "2",
        ],
        "",
    );
    let offsets: Vec<i64> = stdout(&lines)
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).expect("a JSON line")["offset"]
                .as_i64()
                .expect("offset")
        })
        .collect();
    assert_eq!(offsets, [1, 2]);

    let listed = json(&tool(t, &["--json", "offsets", &topic], ""));
    let p0 = &listed.as_array().expect("partitions")[0];
    assert_eq!(
        (p0["earliest"].as_i64(), p0["latest"].as_i64()),
        (Some(0), Some(3))
    );

    // A group member reads everything and commits on close.
    let member = tool(
        t,
        &[
            "consume",
            &topic,
            "--group",
            &group,
            "-c",
            "3",
            "--idle-timeout-ms",
            "20000",
        ],
        "",
    );
    assert_eq!(code(&member), Some(0));
    let lag = |doc: &Value| -> Vec<(i64, i64)> {
        doc[0]["offsets"]
            .as_array()
            .expect("offsets")
            .iter()
            .filter(|p| p["partition"] == 0)
            .map(|p| {
                (
                    p["committed"].as_i64().unwrap_or(-1),
                    p["lag"].as_i64().unwrap_or(-1),
                )
            })
            .collect()
    };
    let described = json(&tool(t, &["--json", "groups", "describe", &group], ""));
    assert_eq!(lag(&described), [(3, 0)], "{described}");

    let plan = tool(
        t,
        &[
            "groups",
            "reset-offsets",
            &group,
            "--topic",
            &topic,
            "--to",
            "earliest",
        ],
        "",
    );
    assert_eq!(code(&plan), Some(0));
    let unchanged = json(&tool(t, &["--json", "groups", "describe", &group], ""));
    assert_eq!(lag(&unchanged), [(3, 0)], "a dry run changes nothing");
    let executed = tool(
        t,
        &[
            "groups",
            "reset-offsets",
            &group,
            "--topic",
            &topic,
            "--to",
            "earliest",
            "--execute",
        ],
        "",
    );
    assert_eq!(code(&executed), Some(0));
    let reset = json(&tool(t, &["--json", "groups", "describe", &group], ""));
    assert_eq!(lag(&reset), [(0, 3)], "{reset}");

    let altered = tool(
        t,
        &[
            "topics",
            "alter-config",
            &topic,
            "--set",
            "retention.ms=7200000",
        ],
        "",
    );
    assert_eq!(code(&altered), Some(0));
    // A KRaft broker shows an accepted change a moment later: bounded wait.
    let deadline = Instant::now() + Duration::from_secs(15);
    let configs = loop {
        let d = json(&tool(t, &["--json", "topics", "describe", &topic], ""));
        let configs = d[0]["configs"].clone();
        if configs["retention.ms"] == "7200000" || Instant::now() > deadline {
            break configs;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(configs["retention.ms"], "7200000", "{configs}");
    let refused = tool(
        t,
        &[
            "topics",
            "alter-config",
            &topic,
            "--set",
            "retention.ms=soon",
        ],
        "",
    );
    assert_eq!(code(&refused), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("Not a number of type LONG"));

    let usage = tool(t, &["consume", &topic, "--from", "nowhere"], "");
    assert_eq!(code(&usage), Some(2));

    assert_eq!(code(&tool(t, &["groups", "delete", &group], "")), Some(0));
    assert_eq!(code(&tool(t, &["topics", "delete", &topic], "")), Some(0));
    let gone = tool(t, &["topics", "delete", &topic], "");
    assert_eq!(code(&gone), Some(1));
});

/// Nothing listening: exit 3, with the reason on stderr.
#[test]
fn an_unreachable_cluster_exits_3() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("a free port")
        .local_addr()
        .expect("its address")
        .port();
    let out = Command::new(env!("CARGO_BIN_EXE_ferrokafka"))
        .args(["-b", &format!("127.0.0.1:{port}"), "topics", "list"])
        .output()
        .expect("run ferrokafka");
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.stderr.is_empty());
}
