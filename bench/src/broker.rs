//! The `mini-broker` binary as a child process of the perf tool, shared by every measurement
//! that needs a broker of its own; and the batch census, which reads a topic back from any
//! broker to count what a producer really sent (so that settings can be seen to match without
//! trusting the client's own statistics).

use std::process::{Command, Stdio};

use crate::security::{Endpoint, Security};

/// A binary next to this one.
pub(crate) fn sibling(name: &str) -> std::path::PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(|d| d.join(name)))
        .unwrap_or_else(|| std::path::PathBuf::from(name))
}

/// Which broker a standalone measurement (`producer`, `consumer`, `latency`) runs against.
#[derive(Debug, clap::Args)]
pub struct BrokerArgs {
    /// A broker to use instead of starting the mini-broker binary (PLAINTEXT only).
    #[arg(long)]
    pub bootstrap: Option<String>,
    /// The mini-broker binary (default: next to this executable).
    #[arg(long)]
    pub mini_broker: Option<std::path::PathBuf>,
}

/// The broker of a standalone measurement: the one `--bootstrap` names, or a mini-broker binary
/// started for the run and stopped when this is dropped.
pub(crate) struct Standalone {
    /// PLAINTEXT, for the measurement's own requests (topics, data, census).
    pub(crate) bootstrap: String,
    /// What the measured clients use: the listener of the asked-for security.
    pub(crate) clients: Endpoint,
    /// How the tables name it.
    pub(crate) name: String,
    _process: Option<MiniBrokerProcess>,
}

impl BrokerArgs {
    /// The broker, with a listener for `security` besides the PLAINTEXT one.
    pub(crate) fn start(&self, security: Security) -> Result<Standalone, String> {
        if let Some(b) = &self.bootstrap {
            if security != Security::Plaintext {
                return Err(format!(
                    "--security {security} needs the mini-broker started here (its CA and \
                     user), not --bootstrap"
                ));
            }
            return Ok(Standalone {
                bootstrap: b.clone(),
                clients: Endpoint::plain(b),
                name: format!("the broker at {b}"),
                _process: None,
            });
        }
        let bin = self
            .mini_broker
            .clone()
            .unwrap_or_else(|| sibling("mini-broker"));
        let process = MiniBrokerProcess::start_with(&bin, &[Security::Plaintext, security])
            .map_err(|e| format!("mini-broker: {e}"))?;
        let clients = process.endpoint(security)?;
        let name = match security {
            Security::Plaintext => "the mini-broker binary".to_owned(),
            s => format!("the mini-broker binary over {}", s.label()),
        };
        Ok(Standalone {
            bootstrap: process.bootstrap.clone(),
            clients,
            name,
            _process: Some(process),
        })
    }
}

/// The `mini-broker` binary as a child process; stopped when dropped.
pub(crate) struct MiniBrokerProcess {
    child: std::process::Child,
    /// The first listener's address (the PLAINTEXT one when there is one).
    pub(crate) bootstrap: String,
    /// Every listener's address.
    listeners: Vec<(Security, String)>,
    /// A directory of our own holding the broker's CA, removed when dropped.
    tls_dir: Option<std::path::PathBuf>,
}

impl MiniBrokerProcess {
    /// The broker's process id, for its CPU time.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A broker with one PLAINTEXT listener.
    pub(crate) fn start(bin: &std::path::Path) -> Result<Self, String> {
        Self::start_with(bin, &[Security::Plaintext])
    }

    /// A broker with one PLAINTEXT listener that keeps its data in `dir` (`--data-dir`).
    pub(crate) fn start_on_disk(
        bin: &std::path::Path,
        dir: &std::path::Path,
    ) -> Result<Self, String> {
        let extra = ["--data-dir".to_owned(), dir.display().to_string()];
        Self::start_with_args(bin, &[Security::Plaintext], &extra)
    }

    /// A broker with a listener per security setting (duplicates ignored), the TLS ones under
    /// a self-signed CA, the SASL ones knowing [`crate::security::USER`].
    pub(crate) fn start_with(
        bin: &std::path::Path,
        securities: &[Security],
    ) -> Result<Self, String> {
        Self::start_with_args(bin, securities, &[])
    }

    /// [`Self::start_with`], with `extra` flags.
    fn start_with_args(
        bin: &std::path::Path,
        securities: &[Security],
        extra: &[String],
    ) -> Result<Self, String> {
        use std::io::{BufRead, BufReader};
        let mut wanted: Vec<Security> = Vec::new();
        for s in securities {
            if !wanted.contains(s) {
                wanted.push(*s);
            }
        }
        // The broker prints the PLAINTEXT listener first: ask for it first too.
        wanted.sort_by_key(|s| *s != Security::Plaintext);
        let mut args: Vec<String> = wanted.iter().flat_map(|s| s.listener_flags()).collect();
        let tls_dir = if wanted.iter().any(|s| s.uses_tls()) {
            let dir = private_dir()?;
            args.push("--tls-self-signed".into());
            args.push(dir.join("ca.pem").display().to_string());
            Some(dir)
        } else {
            None
        };
        if wanted.iter().any(|s| s.uses_sasl()) {
            args.push("--sasl-user".into());
            args.push(Security::sasl_user());
        }
        let child = Command::new(bin)
            .args(&args)
            .args(extra)
            .args([
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
        // Built now, so that the broker is stopped (and the CA removed) if a line is missing.
        let mut process = MiniBrokerProcess {
            child,
            bootstrap: String::new(),
            listeners: Vec::new(),
            tls_dir,
        };
        let stdout = process.child.stdout.take().ok_or("no stdout")?;
        let mut lines = BufReader::new(stdout);
        for _ in &wanted {
            let mut line = String::new();
            lines.read_line(&mut line).map_err(|e| e.to_string())?;
            let address = line
                .trim()
                .strip_prefix("listening on ")
                .ok_or_else(|| format!("unexpected line {line:?}"))?;
            let (security, address) = match address.split_once("://") {
                Some((protocol, address)) => (
                    wanted
                        .iter()
                        .copied()
                        .find(|s| s.protocol() == protocol)
                        .ok_or_else(|| format!("a listener we did not ask for: {line:?}"))?,
                    address,
                ),
                None => (Security::Plaintext, address),
            };
            process.listeners.push((security, address.to_owned()));
        }
        process.bootstrap = process
            .listeners
            .first()
            .map(|(_, a)| a.clone())
            .ok_or("no listener")?;
        Ok(process)
    }

    /// The address and client settings of the listener for `security`.
    pub(crate) fn endpoint(&self, security: Security) -> Result<Endpoint, String> {
        let bootstrap = self
            .listeners
            .iter()
            .find(|(s, _)| *s == security)
            .map(|(_, a)| a.clone())
            .ok_or_else(|| format!("no {} listener", security.protocol()))?;
        let ca = self
            .tls_dir
            .as_ref()
            .map(|d| d.join("ca.pem"))
            .unwrap_or_default();
        Ok(Endpoint {
            bootstrap,
            settings: security.client_settings(&ca),
        })
    }
}

/// A fresh directory under the system's temporary directory, for this process alone.
fn private_dir() -> Result<std::path::PathBuf, String> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static MADE: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "ferrokafka-perf-{}-{}",
        std::process::id(),
        MADE.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    Ok(dir)
}

impl Drop for MiniBrokerProcess {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
        if let Some(dir) = &self.tls_dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Record batches as stored in a topic: how the producer cut them.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct BatchCensus {
    pub(crate) batches: u64,
    pub(crate) records: u64,
    /// Bytes of the stored batches, headers included (compressed, where compressed).
    pub(crate) bytes: u64,
}

/// Most bytes one census Fetch asks for per partition.
const CENSUS_FETCH_BYTES: i32 = 8 * 1024 * 1024;

/// Reads every partition of `topic` from offset 0 to its high watermark with raw Fetch
/// requests and counts the batches, their records and their bytes.
pub(crate) async fn batch_census(bootstrap: &str, topic: &str) -> Result<BatchCensus, String> {
    use ferrokafka::{Client, ClientConfig};
    let client = Client::connect(ClientConfig::new(bootstrap).map_err(|e| e.to_string())?)
        .await
        .map_err(|e| e.to_string())?;
    let census = census_of(&client, topic).await;
    client.close().await;
    census
}

async fn census_of(client: &ferrokafka::Client, topic: &str) -> Result<BatchCensus, String> {
    let cluster = client.metadata(&[topic]).await.map_err(|e| e.to_string())?;
    let info = cluster
        .topics
        .get(topic)
        .ok_or_else(|| format!("no metadata for {topic}"))?;
    let mut census = BatchCensus::default();
    for (&partition, p) in &info.partitions {
        let leader = p
            .leader
            .ok_or_else(|| format!("{topic}/{partition}: no leader"))?;
        let mut offset = 0;
        loop {
            let (blob, high_watermark) =
                fetch_once(client, leader, info, partition, offset).await?;
            let before = offset;
            for batch in ferrokafka_protocol::record::RecordBatch::iter_blob(blob) {
                let batch = batch.map_err(|e| format!("{topic}/{partition}: {e}"))?;
                if batch.base_offset() < offset {
                    continue;
                }
                census.batches += 1;
                census.records += u64::try_from(batch.records_count()).unwrap_or(0);
                census.bytes += batch.size() as u64;
                offset = batch.next_offset();
            }
            if offset >= high_watermark {
                break;
            }
            if offset == before {
                return Err(format!(
                    "{topic}/{partition}: no progress at offset {offset}"
                ));
            }
        }
    }
    Ok(census)
}

/// One Fetch of one partition from `offset`: the record bytes and the high watermark.
async fn fetch_once(
    client: &ferrokafka::Client,
    leader: i32,
    info: &ferrokafka::TopicInfo,
    partition: i32,
    offset: i64,
) -> Result<(bytes::Bytes, i64), String> {
    let topic = info.name.as_str();
    use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
    use kafka_protocol::messages::{FetchRequest, TopicName};
    use kafka_protocol::protocol::StrBytes;
    let request = FetchRequest::default()
        .with_replica_id(kafka_protocol::messages::BrokerId(-1))
        .with_max_wait_ms(0)
        .with_min_bytes(1)
        .with_max_bytes(CENSUS_FETCH_BYTES)
        .with_topics(vec![FetchTopic::default()
            .with_topic(TopicName(StrBytes::from_string(topic.to_owned())))
            .with_topic_id(info.id)
            .with_partitions(vec![FetchPartition::default()
                .with_partition(partition)
                .with_fetch_offset(offset)
                .with_partition_max_bytes(CENSUS_FETCH_BYTES)])]);
    let response = client
        .send_to(leader, request)
        .await
        .map_err(|e| e.to_string())?;
    let p = response
        .responses
        .into_iter()
        .flat_map(|t| t.partitions)
        .find(|p| p.partition_index == partition)
        .ok_or_else(|| format!("{topic}/{partition}: not in the Fetch response"))?;
    ferrokafka::Error::check(p.error_code, None)
        .map_err(|e| format!("{topic}/{partition}: {e}"))?;
    Ok((p.records.unwrap_or_default(), p.high_watermark))
}
