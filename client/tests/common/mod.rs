//! Shared test helpers: configs, waiting on conditions with a deadline, and a scripted fake
//! broker that speaks raw bytes for the misbehaviour the mini-broker will never show.

#![allow(dead_code)] // each test binary uses a different subset

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use ferrokafka::ClientConfig;
use ferrokafka_protocol::frame::{FrameReader, FrameWriter, DEFAULT_MAX_FRAME_SIZE};
use ferrokafka_protocol::header::{encode_response_header, response_header_version, RequestHeader};
use ferrokafka_protocol::versions::SUPPORTED;
use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::{ApiKey, ApiVersionsResponse};
use kafka_protocol::protocol::Encodable;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// How long any test waits for a condition before failing.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// A config for `bootstrap` with short timeouts, so failures show quickly.
pub fn config(bootstrap: &str) -> ClientConfig {
    ClientConfig::builder()
        .bootstrap_servers([bootstrap])
        .client_id("ferrokafka-tests")
        .request_timeout(Duration::from_secs(5))
        .build()
        .expect("valid config")
}

/// Polls `condition` until it holds, failing the test after [`DEADLINE`].
pub async fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + DEADLINE;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Awaits `fut`, failing the test after [`DEADLINE`].
pub async fn within<F: Future>(what: &str, fut: F) -> F::Output {
    match tokio::time::timeout(DEADLINE, fut).await {
        Ok(out) => out,
        Err(_) => panic!("timed out waiting for {what}"),
    }
}

/// A fake broker on 127.0.0.1 that accepts one connection and runs `script` on it.
pub struct FakeBroker {
    pub addr: SocketAddr,
    pub task: JoinHandle<()>,
}

impl FakeBroker {
    pub async fn start<F, Fut>(script: F) -> FakeBroker
    where
        F: FnOnce(RawConn) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let task = tokio::spawn(async move {
            let (stream, _) = listener.accept().await.expect("accept");
            let (read, write) = stream.into_split();
            script(RawConn {
                reader: FrameReader::new(read, DEFAULT_MAX_FRAME_SIZE),
                writer: FrameWriter::new(write),
            })
            .await;
        });
        FakeBroker { addr, task }
    }

    pub fn bootstrap(&self) -> String {
        self.addr.to_string()
    }
}

/// The broker side of one connection.
pub struct RawConn {
    reader: FrameReader<OwnedReadHalf>,
    pub writer: FrameWriter<OwnedWriteHalf>,
}

impl RawConn {
    /// Reads one request; `None` when the client closed the connection.
    pub async fn read_request(&mut self) -> Option<(RequestHeader, Bytes)> {
        let mut frame = self.reader.read_frame().await.ok()??;
        let header = RequestHeader::decode(&mut frame).expect("request header");
        Some((header, frame))
    }

    /// Answers `request` with `body` (already encoded), using the right header version.
    pub async fn respond(&mut self, request: &RequestHeader, body: &[u8]) {
        let hv = response_header_version(request.api_key, request.api_version);
        self.respond_as(request.correlation_id, hv, body).await;
    }

    /// Answers with any correlation id and header version.
    pub async fn respond_as(&mut self, correlation_id: i32, header_version: i16, body: &[u8]) {
        let mut out = BytesMut::new();
        encode_response_header(correlation_id, header_version, &mut out);
        out.extend_from_slice(body);
        self.writer.write_frame(&out).await.expect("write response");
    }

    /// Writes raw bytes, length prefixes and all.
    pub async fn write_raw(&mut self, bytes: &[u8]) {
        self.writer.write_encoded(bytes).await.expect("write raw");
    }

    /// Reads the client's ApiVersions request and answers it with every API we speak.
    pub async fn handshake(&mut self) {
        let ranges: Vec<(i16, i16, i16)> = SUPPORTED
            .iter()
            .map(|r| (r.key as i16, r.min, r.max))
            .collect();
        self.handshake_with(&ranges).await;
    }

    /// Reads the client's ApiVersions request and answers with `ranges` as `(key, min, max)`.
    pub async fn handshake_with(&mut self, ranges: &[(i16, i16, i16)]) {
        let (header, _) = self.read_request().await.expect("ApiVersions request");
        assert_eq!(header.api_key, ApiKey::ApiVersions as i16);
        let body = api_versions(0, ranges, header.api_version);
        self.respond(&header, &body).await;
    }

    /// Waits until the client closes the connection (or sends garbage), reading and
    /// discarding anything it sends.
    pub async fn until_closed(mut self) {
        while self.read_request().await.is_some() {}
    }
}

/// An ApiVersions response body listing `ranges`, encoded at `version`.
pub fn api_versions(error_code: i16, ranges: &[(i16, i16, i16)], version: i16) -> Vec<u8> {
    let response = ApiVersionsResponse::default()
        .with_error_code(error_code)
        .with_api_keys(
            ranges
                .iter()
                .map(|(key, min, max)| {
                    ApiVersion::default()
                        .with_api_key(*key)
                        .with_min_version(*min)
                        .with_max_version(*max)
                })
                .collect(),
        );
    encode(&response, version)
}

/// Encodes any message body at `version`.
pub fn encode<M: Encodable>(message: &M, version: i16) -> Vec<u8> {
    let mut out = BytesMut::new();
    message.encode(&mut out, version).expect("encode");
    out.to_vec()
}
