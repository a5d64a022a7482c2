//! What every measurement's worker shares: the flags that name the client, the broker and the
//! topic, and the parent's side — run this executable's hidden worker subcommand as a child
//! process (so the CPU and memory it reports are that one client's alone) and read the numbers
//! of its `RESULT` line.

use std::process::{Command, Stdio};

/// Which client runs, against which broker and topic.
#[derive(Debug, Clone, clap::Args)]
pub struct Target {
    #[arg(long)]
    pub client: String,
    #[arg(long)]
    pub bootstrap: String,
    #[arg(long)]
    pub topic: String,
}

/// Runs `subcommand` for `client` on `bootstrap` and `topic`, with the further `args`, and
/// returns the numbers of the `RESULT` line the worker prints.
pub(crate) fn run(
    subcommand: &str,
    [client, bootstrap, topic]: [&str; 3],
    args: &[&str],
) -> Result<Vec<u64>, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let out = Command::new(exe)
        .args([subcommand, "--client", client, "--bootstrap", bootstrap])
        .args(["--topic", topic])
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
