//! What every measurement's worker shares: the flags that name the client, the broker, the
//! topic and the client settings that reach the broker (security), librdkafka's settings that
//! every measurement gives it, and the parent's side — run this executable's hidden worker
//! subcommand as a child process (so the CPU and memory it reports are that one client's alone)
//! and read the numbers of its `RESULT` line.

use std::process::{Command, ExitCode, Stdio};
use std::time::Duration;

/// What one throughput run measured.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Measured {
    /// The measured span (the consumer's: first record to last).
    pub(crate) elapsed: Duration,
    /// CPU of the worker process over the same span.
    pub(crate) cpu: Duration,
    /// Records in the span.
    pub(crate) records: usize,
    /// The worker process's peak resident memory (VmHWM), KiB.
    pub(crate) peak_rss_kib: u64,
}

/// Which client runs, against which broker and topic.
#[derive(Debug, Clone, clap::Args)]
pub struct Target {
    #[arg(long)]
    pub client: String,
    #[arg(long)]
    pub bootstrap: String,
    #[arg(long)]
    pub topic: String,
    /// A client setting by its Java/librdkafka name, given to every client alike (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = crate::security::parse_setting)]
    pub settings: Vec<(String, String)>,
}

/// Sets what every librdkafka client of a measurement shares, after the caller's own settings:
/// the broker, quiet logs, Nagle's algorithm off and the target's settings (which win).
///
/// ferrokafka, like the Java client, always sets TCP_NODELAY; librdkafka leaves Nagle's
/// algorithm on unless `socket.nagle.disable=true`. Plaintext hardly notices (a request leaves
/// in one `sendmsg`), but over TLS librdkafka writes a request as several records and Nagle
/// holds the last one until the broker's delayed ACK: 10,000 records of 1 KiB with `acks=all`
/// over SSL took 33 s against Apache Kafka 4.1 and 29 s against the mini-broker with it on,
/// 4.3 s and 0.9 s with it off. Same settings for both clients means off.
pub(crate) fn rdkafka_common(config: &mut rdkafka::ClientConfig, target: &Target) {
    config
        .set("bootstrap.servers", &target.bootstrap)
        .set("socket.nagle.disable", "true")
        .set("log_level", "3");
    for (k, v) in &target.settings {
        config.set(k, v);
    }
}

/// Runs `subcommand` for `client` on `bootstrap` and `topic` with the client `settings` and the
/// further `args`, and returns the numbers of the `RESULT` line the worker prints.
pub(crate) fn run(
    subcommand: &str,
    [client, bootstrap, topic]: [&str; 3],
    settings: &[(String, String)],
    args: &[&str],
) -> Result<Vec<u64>, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let out = Command::new(exe)
        .args([subcommand, "--client", client, "--bootstrap", bootstrap])
        .args(["--topic", topic])
        .args(
            settings
                .iter()
                .flat_map(|(k, v)| ["--set".to_owned(), format!("{k}={v}")]),
        )
        .args(args)
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!("worker exited with {}", out.status));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .ok_or_else(|| format!("no result from worker: {text}"))?;
    line.split_whitespace()
        .map(str::parse)
        .collect::<Result<Vec<u64>, _>>()
        .map_err(|e| format!("{e} in result line {line:?}"))
}

/// Runs a worker that prints `RESULT <elapsed ns> <cpu ticks> <records> <peak RSS KiB>` (see
/// [`finish`]) and reads it back.
pub(crate) fn run_measured(
    subcommand: &str,
    names: [&str; 3],
    settings: &[(String, String)],
    args: &[&str],
) -> Result<Measured, String> {
    let fields = run(subcommand, names, settings, args)?;
    let [elapsed_ns, cpu_ticks, counted, peak_rss_kib, ..] = fields[..] else {
        return Err(format!("bad result: {fields:?}"));
    };
    Ok(Measured {
        elapsed: Duration::from_nanos(elapsed_ns),
        cpu: Duration::from_millis(cpu_ticks * 10),
        records: usize::try_from(counted).unwrap_or(0),
        peak_rss_kib,
    })
}

/// The worker's end: prints the result line [`run_measured`] reads, or the error.
pub(crate) fn finish(client: &str, result: Result<Measured, String>) -> ExitCode {
    match result {
        Ok(m) => {
            println!(
                "RESULT {} {} {} {}",
                m.elapsed.as_nanos(),
                m.cpu.as_millis() / 10,
                m.records,
                m.peak_rss_kib
            );
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("{client}: {err}");
            ExitCode::FAILURE
        }
    }
}
