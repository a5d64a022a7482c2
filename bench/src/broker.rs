//! The `mini-broker` binary as a child process of the perf tool, shared by every measurement
//! that needs a broker of its own.

use std::process::{Command, Stdio};

/// A binary next to this one.
pub(crate) fn sibling(name: &str) -> std::path::PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(|d| d.join(name)))
        .unwrap_or_else(|| std::path::PathBuf::from(name))
}

/// The `mini-broker` binary as a child process; stopped when dropped.
pub(crate) struct MiniBrokerProcess {
    child: std::process::Child,
    pub(crate) bootstrap: String,
}

impl MiniBrokerProcess {
    /// The broker's process id, for its CPU time.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    pub(crate) fn start(bin: &std::path::Path) -> Result<Self, String> {
        use std::io::{BufRead, BufReader};
        let mut child = Command::new(bin)
            .args([
                "--listen",
                "127.0.0.1:0",
                "--log-level",
                "warn",
                // Room for the largest data set (1M records of 1 KiB over a few partitions).
                "--retention-bytes",
                "4294967296",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("spawn {}: {e}", bin.display()))?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .map_err(|e| e.to_string())?;
        let bootstrap = line
            .trim()
            .strip_prefix("listening on ")
            .ok_or_else(|| format!("unexpected first line {line:?}"))?
            .to_owned();
        Ok(MiniBrokerProcess { child, bootstrap })
    }
}

impl Drop for MiniBrokerProcess {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}
