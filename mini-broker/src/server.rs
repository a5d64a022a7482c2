//! The accept loop of each listener and one task per connection.
//!
//! A connection on an SSL or SASL_SSL listener first completes its TLS handshake, in its own
//! task and under a timeout, never in the accept loop. Then it reads a frame, parses the
//! header, hands the body to [`crate::handlers`], and writes the response, in order, as Kafka
//! does: a client may pipeline requests, and responses come back in the order the requests
//! arrived. A request with `acks=0` gets no response. Anything that makes the stream
//! untrustworthy (a bad length prefix, a header or body that does not parse, an API or version
//! we do not serve) closes that one connection with a log line; other connections are not
//! affected. Faults a test set ([`crate::Faults`]) are applied around the handling of a
//! request.
//!
//! On a SASL listener each frame first passes the connection's [`SaslSession`], which admits
//! only what authentication allows at that point, and authentication must finish before its
//! deadline. Until it does, frames are read exactly (never past the end of one) and bounded by
//! Kafka's `sasl.server.max.receive.size`, as Kafka's authenticator reads them; afterwards the
//! buffered [`FrameReader`] takes the stream over, with nothing read ahead in between. Every
//! close is logged at warn with the peer and the reason, and counted in
//! [`crate::ConnectionStats`].
//!
//! A connection that sends no request for `connections.max.idle.ms` while none of its
//! requests is being answered is closed, as Kafka closes idle connections; a long-polling
//! Fetch is a request being answered, not idleness. [`admission`] has the connection limit
//! and the pause after failed accepts.

mod admission;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use ferrokafka_protocol::frame::{check_length, FrameError, FrameReader, FrameWriter};
use ferrokafka_protocol::header::{
    encode_response_header, peek_correlation_id, response_header_version, RequestHeader,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit};
use tokio::task::JoinSet;

use crate::connection::ConnectionContext;
use crate::faults::{self, Faults};
use crate::handlers::fetch::Parts;
use crate::handlers::{self, Reply};
use crate::security::sasl::{self, Refusal, SaslSession, SaslSettings, TokenOutcome};
use crate::security::tls::{self, TlsServer};
use crate::security::SecurityProtocol;
use crate::state::{BrokerState, Endpoint};
pub(crate) use admission::ConnectionLimit;
use admission::{accept_failure_cause, peer_gone, AcceptBackoff};

/// Room for most responses' encoding; a Fetch response's records are not in it.
const HEAD_CAPACITY: usize = 512;

/// One listener's settings, shared by its connections.
#[derive(Debug)]
pub(crate) struct Listener {
    /// What the listener speaks.
    pub(crate) protocol: SecurityProtocol,
    /// The address its clients are told to use.
    pub(crate) endpoint: Endpoint,
    /// The TLS identity, on SSL and SASL_SSL listeners.
    tls: Option<TlsServer>,
    /// What authentication accepts, on SASL_PLAINTEXT and SASL_SSL listeners.
    sasl: Option<Arc<SaslSettings>>,
}

impl Listener {
    /// The settings of a listener speaking `protocol`; `tls` and `sasl` are dropped unless
    /// the protocol uses them.
    pub(crate) fn new(
        protocol: SecurityProtocol,
        endpoint: Endpoint,
        tls: Option<TlsServer>,
        sasl: SaslSettings,
    ) -> Self {
        Listener {
            protocol,
            endpoint,
            tls: tls.filter(|_| protocol.uses_tls()),
            sasl: protocol.uses_sasl().then(|| Arc::new(sasl)),
        }
    }

    /// A new connection's context; a SASL session's deadline starts now.
    fn connection(&self, peer: SocketAddr) -> ConnectionContext {
        let sasl = self
            .sasl
            .as_ref()
            .map(|settings| SaslSession::new(Arc::clone(settings), Instant::now()));
        ConnectionContext::new(self.protocol, self.endpoint.clone(), peer, sasl)
    }
}

/// Accepts connections until `shutdown` turns true, then closes them all and returns.
pub(crate) async fn run(
    tcp: TcpListener,
    listener: Arc<Listener>,
    state: Arc<BrokerState>,
    limit: Arc<ConnectionLimit>,
    faults: Faults,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    let for_connections = shutdown.clone();
    let mut backoff = AcceptBackoff::default();
    // Set after a failed accept: no accepting until then.
    let mut paused: Option<Instant> = None;
    loop {
        tokio::select! {
            accepted = tcp.accept(), if paused.is_none() => match accepted {
                Ok((stream, peer)) => {
                    if let Some((failures, lasted)) = backoff.succeeded(Instant::now()) {
                        tracing::info!(listener = %listener.protocol, failures, lasted_ms = lasted.as_millis(), "accepting connections again");
                    }
                    state.stats(|s| s.accepted += 1);
                    // Over the limit the stream is dropped here, which closes it.
                    let Some(slot) = limit.admit(peer, listener.protocol, &state) else {
                        continue;
                    };
                    let _ = stream.set_nodelay(true);
                    connections.spawn(start(
                        stream,
                        peer,
                        Arc::clone(&listener),
                        Arc::clone(&state),
                        faults.clone(),
                        for_connections.clone(),
                        slot,
                    ));
                }
                Err(err) if peer_gone(&err) => {
                    tracing::debug!(listener = %listener.protocol, %err, "a client left before its connection was accepted");
                }
                Err(err) => {
                    let pause = backoff.failed(Instant::now());
                    if let Some(left_out) = pause.log {
                        tracing::warn!(
                            listener = %listener.protocol,
                            %err,
                            pause_ms = pause.delay.as_millis(),
                            failures_since_last_line = left_out,
                            "accept failed: {}; pausing before accepting again, still serving open connections",
                            accept_failure_cause(&err)
                        );
                    }
                    paused = Some(Instant::now() + pause.delay);
                }
            },
            _ = until(paused), if paused.is_some() => paused = None,
            _ = shutdown.wait_for(|stop| *stop) => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(tcp);
    while connections.join_next().await.is_some() {}
    tracing::info!(listener = %listener.protocol, "listener stopped");
}

/// Runs the TLS handshake where the listener wants one, then serves the connection.
async fn start(
    stream: TcpStream,
    peer: SocketAddr,
    listener: Arc<Listener>,
    state: Arc<BrokerState>,
    faults: Faults,
    mut shutdown: watch::Receiver<bool>,
    // Held until the connection ends: its place under the connection limit.
    _slot: OwnedSemaphorePermit,
) {
    let Some(tls) = &listener.tls else {
        let (read, write) = stream.into_split();
        let conn = listener.connection(peer);
        return serve(read, write, conn, state, faults, shutdown).await;
    };
    let handshake = tokio::select! {
        handshake = tls.accept(stream, state.config.tls_handshake_timeout) => handshake,
        _ = shutdown.wait_for(|stop| *stop) => return,
    };
    match handshake {
        Ok(stream) => {
            let (read, write) = tokio::io::split(stream);
            let conn = listener.connection(peer);
            serve(read, write, conn, state, faults, shutdown).await;
        }
        Err(reason) => {
            tracing::warn!(%peer, listener = %listener.protocol, %reason, "closing connection");
            state.stats(|s| s.tls_failed += 1);
        }
    }
}

/// Why a connection is closed: what the log line says and which counter goes up.
#[derive(Debug)]
enum Close {
    /// Bad input: counted as rejected, or as a failed authentication before the client has
    /// authenticated.
    BadInput(String),
    /// The SASL exchange failed or was broken off by a request it does not allow.
    AuthFailed(String),
    /// Authentication did not finish in time.
    AuthTimedOut(String),
    /// The authenticated session expired and the client did not re-authenticate.
    Expired(String),
}

impl From<Refusal> for Close {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::Unexpected(reason) => Close::AuthFailed(reason),
            Refusal::Expired(reason) => Close::Expired(reason),
        }
    }
}

/// Logs and counts the end of a connection.
fn close(state: &BrokerState, conn: &ConnectionContext, cause: Close) {
    let principal = conn
        .sasl
        .as_ref()
        .and_then(SaslSession::identity)
        .map(|id| id.principal.as_str());
    let authenticating = conn.authenticating();
    let reason = match &cause {
        Close::BadInput(r) | Close::AuthFailed(r) | Close::AuthTimedOut(r) | Close::Expired(r) => r,
    };
    tracing::warn!(peer = %conn.peer, listener = %conn.protocol, ?principal, %reason, "closing connection");
    state.stats(|s| match cause {
        Close::BadInput(_) if authenticating => s.auth_failed += 1,
        Close::BadInput(_) => s.rejected += 1,
        Close::AuthFailed(_) => s.auth_failed += 1,
        Close::AuthTimedOut(_) => s.auth_timed_out += 1,
        Close::Expired(_) => s.sessions_expired += 1,
    });
}

/// Where a connection's frames come from: read exactly while SASL authentication is under way
/// (so that nothing is read ahead), then through the buffered [`FrameReader`].
enum Frames<R> {
    Exact { inner: R, max: usize },
    Buffered(FrameReader<R>),
}

impl<R: AsyncRead + Unpin> Frames<R> {
    fn new(inner: R, max: usize, sasl: bool) -> Self {
        if sasl {
            Frames::Exact {
                inner,
                max: max.min(sasl::MAX_RECEIVE_SIZE),
            }
        } else {
            Frames::Buffered(FrameReader::new(inner, max))
        }
    }

    /// Hands the stream to the buffered reader, with the full frame-size limit.
    fn buffered(self, max: usize) -> Self {
        match self {
            Frames::Exact { inner, .. } => Frames::Buffered(FrameReader::new(inner, max)),
            buffered => buffered,
        }
    }

    /// The next frame; `None` at a clean end of stream. Cancel-safe only when buffered; a
    /// cancelled exact read ends the connection anyway (deadline or shutdown).
    async fn read(&mut self) -> Result<Option<Bytes>, FrameError> {
        match self {
            Frames::Exact { inner, max } => read_exactly(inner, *max).await,
            Frames::Buffered(reader) => reader.read_frame().await,
        }
    }
}

/// Reads one frame without reading past its end; the body grows with the bytes that arrive.
async fn read_exactly<R: AsyncRead + Unpin>(
    inner: &mut R,
    max: usize,
) -> Result<Option<Bytes>, FrameError> {
    let mut prefix = Vec::with_capacity(4);
    let got = (&mut *inner).take(4).read_to_end(&mut prefix).await?;
    let prefix: [u8; 4] = match prefix.try_into() {
        Ok(prefix) => prefix,
        Err(_) if got == 0 => return Ok(None),
        Err(_) => return Err(FrameError::Truncated { buffered: got }),
    };
    let len = check_length(i32::from_be_bytes(prefix), max)?;
    let mut body = Vec::new();
    let got = (&mut *inner)
        .take(u64::try_from(len).unwrap_or(u64::MAX))
        .read_to_end(&mut body)
        .await?;
    if got < len {
        return Err(FrameError::Truncated { buffered: 4 + got });
    }
    Ok(Some(Bytes::from(body)))
}

/// The API key and version at the start of a request header; -1 for what is not there.
fn peek_api(frame: &[u8]) -> (i16, i16) {
    let field = |at: usize| {
        frame
            .get(at..at + 2)
            .and_then(|b| <[u8; 2]>::try_from(b).ok())
            .map_or(-1, i16::from_be_bytes)
    };
    (field(0), field(2))
}

/// Resolves at `deadline`, or never without one.
async fn until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

async fn serve<R, W>(
    read: R,
    write: W,
    mut conn: ConnectionContext,
    state: Arc<BrokerState>,
    faults: Faults,
    mut shutdown: watch::Receiver<bool>,
) where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let peer = conn.peer;
    let max = state.config.max_frame_size;
    let mut frames = Frames::new(read, max, conn.sasl.is_some());
    let mut writer = FrameWriter::new(write);
    loop {
        if !conn.authenticating() {
            frames = frames.buffered(max);
        }
        let deadline = conn.sasl.as_ref().and_then(SaslSession::deadline);
        // Idle from now: no request of this connection is being answered.
        let idle = Some(state.config.connections_max_idle).filter(|d| !d.is_zero());
        let frame = tokio::select! {
            frame = frames.read() => frame,
            _ = until(deadline) => {
                let limit = state.config.sasl_auth_timeout.as_millis();
                let reason = format!("SASL authentication did not complete within {limit} ms");
                return close(&state, &conn, Close::AuthTimedOut(reason));
            }
            _ = until(idle.map(|d| Instant::now() + d)) => {
                let idle_ms = state.config.connections_max_idle.as_millis();
                tracing::info!(%peer, listener = %conn.protocol, idle_ms, "closing idle connection (connections.max.idle.ms)");
                state.stats(|s| s.idle_closed += 1);
                return;
            }
            _ = shutdown.wait_for(|stop| *stop) => return,
        };
        let frame = match frame {
            Ok(Some(frame)) => frame,
            Ok(None) => return,
            // The peer went away (reset, broken pipe): not bad input, just goodbye.
            Err(FrameError::Io(err)) => {
                tracing::debug!(%peer, %err, "connection lost");
                return;
            }
            Err(err) => {
                let reason = format!("bad frame: {err}{}", tls_hint(&err));
                return close(&state, &conn, Close::BadInput(reason));
            }
        };
        if conn.authenticating() && frame.len() > sasl::MAX_RECEIVE_SIZE {
            // Only re-authentication gets here: before, the exact reader enforces the limit.
            let reason = format!(
                "a {} byte frame during SASL authentication exceeds sasl.server.max.receive.size ({})",
                frame.len(),
                sasl::MAX_RECEIVE_SIZE
            );
            return close(&state, &conn, Close::AuthFailed(reason));
        }
        let response = match conn.sasl.as_mut() {
            Some(session) if session.expects_raw_token() => raw_token(session, frame).await,
            _ => {
                if let Some(session) = conn.sasl.as_mut() {
                    let (api_key, api_version) = peek_api(&frame);
                    if let Err(refusal) = session.admit(api_key, api_version, Instant::now()) {
                        return close(&state, &conn, refusal.into());
                    }
                }
                let fault = faults.on_request(&frame);
                let response = tokio::select! {
                    response = faults::apply(fault, respond(&state, &mut conn, frame)) => response,
                    _ = shutdown.wait_for(|stop| *stop) => return,
                };
                let Some(response) = response else {
                    tracing::info!(%peer, "closing connection: injected fault");
                    return;
                };
                response
            }
        };
        match response {
            Ok(Some(parts)) => {
                if let Err(err) = writer.write_frame_parts(&parts).await {
                    tracing::debug!(%peer, %err, "connection closed while writing");
                    return;
                }
            }
            Ok(None) => {}
            Err(reason) => return close(&state, &conn, Close::BadInput(reason)),
        }
        if let Err(cause) = after_answer(&state, &mut conn) {
            return close(&state, &conn, cause);
        }
    }
}

/// After an answer went out: a failed SASL exchange ends the connection (Kafka closes once
/// the failure is told); a completed one is logged and counted.
fn after_answer(state: &BrokerState, conn: &mut ConnectionContext) -> Result<(), Close> {
    let Some(session) = conn.sasl.as_mut() else {
        return Ok(());
    };
    if let Some(reason) = session.failure() {
        return Err(Close::AuthFailed(reason.to_owned()));
    }
    if session.take_completed() {
        if let Some(id) = session.identity() {
            tracing::info!(peer = %conn.peer, listener = %conn.protocol, principal = %id.principal, mechanism = %id.mechanism, "authenticated");
        }
        state.stats(|s| s.authenticated += 1);
    }
    Ok(())
}

/// A bare SASL token after a v0 SaslHandshake: the answer is a bare token too. A refusal has
/// no way to be told, so the session's failure closes the connection.
async fn raw_token(session: &mut SaslSession, token: Bytes) -> Result<Option<Parts>, String> {
    match session.token(token).await {
        TokenOutcome::Challenge(token) | TokenOutcome::Complete { token, .. } => {
            Ok(Some(vec![Bytes::from(token)]))
        }
        TokenOutcome::Failed(_) => Ok(None),
        TokenOutcome::NotExpected => Err("a bare SASL token was not expected".to_owned()),
    }
}

/// Turns one request frame into the parts of its response frame (without the length prefix),
/// `None` when the request wants no response, or the reason to close the connection.
async fn respond(
    state: &BrokerState,
    conn: &mut ConnectionContext,
    frame: Bytes,
) -> Result<Option<Parts>, String> {
    let correlation = peek_correlation_id(&frame);
    let mut body = frame;
    let header = RequestHeader::decode(&mut body)
        .map_err(|err| format!("unreadable request header (correlation {correlation:?}): {err}"))?;
    let reply = match handlers::dispatch(state, conn, &header, body).await {
        Ok(reply) => reply,
        Err(err) => {
            return Err(format!(
                "{err} (api key {}, version {}, correlation {}, client {:?})",
                header.api_key, header.api_version, header.correlation_id, header.client_id
            ))
        }
    };
    let version = match &reply {
        Reply::Response { version, .. } | Reply::Fetch { version, .. } => *version,
        Reply::None => return Ok(None),
    };
    let mut out = BytesMut::with_capacity(HEAD_CAPACITY);
    let header_version = response_header_version(header.api_key, version);
    encode_response_header(header.correlation_id, header_version, &mut out);
    let encoded = match reply {
        Reply::Fetch { output, .. } => output.encode(version, out),
        Reply::Response { body, .. } => body
            .encode(&mut out, version)
            .map(|()| vec![out.freeze()])
            .map_err(|err| err.to_string()),
        Reply::None => return Ok(None),
    };
    encoded.map(Some).map_err(|err| {
        // Our own response failed to encode: a bug, but the connection can't continue.
        tracing::error!(api_key = header.api_key, version, %err, "response encoding failed");
        format!("could not encode response: {err}")
    })
}

/// A note for the log when a bad length prefix is really the start of a TLS handshake: a TLS
/// client on a plaintext port.
fn tls_hint(err: &FrameError) -> &'static str {
    match err {
        FrameError::TooLarge { len, .. } => {
            let first = [(len >> 24) as u8, (len >> 16) as u8];
            if tls::looks_like_tls(first) {
                " (the peer speaks TLS: use the SSL or SASL_SSL listener)"
            } else {
                ""
            }
        }
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_hello_read_as_a_length_is_recognised() {
        let hello = i32::from_be_bytes([0x16, 0x03, 0x01, 0x02]);
        let err = ferrokafka_protocol::frame::check_length(hello, 1 << 20).unwrap_err();
        assert!(tls_hint(&err).contains("TLS"));
        let other = ferrokafka_protocol::frame::check_length(0x7fff_ffff, 1 << 20).unwrap_err();
        assert_eq!(tls_hint(&other), "");
    }
}
