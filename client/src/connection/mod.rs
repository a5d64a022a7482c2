//! One connection to one broker, with typed, pipelined, cancel-safe requests.
//!
//! [`Connection::connect`] dials (TCP, and TLS when configured: `transport.rs`), starts the
//! writer and reader tasks (`pipeline.rs`), negotiates API versions (`negotiate.rs`) and, when
//! configured, authenticates with SASL and keeps re-authenticating (`sasl.rs`). [`Connection::send`] then picks the negotiated
//! version for the request's API key, encodes header and body, and decodes the response after
//! [`ferrokafka_protocol::wire_check`] has checked that every count in it is backed by bytes.
//!
//! Every public future here is cancel-safe: dropping it never leaves half a frame on the socket
//! (the writer task owns the socket). A malformed response, an I/O error, an unknown
//! correlation id or a request timeout kills the connection; every request still pending on it
//! fails with the retriable [`Error::Disconnected`], and the owner (usually the pool in
//! [`crate::Client`]) opens a new one.
//!
//! What not: no retries (callers decide, knowing whether a request is idempotent), no
//! reconnect (a `Connection` is one socket's lifetime).

pub mod backoff;
mod negotiate;
mod pipeline;
pub(crate) mod pool;
mod sasl;
mod transport;

use std::sync::Arc;

use kafka_protocol::messages::ApiKey;
use kafka_protocol::protocol::Request;

pub use negotiate::NegotiatedVersions;
use pipeline::{Gate, Pipeline};

use crate::config::ClientConfig;
use crate::error::Error;

/// A live (or dead) connection to one broker.
#[derive(Debug)]
pub struct Connection {
    /// Shared (weakly) with the re-authentication task of a SASL connection.
    pipeline: Arc<Pipeline>,
    versions: NegotiatedVersions,
}

impl Connection {
    /// Dials `addr` (`host:port`), negotiates versions, and authenticates when
    /// `security.protocol` asks for SASL.
    ///
    /// TCP connect and TLS handshake are bounded by `socket.connection.setup.timeout.ms`, each
    /// request of the ApiVersions and SASL exchanges by `request.timeout.ms`. Cancel-safe: a
    /// dropped call closes the half-made connection.
    pub async fn connect(addr: &str, config: &ClientConfig) -> Result<Connection, Error> {
        let security = &config.security;
        let credentials = if security.protocol.uses_sasl() {
            Some(security.sasl.credentials()?)
        } else {
            None
        };
        let stream = transport::connect(addr, config).await?;
        let pipeline = Arc::new(Pipeline::start(
            stream,
            addr,
            &config.client_id,
            config.max_in_flight_per_connection,
            config.request_timeout,
            credentials.is_some(),
        ));
        let versions = match negotiate::negotiate(&pipeline).await {
            Ok(versions) => versions,
            Err(err) => {
                pipeline.close("version negotiation failed").await;
                return Err(err);
            }
        };
        if let Some(credentials) = credentials {
            match sasl::authenticate(&pipeline, &versions, &credentials, Gate::Pass).await {
                Ok(Some(lifetime)) => sasl::spawn_reauthentication(
                    Arc::downgrade(&pipeline),
                    versions.clone(),
                    credentials,
                    lifetime,
                ),
                Ok(None) => {}
                Err(err) => {
                    pipeline.close("authentication failed").await;
                    return Err(err);
                }
            }
        }
        tracing::debug!(broker = addr, protocol = %security.protocol, ?versions, "connected");
        Ok(Connection { pipeline, versions })
    }

    /// `host:port` this connection was dialled at.
    pub fn broker(&self) -> &str {
        self.pipeline.broker()
    }

    /// The versions settled with this broker.
    pub fn versions(&self) -> &NegotiatedVersions {
        &self.versions
    }

    /// The version [`Connection::send`] uses for `api`, if the broker speaks it.
    pub fn api_version(&self, api: ApiKey) -> Option<i16> {
        self.versions.get(api)
    }

    /// Sends `request` at the negotiated version and waits for its response.
    ///
    /// The whole exchange (waiting for an in-flight slot, the write, the response) is bounded
    /// by `request.timeout.ms`. Cancel-safe; see the module docs.
    pub async fn send<R: Request>(&self, request: R) -> Result<R::Response, Error> {
        self.send_with(|_| request).await
    }

    /// Like [`Connection::send`], for requests whose fields depend on the version: `build`
    /// gets the negotiated version.
    pub async fn send_with<R, F>(&self, build: F) -> Result<R::Response, Error>
    where
        R: Request,
        F: FnOnce(i16) -> R,
    {
        let (api, version) = self.pick::<R>()?;
        self.pipeline
            .call(api, version, &build(version), Gate::Pass)
            .await
    }

    /// Like [`Connection::send_with`], at no higher version than `max`: for APIs whose newer
    /// versions are a different request (AddPartitionsToTxn v4+ is the brokers' batched form).
    pub async fn send_capped<R, F>(&self, max: i16, build: F) -> Result<R::Response, Error>
    where
        R: Request,
        F: FnOnce(i16) -> R,
    {
        let (api, version) = self.pick::<R>()?;
        let version = version.min(max);
        self.pipeline
            .call(api, version, &build(version), Gate::Pass)
            .await
    }

    /// Sends a request that the broker does not answer (Produce with `acks=0`); resolves once
    /// the frame is flushed to the socket, bounded by `request.timeout.ms`.
    ///
    /// Using this for a request that does get a response kills the connection when the
    /// response arrives (its correlation id is unknown).
    pub async fn send_without_response<R: Request>(&self, request: R) -> Result<(), Error> {
        let (api, version) = self.pick::<R>()?;
        let (_, frame) = self.pipeline.encode(api, version, &request)?;
        self.pipeline.send_only(api, version, frame).await
    }

    /// True once the connection is dead; it never comes back.
    pub fn is_dead(&self) -> bool {
        self.pipeline.is_dead()
    }

    /// How many requests are in flight on it now: the load that [`crate::Client`] compares
    /// when any broker may answer a request.
    pub fn in_flight(&self) -> usize {
        self.pipeline.in_flight()
    }

    /// Resolves once the connection is dead, with the reason.
    pub async fn closed(&self) -> String {
        self.pipeline.closed().await
    }

    /// Closes the connection: pending requests fail with [`Error::Disconnected`].
    pub async fn close(&self) {
        self.pipeline.close("closed by the client").await;
    }

    fn pick<R: Request>(&self) -> Result<(ApiKey, i16), Error> {
        let unsupported = || Error::UnsupportedApi {
            broker: self.broker().to_owned(),
            api: ApiKey::try_from(R::KEY)
                .map_or_else(|()| format!("api key {}", R::KEY), |k| format!("{k:?}")),
        };
        let api = ApiKey::try_from(R::KEY).map_err(|()| unsupported())?;
        let version = self.versions.get(api).ok_or_else(unsupported)?;
        Ok((api, version))
    }
}
