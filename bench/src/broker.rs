//! The `mini-broker` binary as a child process of the perf tool, shared by every measurement
//! that needs a broker of its own; and the batch census, which reads a topic back from any
//! broker to count what a producer really sent (so that settings can be seen to match without
//! trusting the client's own statistics).

use std::process::{Command, Stdio};

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
    /// A broker to use instead of starting the mini-broker binary.
    #[arg(long)]
    pub bootstrap: Option<String>,
    /// The mini-broker binary (default: next to this executable).
    #[arg(long)]
    pub mini_broker: Option<std::path::PathBuf>,
}

/// The broker of a standalone measurement: the one `--bootstrap` names, or a mini-broker binary
/// started for the run and stopped when this is dropped.
pub(crate) struct Standalone {
    pub(crate) bootstrap: String,
    /// How the tables name it.
    pub(crate) name: String,
    _process: Option<MiniBrokerProcess>,
}

impl BrokerArgs {
    pub(crate) fn start(&self) -> Result<Standalone, String> {
        if let Some(b) = &self.bootstrap {
            return Ok(Standalone {
                bootstrap: b.clone(),
                name: format!("the broker at {b}"),
                _process: None,
            });
        }
        let bin = self
            .mini_broker
            .clone()
            .unwrap_or_else(|| sibling("mini-broker"));
        let process = MiniBrokerProcess::start(&bin).map_err(|e| format!("mini-broker: {e}"))?;
        Ok(Standalone {
            bootstrap: process.bootstrap.clone(),
            name: "the mini-broker binary".to_owned(),
            _process: Some(process),
        })
    }
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
