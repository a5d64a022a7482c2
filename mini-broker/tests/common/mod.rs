//! A raw Kafka connection for broker tests: it writes exactly the bytes a test gives it, so
//! tests can send what no well-behaved client would.

#![allow(dead_code)]

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use ferrokafka_protocol::frame::{encode_frame, FrameReader};
use ferrokafka_protocol::header::{decode_response_header, response_header_version, RequestHeader};
use ferrokafka_protocol::record::{BatchBuilder, RecordBatch, RecordInput};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    FetchRequest, FetchResponse, InitProducerIdRequest, ProduceRequest, ProduceResponse,
    ProducerId, TopicName,
};
use kafka_protocol::protocol::{Decodable, Request, StrBytes};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

pub mod tls;

/// How long any single step of a test may take before it fails.
pub const STEP: Duration = Duration::from_secs(10);

/// A raw connection over plain TCP or, for the secured listeners, TLS.
pub struct RawConn<S = TcpStream> {
    stream: FrameReader<S>,
    next_correlation: i32,
}

impl RawConn {
    pub async fn connect(addr: &str) -> RawConn {
        let stream = TcpStream::connect(addr).await.expect("connect");
        RawConn::over(stream)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> RawConn<S> {
    /// A raw connection over an already connected stream.
    pub fn over(stream: S) -> RawConn<S> {
        RawConn {
            stream: FrameReader::new(stream, 64 << 20),
            next_correlation: 1,
        }
    }

    /// Writes raw bytes, prefix and all.
    pub async fn write_raw(&mut self, bytes: &[u8]) {
        self.stream.get_mut().write_all(bytes).await.expect("write");
    }

    /// Writes a frame made of a request header for `(key, version)` and `body`.
    pub async fn send_raw(&mut self, key: i16, version: i16, body: &[u8]) -> i32 {
        let correlation_id = self.next_correlation;
        self.next_correlation += 1;
        let mut payload = BytesMut::new();
        RequestHeader {
            api_key: key,
            api_version: version,
            correlation_id,
            client_id: Some("raw".into()),
        }
        .encode(&mut payload);
        payload.extend_from_slice(body);
        let mut frame = BytesMut::new();
        encode_frame(&payload, &mut frame);
        self.write_raw(&frame).await;
        correlation_id
    }

    /// Sends a typed request and returns its decoded response.
    pub async fn request<R: Request>(&mut self, version: i16, req: &R) -> R::Response {
        let mut body = BytesMut::new();
        req.encode(&mut body, version).expect("encode");
        let correlation = self.send_raw(R::KEY, version, &body).await;
        let mut frame = self.read_frame().await.expect("response expected");
        let hv = response_header_version(R::KEY, version);
        assert_eq!(
            decode_response_header(&mut frame, hv).expect("header"),
            correlation
        );
        R::Response::decode(&mut frame, version).expect("decode")
    }

    /// The next response frame, or `None` if the broker closed the connection.
    pub async fn read_frame(&mut self) -> Option<Bytes> {
        tokio::time::timeout(STEP, self.stream.read_frame())
            .await
            .expect("broker neither answered nor closed")
            .ok()
            .flatten()
    }

    /// The stream under the frames, to write what no framing would.
    pub fn stream_mut(&mut self) -> &mut S {
        self.stream.get_mut()
    }

    /// Waits until the broker closes the connection, failing if it sends anything instead.
    pub async fn expect_closed(&mut self) {
        let mut buf = [0u8; 64];
        let n = tokio::time::timeout(STEP, self.stream.get_mut().read(&mut buf))
            .await
            .expect("broker did not close the connection");
        assert!(
            matches!(n, Ok(0) | Err(_)),
            "expected a close, got {n:?} bytes"
        );
    }
}

/// A batch of `n` records with keys `k0..` and values `v0..`.
pub fn batch(n: usize) -> Bytes {
    let mut b = BatchBuilder::new();
    for i in 0..n {
        b.push(RecordInput {
            timestamp: 1_700_000_000_000 + i as i64,
            key: Some(Bytes::from(format!("k{i}"))),
            value: Some(Bytes::from(format!("v{i}"))),
            headers: Vec::new(),
        })
        .expect("push");
    }
    b.build().expect("build")
}

pub fn produce_request(topic: &str, partition: i32, records: Bytes) -> ProduceRequest {
    ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(5000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(TopicName(StrBytes::from_string(topic.into())))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(partition)
                .with_records(Some(records))])])
}

pub fn fetch_request(topic: &str, partition: i32, offset: i64) -> FetchRequest {
    FetchRequest::default()
        .with_max_wait_ms(0)
        .with_max_bytes(1 << 20)
        .with_topics(vec![FetchTopic::default()
            .with_topic(TopicName(StrBytes::from_string(topic.into())))
            .with_partitions(vec![FetchPartition::default()
                .with_partition(partition)
                .with_fetch_offset(offset)
                .with_partition_max_bytes(1 << 20)])])
}

/// The partition-level result of a one-partition produce.
pub fn produce_result(resp: &ProduceResponse) -> (i16, i64) {
    let p = &resp.responses[0].partition_responses[0];
    (p.error_code, p.base_offset)
}

/// All record values of a one-partition fetch response.
pub fn fetched_values(resp: &FetchResponse) -> Vec<Bytes> {
    let p = &resp.responses[0].partitions[0];
    assert_eq!(p.error_code, 0, "fetch error");
    let mut values = Vec::new();
    for batch in RecordBatch::iter_blob(p.records.clone().unwrap_or_default()) {
        let batch = batch.expect("batch");
        for record in batch.records().expect("records") {
            values.push(record.expect("record").value.expect("value"));
        }
    }
    values
}

/// An idempotent batch of `n` records valued `"{tag}-0"..` stamped `1_700_000_000_000 + i`,
/// starting at sequence `seq`.
pub fn idem(producer: (i64, i16), seq: i32, n: usize, tag: &str) -> Bytes {
    let mut b = BatchBuilder::new()
        .producer(producer.0, producer.1)
        .base_sequence(seq);
    for i in 0..n {
        b.push(RecordInput {
            timestamp: 1_700_000_000_000 + i as i64,
            value: Some(Bytes::from(format!("{tag}-{i}"))),
            ..Default::default()
        })
        .expect("push");
    }
    b.build().expect("build")
}

/// A fresh idempotent producer id and epoch, from this broker (no retries: the mini-broker
/// answers InitProducerId at once).
pub async fn init_producer(conn: &mut RawConn) -> (i64, i16) {
    let req = InitProducerIdRequest::default()
        .with_transactional_id(None)
        .with_transaction_timeout_ms(60_000)
        .with_producer_id(ProducerId(-1))
        .with_producer_epoch(-1);
    let resp = conn.request(4, &req).await;
    assert_eq!(resp.error_code, 0, "InitProducerId");
    (resp.producer_id.0, resp.producer_epoch)
}

/// Proves the broker still serves a well-behaved client: a fresh connection produces three
/// records and reads them back.
pub async fn still_serves(addr: &str, topic: &str) {
    let mut conn = RawConn::connect(addr).await;
    produces_and_fetches(&mut conn, topic).await;
}

/// Produces three records on `conn` and reads them back.
pub async fn produces_and_fetches<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut RawConn<S>,
    topic: &str,
) {
    let (code, base) = produce_result(&conn.request(9, &produce_request(topic, 0, batch(3))).await);
    assert_eq!(code, 0, "produce after bad input failed");
    let fetched = fetched_values(&conn.request(12, &fetch_request(topic, 0, base)).await);
    let want: Vec<Bytes> = (0..3).map(|i| Bytes::from(format!("v{i}"))).collect();
    assert_eq!(fetched, want);
}

/// Waits until `condition` holds, failing after [`STEP`]; `what` names it in the failure.
pub async fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + STEP;
    while !condition() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
