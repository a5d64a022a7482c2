//! Persistence (`--data-dir`): what one broker wrote, a new broker on the same directory
//! serves — topics with their ids and configs, records byte for byte, log start offsets,
//! committed offsets, idempotent producer state — and a torn or corrupt log tail is cut with a
//! warning rather than served or fatal. The binary's crash test (SIGKILL mid-load) is here too.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use common::{
    batch, fetch_request, fetched_values, idem, init_producer, produce_request, produce_result,
    RawConn, STEP,
};
use ferrokafka_mini_broker::state::log::StoredBatch;
use ferrokafka_mini_broker::MiniBroker;
use ferrokafka_protocol::frame::encode_frame;
use ferrokafka_protocol::header::RequestHeader;
use ferrokafka_protocol::record::{BatchBuilder, RecordInput};
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::delete_records_request::{
    DeleteRecordsPartition, DeleteRecordsTopic,
};
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::{
    CreateTopicsRequest, DeleteRecordsRequest, DeleteTopicsRequest, FetchResponse, GroupId,
    OffsetCommitRequest, TopicName,
};
use kafka_protocol::protocol::Encodable;
use kafka_protocol::protocol::StrBytes;
use tokio::io::AsyncWriteExt;

/// A fresh directory under the system temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!(
            "ferrokafka-{tag}-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn name(s: &str) -> TopicName {
    TopicName(StrBytes::from_string(s.to_owned()))
}

async fn start_on(dir: &Path) -> MiniBroker {
    MiniBroker::builder()
        .data_dir(dir)
        .start()
        .await
        .expect("start on the data dir")
}

async fn create_topic(conn: &mut RawConn, topic: &str, partitions: i32, configs: &[(&str, &str)]) {
    let configs = configs
        .iter()
        .map(|(k, v)| {
            CreatableTopicConfig::default()
                .with_name(StrBytes::from_string((*k).to_owned()))
                .with_value(Some(StrBytes::from_string((*v).to_owned())))
        })
        .collect();
    let req = CreateTopicsRequest::default()
        .with_timeout_ms(10_000)
        .with_topics(vec![CreatableTopic::default()
            .with_name(name(topic))
            .with_num_partitions(partitions)
            .with_replication_factor(1)
            .with_configs(configs)]);
    let resp = conn.request(5, &req).await;
    assert_eq!(resp.topics[0].error_code, 0, "create {topic}");
}

/// The raw record bytes a fetch from `offset` returns for one partition.
fn fetched_bytes(resp: &FetchResponse) -> (i16, Bytes, i64) {
    let p = &resp.responses[0].partitions[0];
    (
        p.error_code,
        p.records.clone().unwrap_or_default(),
        p.log_start_offset,
    )
}

#[tokio::test]
async fn a_new_broker_on_the_same_data_dir_serves_what_the_old_one_held() {
    let dir = TempDir::new("persist");
    let (producer, topic_id, p0_bytes, p1_bytes);
    {
        let broker = start_on(&dir.0).await;
        let mut conn = RawConn::connect(&broker.bootstrap()).await;
        create_topic(
            &mut conn,
            "kept",
            2,
            &[
                ("retention.ms", "86400000"),
                ("max.message.bytes", "500000"),
            ],
        )
        .await;
        producer = init_producer(&mut conn).await;
        for (seq, n, tag) in [(0, 3, "a"), (3, 2, "b")] {
            let req = produce_request("kept", 0, idem(producer, seq, n, tag));
            let (code, _) = produce_result(&conn.request(9, &req).await);
            assert_eq!(code, 0, "idempotent produce {tag}");
        }
        for _ in 0..3 {
            let (code, _) =
                produce_result(&conn.request(9, &produce_request("kept", 1, batch(2))).await);
            assert_eq!(code, 0);
        }
        // Inside the second batch (offsets 2..=3): the start is not a batch boundary.
        let delete = DeleteRecordsRequest::default()
            .with_timeout_ms(5_000)
            .with_topics(vec![DeleteRecordsTopic::default()
                .with_name(name("kept"))
                .with_partitions(vec![DeleteRecordsPartition::default()
                    .with_partition_index(1)
                    .with_offset(3)])]);
        let deleted = conn.request(2, &delete).await;
        assert_eq!(deleted.topics[0].partitions[0].error_code, 0);
        let commit = OffsetCommitRequest::default()
            .with_group_id(GroupId(StrBytes::from_static_str("keeper")))
            .with_generation_id_or_member_epoch(-1)
            .with_topics(vec![OffsetCommitRequestTopic::default()
                .with_name(name("kept"))
                .with_partitions(vec![OffsetCommitRequestPartition::default()
                    .with_partition_index(0)
                    .with_committed_offset(4)
                    .with_committed_leader_epoch(7)
                    .with_committed_metadata(Some(StrBytes::from_static_str(
                        "tab\there",
                    )))])]);
        let committed = conn.request(8, &commit).await;
        assert_eq!(committed.topics[0].partitions[0].error_code, 0);
        p0_bytes = fetched_bytes(&conn.request(12, &fetch_request("kept", 0, 0)).await);
        p1_bytes = fetched_bytes(&conn.request(12, &fetch_request("kept", 1, 3)).await);
        assert_eq!((p0_bytes.0, p1_bytes.0, p1_bytes.2), (0, 0, 3));
        topic_id = broker.state().topics()["kept"].id;
        broker.shutdown().await;
    }

    let broker = start_on(&dir.0).await;
    {
        let topics = broker.state().topics();
        let kept = &topics["kept"];
        assert_eq!(kept.id, topic_id, "topic id");
        assert_eq!(kept.partitions.len(), 2);
        assert_eq!(
            kept.config
                .overrides
                .get("max.message.bytes")
                .map(String::as_str),
            Some("500000")
        );
        assert_eq!(kept.config.retention_ms, 86_400_000);
        let held: usize = kept.partitions.iter().map(|p| p.bytes_held()).sum();
        assert_eq!(
            broker.state().memory().held(),
            held,
            "memory budget counts what was read"
        );
        assert!(held > 0);
    }
    let mut conn = RawConn::connect(&broker.bootstrap()).await;
    assert_eq!(
        fetched_bytes(&conn.request(12, &fetch_request("kept", 0, 0)).await),
        p0_bytes,
        "partition 0 byte for byte"
    );
    assert_eq!(
        fetched_bytes(&conn.request(12, &fetch_request("kept", 1, 3)).await),
        p1_bytes,
        "partition 1 from its log start offset"
    );
    let below = conn.request(12, &fetch_request("kept", 1, 1)).await;
    assert_eq!(
        below.responses[0].partitions[0].error_code,
        1, // OFFSET_OUT_OF_RANGE
        "the log start offset was kept"
    );
    let offsets = broker
        .state()
        .groups
        .committed_offsets("keeper")
        .expect("group back");
    let o = &offsets[&("kept".to_owned(), 0)];
    assert_eq!(
        (o.offset, o.leader_epoch, o.metadata.as_str()),
        (4, 7, "tab\there")
    );

    // The last batch again, as a producer retrying across the restart would send it.
    let retry = produce_request("kept", 0, idem(producer, 3, 2, "b"));
    assert_eq!(
        produce_result(&conn.request(9, &retry).await),
        (0, 3),
        "a duplicate, answered with its original offset"
    );
    let next = produce_request("kept", 0, idem(producer, 5, 1, "c"));
    assert_eq!(produce_result(&conn.request(9, &next).await), (0, 5));
    let gap = produce_request("kept", 0, idem(producer, 9, 1, "d"));
    assert_eq!(
        produce_result(&conn.request(9, &gap).await).0,
        45, // OUT_OF_ORDER_SEQUENCE_NUMBER: the sequence state came back, not just accepted
    );
    let fresh = init_producer(&mut conn).await;
    assert!(
        fresh.0 > producer.0,
        "new producer ids stay above those in the logs"
    );
    broker.shutdown().await;
}

/// A `tracing` writer into a shared buffer, to see what the broker logged.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

/// Writes three batches to `topic`-0 and shuts down; returns the segment file and its length.
async fn three_batches(dir: &Path, topic: &str) -> (PathBuf, u64) {
    let broker = start_on(dir).await;
    let mut conn = RawConn::connect(&broker.bootstrap()).await;
    for _ in 0..3 {
        let (code, _) =
            produce_result(&conn.request(9, &produce_request(topic, 0, batch(3))).await);
        assert_eq!(code, 0);
    }
    broker.shutdown().await;
    let segment = dir
        .join(format!("{topic}-0"))
        .join("00000000000000000000.log");
    let len = std::fs::metadata(&segment).expect("segment written").len();
    (segment, len)
}

/// Starts a broker on `dir` capturing its logs; returns it and what it logged at start.
async fn start_logged(dir: &Path) -> (MiniBroker, String) {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(captured.clone())
        .with_ansi(false)
        .finish();
    let broker = {
        let _guard = tracing::subscriber::set_default(subscriber);
        start_on(dir).await
    };
    let logged = String::from_utf8_lossy(&captured.0.lock().unwrap()).into_owned();
    (broker, logged)
}

#[tokio::test(flavor = "current_thread")]
async fn a_torn_tail_is_cut_with_a_warning_and_the_good_records_served() {
    let dir = TempDir::new("torn");
    let (segment, good_len) = three_batches(&dir.0, "torn").await;
    // Half of a fourth batch, as a crash in the middle of a write leaves it.
    let half = batch(3);
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&segment)
        .unwrap();
    file.write_all(&half[..half.len() / 2]).unwrap();
    drop(file);

    let (broker, logged) = start_logged(&dir.0).await;
    assert!(
        logged.contains("WARN") && logged.contains("cutting a torn or corrupt log tail"),
        "{logged}"
    );
    assert!(logged.contains(&format!("position={good_len}")), "{logged}");
    assert!(
        logged.contains(&format!("bytes_cut={}", half.len() / 2)),
        "{logged}"
    );
    assert!(logged.contains("00000000000000000000.log"), "{logged}");
    assert_eq!(
        std::fs::metadata(&segment).unwrap().len(),
        good_len,
        "file cut"
    );
    let mut conn = RawConn::connect(&broker.bootstrap()).await;
    let values = fetched_values(&conn.request(12, &fetch_request("torn", 0, 0)).await);
    assert_eq!(values.len(), 9, "the three good batches");
    let (code, base) =
        produce_result(&conn.request(9, &produce_request("torn", 0, batch(1))).await);
    assert_eq!((code, base), (0, 9), "appends continue after the cut");
    broker.shutdown().await;
}

#[tokio::test(flavor = "current_thread")]
async fn a_corrupt_batch_ends_the_log_where_it_starts() {
    let dir = TempDir::new("crc");
    let (segment, len) = three_batches(&dir.0, "crc").await;
    let one = len / 3;
    // Flip a byte in the second batch's records: its CRC no longer matches.
    let mut bytes = std::fs::read(&segment).unwrap();
    let at = usize::try_from(one + one - 3).unwrap();
    bytes[at] ^= 0xff;
    std::fs::write(&segment, &bytes).unwrap();
    // A later segment follows the cut: it goes too (its offsets would leave a gap).
    let later = segment.with_file_name("00000000000000000100.log");
    std::fs::write(&later, [0x7f; 64]).unwrap();

    let (broker, logged) = start_logged(&dir.0).await;
    assert!(logged.contains("CRC mismatch"), "{logged}");
    assert!(logged.contains(&format!("position={one}")), "{logged}");
    assert!(
        logged.contains("deleting a segment that follows a cut"),
        "{logged}"
    );
    assert!(!later.exists());
    assert_eq!(std::fs::metadata(&segment).unwrap().len(), one);
    let mut conn = RawConn::connect(&broker.bootstrap()).await;
    let values = fetched_values(&conn.request(12, &fetch_request("crc", 0, 0)).await);
    assert_eq!(values.len(), 3, "only the batch before the corrupt one");
    broker.shutdown().await;
}

/// The binary, killed with SIGKILL while an acks=all producer writes, restarted on its data
/// dir three times: every acknowledged record is back each time.
#[tokio::test]
async fn the_binary_keeps_every_acknowledged_record_across_sigkill() {
    let dir = TempDir::new("sigkill");
    let mut acked: Vec<(i64, Bytes)> = Vec::new();
    for round in 0..3 {
        let (mut child, addr) = spawn_binary(&dir.0).await;
        let mut conn = RawConn::connect(&addr).await;
        // Everything acknowledged so far is there, at its offset. A record written but not
        // acknowledged before the kill may be there too (at least once), so the log is read to
        // its end (one record per batch here: offsets are positions).
        let mut log: Vec<Bytes> = Vec::new();
        // (Before the first round the topic does not exist yet: the first produce creates it.)
        for _ in 0..(if acked.is_empty() {
            0
        } else {
            acked.len() + 10
        }) {
            let offset = i64::try_from(log.len()).unwrap();
            let values =
                fetched_values(&conn.request(12, &fetch_request("crash", 0, offset)).await);
            if values.is_empty() {
                break;
            }
            log.extend(values);
        }
        for (offset, value) in &acked {
            let at = usize::try_from(*offset).unwrap();
            assert_eq!(
                log.get(at),
                Some(value),
                "round {round}: acknowledged record at {offset}"
            );
        }
        let written = log.len();
        // Load, with the kill landing while requests are in flight: after a number of
        // acknowledgements that differs per round.
        let acks = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&acks);
        let writer = tokio::spawn(async move {
            let mut got = Vec::new();
            for i in 0..100_000 {
                let value = Bytes::from(format!("r{round}-{i}"));
                let mut b = BatchBuilder::new();
                b.push(RecordInput {
                    timestamp: 1_700_000_000_000,
                    value: Some(value.clone()),
                    ..Default::default()
                })
                .unwrap();
                let mut body = bytes::BytesMut::new();
                produce_request("crash", 0, b.build().unwrap())
                    .encode(&mut body, 9)
                    .unwrap();
                let mut payload = bytes::BytesMut::new();
                RequestHeader {
                    api_key: 0,
                    api_version: 9,
                    correlation_id: i,
                    client_id: None,
                }
                .encode(&mut payload);
                payload.extend_from_slice(&body);
                let mut frame = bytes::BytesMut::new();
                encode_frame(&payload, &mut frame);
                if conn.stream_mut().write_all(&frame).await.is_err() {
                    break;
                }
                let Some(frame) = conn.read_frame().await else {
                    break;
                };
                if let Some((0, base)) = decode_produce(frame) {
                    got.push((base, value));
                    counted.fetch_add(1, Ordering::Relaxed);
                }
            }
            got
        });
        let kill_after = 200 * (round + 1);
        common::wait_until("acknowledgements before the kill", || {
            acks.load(Ordering::Relaxed) >= kill_after
        })
        .await;
        child.kill();
        let got = tokio::time::timeout(STEP, writer).await.unwrap().unwrap();
        assert!(
            got.len() >= kill_after,
            "round {round}: {} acknowledged",
            got.len()
        );
        for (base, value) in got {
            assert!(
                usize::try_from(base).unwrap() >= written,
                "round {round}: appended after what was read back"
            );
            acked.push((base, value));
        }
    }
}

/// The base offset of a one-partition Produce v9 response frame, if it decodes.
fn decode_produce(mut frame: Bytes) -> Option<(i16, i64)> {
    use ferrokafka_protocol::header::{decode_response_header, response_header_version};
    use kafka_protocol::protocol::Decodable;
    decode_response_header(&mut frame, response_header_version(0, 9)).ok()?;
    let resp = kafka_protocol::messages::ProduceResponse::decode(&mut frame, 9).ok()?;
    Some(produce_result(&resp))
}

/// A child process killed (SIGKILL) and reaped when dropped, however the test ends.
struct Killed(std::process::Child);

impl Killed {
    fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Killed {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Starts `mini-broker --data-dir DIR` on a free port and waits for its `listening on` line.
async fn spawn_binary(dir: &Path) -> (Killed, String) {
    use std::io::BufRead;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_mini-broker"))
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn mini-broker");
    let stdout = child.stdout.take().unwrap();
    let child = Killed(child);
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .map(|_| line)
    });
    let line = tokio::time::timeout(STEP, line)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    (child, addr)
}

#[tokio::test]
async fn compaction_deletion_and_open_transactions_survive_a_restart() {
    let dir = TempDir::new("lifecycle");
    let compacted_bytes;
    {
        let broker = start_on(&dir.0).await;
        let mut conn = RawConn::connect(&broker.bootstrap()).await;
        create_topic(&mut conn, "compacted", 1, &[("cleanup.policy", "compact")]).await;
        create_topic(&mut conn, "gone", 1, &[]).await;
        create_topic(&mut conn, "txn", 1, &[]).await;
        // Keys k0, k1; then k0 twice more. The last batch stands for the active segment and
        // is never cleaned, so of the cleanable part only the first k0 goes.
        for n in [2, 1, 1] {
            let req = produce_request("compacted", 0, batch(n));
            assert_eq!(produce_result(&conn.request(9, &req).await).0, 0);
        }
        let req = produce_request("txn", 0, batch(1));
        assert_eq!(produce_result(&conn.request(9, &req).await).0, 0);
        {
            // A transaction whose coordinator state a restart loses: data, no marker.
            let mut b = BatchBuilder::new()
                .base_offset(1)
                .producer(4242, 0)
                .base_sequence(0)
                .transactional(true);
            b.push(RecordInput {
                timestamp: 1_700_000_000_000,
                value: Some(Bytes::from_static(b"open")),
                ..Default::default()
            })
            .unwrap();
            let open = StoredBatch::new(1, 1, 1_700_000_000_000, b.build().unwrap());
            let mut topics = broker.state().topics();
            let txn = &mut topics.get_mut("txn").unwrap().partitions[0];
            txn.begin_transaction(4242, 1);
            txn.append(open).unwrap();
            assert_eq!(txn.last_stable_offset(), 1, "held by the open transaction");
        }
        let segment = dir.0.join("compacted-0/00000000000000000000.log");
        let before = std::fs::metadata(&segment).unwrap().len();
        broker.state().clean_logs(1_700_000_100_000);
        let after = std::fs::metadata(&segment).unwrap().len();
        assert!(
            after < before,
            "the segment was rewritten: {before} -> {after}"
        );
        compacted_bytes = fetched_bytes(&conn.request(12, &fetch_request("compacted", 0, 0)).await);
        assert_eq!(
            fetched_values(&conn.request(12, &fetch_request("compacted", 0, 0)).await),
            ["v1", "v0", "v0"].map(|v| Bytes::from_static(v.as_bytes())),
            "k0 at 0 went"
        );
        produce_result(&conn.request(9, &produce_request("gone", 0, batch(2))).await);
        assert!(dir.0.join("gone-0").exists());
        let delete = DeleteTopicsRequest::default()
            .with_timeout_ms(5_000)
            .with_topic_names(vec![name("gone")]);
        let deleted = conn.request(4, &delete).await;
        assert_eq!(deleted.responses[0].error_code, 0);
        assert!(!dir.0.join("gone-0").exists(), "a deleted topic's files go");
        broker.shutdown().await;
    }

    let broker = start_on(&dir.0).await;
    let mut conn = RawConn::connect(&broker.bootstrap()).await;
    assert_eq!(
        fetched_bytes(&conn.request(12, &fetch_request("compacted", 0, 0)).await),
        compacted_bytes,
        "compacted log read back as it was served"
    );
    {
        let topics = broker.state().topics();
        assert!(!topics.contains_key("gone"));
        let txn = &topics["txn"].partitions[0];
        assert_eq!(txn.next_offset(), 3, "an ABORT marker was written at 2");
        assert_eq!(
            txn.last_stable_offset(),
            3,
            "nothing holds read_committed readers"
        );
        let aborted = txn.aborted_transactions(0, 3);
        assert_eq!(
            (
                aborted.len(),
                aborted[0].producer_id,
                aborted[0].first_offset
            ),
            (1, 4242, 1),
            "read_committed readers skip the open transaction's data"
        );
    }
    broker.shutdown().await;
}

#[tokio::test]
async fn with_fsync_always_the_broker_writes_and_reads_back_byte_for_byte() {
    let dir = TempDir::new("fsync");
    let start = || {
        MiniBroker::builder()
            .data_dir(&dir.0)
            .fsync(ferrokafka_mini_broker::FsyncPolicy::Always)
            .start()
    };
    let broker = start().await.expect("start");
    let mut conn = RawConn::connect(&broker.bootstrap()).await;
    for n in [1, 2, 3] {
        let req = produce_request("synced", 0, batch(n));
        assert_eq!(produce_result(&conn.request(9, &req).await).0, 0);
    }
    let before = fetched_bytes(&conn.request(12, &fetch_request("synced", 0, 0)).await);
    broker.shutdown().await;
    let broker = start().await.expect("restart");
    let mut conn = RawConn::connect(&broker.bootstrap()).await;
    let after = fetched_bytes(&conn.request(12, &fetch_request("synced", 0, 0)).await);
    assert_eq!((after.0, after.1.len()), (0, before.1.len()));
    assert_eq!(after, before);
    broker.shutdown().await;
}

/// A transactional batch of `values` from `(producer id, epoch)` at `seq`.
fn txn_batch(producer: (i64, i16), seq: i32, values: &[&'static str]) -> Bytes {
    let mut b = BatchBuilder::new()
        .producer(producer.0, producer.1)
        .base_sequence(seq)
        .transactional(true);
    for v in values {
        b.push(RecordInput {
            timestamp: 1_700_000_000_000,
            value: Some(Bytes::from_static(v.as_bytes())),
            ..Default::default()
        })
        .unwrap();
    }
    b.build().unwrap()
}

/// Starts a transaction of `id` on `out`-0 and writes one transactional batch of `value`
/// at sequence `seq` in it, over the wire.
async fn write_in_txn(
    broker: &MiniBroker,
    conn: &mut RawConn,
    (id, producer): (&'static str, (i64, i16)),
    seq: i32,
    value: &'static str,
) {
    use kafka_protocol::messages::TransactionalId;
    let added =
        broker
            .state()
            .add_partitions_to_txn(id, producer.0, producer.1, &[("out".to_owned(), 0)]);
    assert_eq!(added.0, 0, "AddPartitionsToTxn");
    let req = produce_request("out", 0, txn_batch(producer, seq, &[value]))
        .with_transactional_id(Some(TransactionalId(StrBytes::from_static_str(id))));
    assert_eq!(produce_result(&conn.request(9, &req).await).0, 0);
}

async fn commit_offset(conn: &mut RawConn, group: &'static str, topic: &str, offset: i64) {
    let commit = OffsetCommitRequest::default()
        .with_group_id(GroupId(StrBytes::from_static_str(group)))
        .with_generation_id_or_member_epoch(-1)
        .with_topics(vec![OffsetCommitRequestTopic::default()
            .with_name(name(topic))
            .with_partitions(vec![OffsetCommitRequestPartition::default()
                .with_partition_index(0)
                .with_committed_offset(offset)])]);
    let committed = conn.request(8, &commit).await;
    assert_eq!(committed.topics[0].partitions[0].error_code, 0);
}

/// The transaction coordinator's state comes back: a transactional id keeps its producer id,
/// a transaction left open by the restart is aborted with its producer fenced (the old
/// instance's EndTxn is refused, a new InitProducerId gets the epoch after the abort's), and
/// the last of several commits of one offset is the one read back.
#[tokio::test]
async fn transactional_ids_and_the_latest_offsets_survive_a_restart() {
    use ferrokafka_mini_broker::state::transactions::TxnVersion;
    let dir = TempDir::new("txn-ids");
    let producer;
    {
        let broker = start_on(&dir.0).await;
        let state = broker.state();
        let mut conn = RawConn::connect(&broker.bootstrap()).await;
        create_topic(&mut conn, "out", 1, &[]).await;
        producer = state
            .init_transactional_producer("app-1", 60_000, None)
            .unwrap();
        assert_eq!(producer.1, 0);
        for (seq, value, end) in [(0, "committed", true), (1, "open", false)] {
            write_in_txn(&broker, &mut conn, ("app-1", producer), seq, value).await;
            if end {
                let ended = state.end_txn("app-1", producer.0, producer.1, true, TxnVersion::V1);
                assert_eq!(ended, Ok(producer));
            }
        }
        for offset in [5, 6, 7] {
            commit_offset(&mut conn, "journalled", "out", offset).await;
        }
        broker.shutdown().await;
    }

    let broker = start_on(&dir.0).await;
    let state = broker.state();
    {
        let topics = state.topics();
        let out = &topics["out"].partitions[0];
        assert_eq!(
            (out.next_offset(), out.last_stable_offset()),
            (4, 4),
            "data 0, COMMIT 1, data 2, ABORT 3"
        );
        let aborted = out.aborted_transactions(0, 4);
        assert_eq!(aborted.len(), 1);
        assert_eq!(
            (aborted[0].producer_id, aborted[0].first_offset),
            (producer.0, 2)
        );
    }
    assert_eq!(
        state.end_txn("app-1", producer.0, producer.1, true, TxnVersion::V1),
        Err(ferrokafka_protocol::ErrorCode::PRODUCER_FENCED),
        "the instance from before the restart is fenced"
    );
    assert_eq!(
        state.init_transactional_producer("app-1", 60_000, None),
        Ok((producer.0, 2)),
        "same producer id; the epoch after the restart's abort (1), bumped"
    );
    let committed = state.groups.committed_offsets("journalled").unwrap();
    assert_eq!(committed[&("out".to_owned(), 0)].offset, 7);
    broker.shutdown().await;
}

fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

/// A commit decided (journalled as PrepareCommit with its offsets) but cut by a crash before
/// its markers: the restart finishes it — a COMMIT marker, the offsets applied, the producer
/// not fenced.
#[tokio::test]
async fn a_commit_decided_before_a_crash_is_finished_at_restart() {
    let dir = TempDir::new("prepared");
    let producer;
    {
        let broker = start_on(&dir.0).await;
        let state = broker.state();
        let mut conn = RawConn::connect(&broker.bootstrap()).await;
        create_topic(&mut conn, "out", 1, &[]).await;
        producer = state
            .init_transactional_producer("app-2", 60_000, None)
            .unwrap();
        write_in_txn(&broker, &mut conn, ("app-2", producer), 0, "decided").await;
        broker.shutdown().await;
    }
    // What the coordinator journals when it decides to commit, before the first marker.
    let decision = format!(
        "txn-offset\t{id}\t{group}\tout\t0\t1\t-1\t-\ntxn\t{id}\t{pid}\t-1\t{epoch}\t-1\t60000\tPrepareCommit\t1\n",
        id = hex("app-2"),
        group = hex("pipeline"),
        pid = producer.0,
        epoch = producer.1,
    );
    std::fs::OpenOptions::new()
        .append(true)
        .open(dir.0.join("transactions.meta"))
        .unwrap()
        .write_all(decision.as_bytes())
        .unwrap();

    let broker = start_on(&dir.0).await;
    let state = broker.state();
    {
        let topics = state.topics();
        let out = &topics["out"].partitions[0];
        assert_eq!(
            (out.next_offset(), out.last_stable_offset()),
            (2, 2),
            "data 0, a marker at 1"
        );
        assert!(
            out.aborted_transactions(0, 2).is_empty(),
            "the marker is a COMMIT"
        );
    }
    let committed = state.groups.committed_offsets("pipeline").unwrap();
    assert_eq!(committed[&("out".to_owned(), 0)].offset, 1);
    let mut conn = RawConn::connect(&broker.bootstrap()).await;
    let values = fetched_values(&conn.request(12, &fetch_request("out", 0, 0)).await);
    assert_eq!(values[0], Bytes::from_static(b"decided"));
    assert_eq!(
        state.init_transactional_producer("app-2", 60_000, None),
        Ok((producer.0, producer.1 + 1)),
        "not fenced by the restart: the next instance's epoch is one up"
    );
    broker.shutdown().await;
}

/// The first `count` batches of `topic`-0 (one record each), fetch by fetch.
async fn read_batches(conn: &mut RawConn, topic: &str, count: i64) -> Vec<Bytes> {
    let mut out = Vec::new();
    while (out.len() as i64) < count {
        let (code, mut rest, _) = fetched_bytes(
            &conn
                .request(12, &fetch_request(topic, 0, out.len() as i64))
                .await,
        );
        assert_eq!(code, 0);
        assert!(!rest.is_empty(), "no progress at {}", out.len());
        while rest.len() >= 12 {
            let len = i32::from_be_bytes(rest[8..12].try_into().unwrap()) as usize + 12;
            out.push(rest.split_to(len));
        }
    }
    out
}

/// With a data dir, a partition's older batches leave memory (the files have them) and are
/// still served byte for byte, before and after a restart; the memory budget counts what
/// stays.
#[tokio::test]
async fn older_batches_are_served_from_the_files_and_memory_stays_bounded() {
    let dir = TempDir::new("cold");
    let big = |i: usize| {
        let mut b = BatchBuilder::new();
        b.push(RecordInput {
            timestamp: 1_700_000_000_000,
            value: Some(Bytes::from(vec![b'a' + (i % 26) as u8; 60_000])),
            ..Default::default()
        })
        .unwrap();
        b.build().unwrap()
    };
    let written;
    {
        let broker = start_on(&dir.0).await;
        let mut conn = RawConn::connect(&broker.bootstrap()).await;
        create_topic(&mut conn, "cold", 1, &[]).await;
        for i in 0..64 {
            let req = produce_request("cold", 0, big(i));
            assert_eq!(produce_result(&conn.request(9, &req).await).0, 0);
        }
        let held = broker.state().memory().held();
        assert!(
            held < 1_200_000,
            "{held} bytes held in memory for 3.8 MB of log"
        );
        written = read_batches(&mut conn, "cold", 64).await;
        broker.shutdown().await;
    }
    let broker = start_on(&dir.0).await;
    let held = broker.state().memory().held();
    assert!(
        held < 1_200_000,
        "{held} bytes held in memory after reading back 3.8 MB"
    );
    let mut conn = RawConn::connect(&broker.bootstrap()).await;
    assert_eq!(
        read_batches(&mut conn, "cold", 64).await,
        written,
        "byte for byte after the restart"
    );
    broker.shutdown().await;
}

/// A transaction that only staged offsets (AddOffsetsToTxn, TxnOffsetCommit) when the broker
/// stopped: nothing of it is in a partition log, but it was journalled as ongoing, so the
/// restart aborts it and fences its producer — the EndTxn that follows cannot pass for a
/// commit of offsets the restart lost.
#[tokio::test]
async fn an_offsets_only_transaction_open_at_a_restart_is_not_taken_for_committed() {
    use ferrokafka_mini_broker::state::groups::CommittedOffset;
    use ferrokafka_mini_broker::state::transactions::{TxnOffsetCommit, TxnVersion};
    let dir = TempDir::new("offsets-only");
    let producer;
    {
        let broker = start_on(&dir.0).await;
        let state = broker.state();
        let mut conn = RawConn::connect(&broker.bootstrap()).await;
        create_topic(&mut conn, "in", 1, &[]).await;
        producer = state
            .init_transactional_producer("app-4", 60_000, None)
            .unwrap();
        // One committed transaction first, so the journal's last word is CompleteCommit.
        assert_eq!(
            state.add_offsets_to_txn("app-4", producer.0, producer.1, "pipeline"),
            ferrokafka_protocol::ErrorCode::NONE
        );
        assert_eq!(
            state.end_txn("app-4", producer.0, producer.1, true, TxnVersion::V1),
            Ok(producer)
        );
        assert_eq!(
            state.add_offsets_to_txn("app-4", producer.0, producer.1, "pipeline"),
            ferrokafka_protocol::ErrorCode::NONE
        );
        let staged = state.txn_offset_commit(TxnOffsetCommit {
            transactional_id: "app-4".into(),
            producer_id: producer.0,
            producer_epoch: producer.1,
            group_id: "pipeline".into(),
            generation: -1,
            member_id: String::new(),
            instance_id: None,
            offsets: vec![(
                "in".into(),
                0,
                CommittedOffset {
                    offset: 42,
                    leader_epoch: -1,
                    metadata: String::new(),
                },
            )],
            version: TxnVersion::V1,
        });
        assert_eq!(staged, ferrokafka_protocol::ErrorCode::NONE);
        broker.shutdown().await;
    }
    let broker = start_on(&dir.0).await;
    let state = broker.state();
    assert_eq!(
        state.end_txn("app-4", producer.0, producer.1, true, TxnVersion::V1),
        Err(ferrokafka_protocol::ErrorCode::PRODUCER_FENCED),
        "the commit after the restart is refused, not taken for a retry"
    );
    assert!(state
        .groups
        .committed_offsets("pipeline")
        .is_none_or(|o| o.is_empty()));
    broker.shutdown().await;
}
