//! A Java `KafkaConsumer` as a consumer-group member: the `group-consume` mode of
//! `interop-tests/java/KafkaPeer.java`, run as a child process next to other members.
//!
//! The peer reports its assignment and the records it reads as lines on stdout, which a
//! thread forwards here; closing its stdin makes it commit, leave the group and exit.

use std::process::{Child, ChildStdin};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use super::rdkafka_group::Received;
use super::Settings;

/// The Java member, running.
#[derive(Debug)]
pub struct JavaGroupMember {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    assigned: Vec<i32>,
    /// This member's index in [`Received::member`].
    member: usize,
}

impl JavaGroupMember {
    /// Starts the peer: it joins `group` and subscribes to `topic`. Check
    /// [`super::java::available`] first. `settings` go to the Java client verbatim.
    pub fn start(
        bootstrap: &str,
        topic: &str,
        group: &str,
        member: usize,
        settings: Settings,
    ) -> Self {
        let args: Vec<String> = ["group-consume", bootstrap, topic, group, "110000"]
            .iter()
            .map(|a| (*a).to_owned())
            .chain(settings.iter().map(|(k, v)| format!("{k}={v}")))
            .collect();
        let (child, stdin, lines) = super::java::spawn_lines(&args, 120);
        JavaGroupMember {
            stdin: Some(stdin),
            child,
            lines,
            assigned: Vec::new(),
            member,
        }
    }

    /// The partitions the peer last reported as assigned.
    pub fn assigned(&self) -> &[i32] {
        &self.assigned
    }

    /// Takes in what the peer reported so far; returns the records among it.
    pub fn drain(&mut self) -> Vec<Received> {
        let mut records = Vec::new();
        while let Ok(line) = self.lines.try_recv() {
            if let Some(r) = self.take_line(&line) {
                records.push(r);
            }
        }
        records
    }

    fn take_line(&mut self, line: &str) -> Option<Received> {
        let fields: Vec<&str> = line.split('\t').collect();
        match fields.as_slice() {
            ["assigned", "-"] => {
                self.assigned.clear();
                None
            }
            ["assigned", list] => {
                self.assigned = list
                    .split(',')
                    .map(|p| p.parse().expect("partition"))
                    .collect();
                None
            }
            ["record", partition, offset, _ts, _type, _key, value, _headers] => Some(Received {
                member: self.member,
                partition: partition.parse().expect("partition"),
                offset: offset.parse().expect("offset"),
                value: match *value {
                    "~" => Vec::new(),
                    v => STANDARD.decode(v).expect("value base64"),
                },
            }),
            ["closed"] => None,
            _ => panic!("unexpected line from the java group peer: {line:?}"),
        }
    }

    /// Asks the peer to commit, leave the group and exit; waits up to `timeout` for it and
    /// returns the records it reported on the way out.
    pub fn stop(mut self, timeout: Duration) -> Vec<Received> {
        drop(self.stdin.take());
        let deadline = Instant::now() + timeout;
        let mut records = Vec::new();
        let mut closed = false;
        while !closed {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    closed = line == "closed";
                    records.extend(self.take_line(&line));
                }
                Err(RecvTimeoutError::Timeout) => panic!("java group peer did not close in time"),
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        let status = self.child.wait().expect("wait for java group peer");
        assert!(
            status.success() && closed,
            "java group peer exited with {status}"
        );
        records
    }
}

impl Drop for JavaGroupMember {
    fn drop(&mut self) {
        // Only reached with the peer still running when a test failed half-way. EOF on its
        // stdin makes the Java process leave and exit even if the wrapper is killed first.
        drop(self.stdin.take());
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
