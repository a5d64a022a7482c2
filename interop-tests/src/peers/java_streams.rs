//! A Kafka Streams application: the `streams` mode of `interop-tests/java/KafkaPeer.java` (a
//! word count with a repartition topic and a changelog-backed store, exactly_once_v2), run
//! as a child process while a scenario feeds its input and reads its output.
//!
//! The peer reports its state changes as lines on stdout, which a thread forwards here;
//! closing its stdin makes it close the application and exit.

use std::process::{Child, ChildStdin};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use super::Settings;

/// The application, running.
#[derive(Debug)]
pub struct StreamsApp {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    /// Every state reported so far, in order.
    states: Vec<String>,
}

impl StreamsApp {
    /// Starts the word count of `application_id` from `input` to `output`. Check
    /// [`super::java::available`] first. `settings` go to Kafka Streams verbatim.
    pub fn start(
        bootstrap: &str,
        application_id: &str,
        input: &str,
        output: &str,
        settings: Settings,
    ) -> Self {
        let args: Vec<String> = ["streams", bootstrap, application_id, input, output]
            .iter()
            .map(|a| (*a).to_owned())
            .chain(settings.iter().map(|(k, v)| format!("{k}={v}")))
            .collect();
        let (child, stdin, lines) = super::java::spawn_lines(&args, 300);
        StreamsApp {
            stdin: Some(stdin),
            child,
            lines,
            states: Vec::new(),
        }
    }

    /// Every state the application reported so far (CREATED, REBALANCING, RUNNING, ...).
    pub fn states(&mut self) -> &[String] {
        while let Ok(line) = self.lines.try_recv() {
            self.take_line(&line);
        }
        &self.states
    }

    fn take_line(&mut self, line: &str) {
        match line.split_once('\t') {
            Some(("state", state)) => self.states.push(state.to_owned()),
            _ => panic!("unexpected line from the Kafka Streams peer: {line:?}"),
        }
    }

    /// Closes the application and waits up to `timeout` for the peer to exit; panics unless
    /// it exits 0 (it exits 1 when the application ended in ERROR).
    pub fn stop(mut self, timeout: Duration) -> Vec<String> {
        drop(self.stdin.take());
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.take_line(&line),
                Err(RecvTimeoutError::Timeout) => {
                    let _ = self.child.kill();
                    panic!("the Kafka Streams peer did not exit within {timeout:?}");
                }
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        let status = self.child.wait().expect("wait for the Kafka Streams peer");
        assert!(
            status.success(),
            "the Kafka Streams peer exited with {status}; states {:?}",
            self.states
        );
        std::mem::take(&mut self.states)
    }
}

impl Drop for StreamsApp {
    fn drop(&mut self) {
        // A failed scenario must not leave a JVM behind.
        if self.stdin.is_some() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
