//! The accept loop of each listener and one task per connection.
//!
//! A connection on an SSL or SASL_SSL listener first completes its TLS handshake, in its own
//! task and under a timeout, never in the accept loop. Then it reads a frame, parses the header, hands the body to [`crate::handlers`], and
//! writes the response, in order, as Kafka does: a client may pipeline requests, and responses
//! come back in the order the requests arrived. A request with `acks=0` gets no response.
//! Anything that makes the stream untrustworthy (a bad length prefix, a header or body that
//! does not parse, an API or version we do not serve) closes that one connection with a log
//! line; other connections are not affected. Faults a test set ([`crate::Faults`]) are applied
//! around the handling of a request.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use ferrokafka_protocol::frame::{FrameError, FrameReader, FrameWriter};
use ferrokafka_protocol::header::{
    encode_response_header, peek_correlation_id, response_header_version, RequestHeader,
};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::connection::ConnectionContext;
use crate::faults::{self, Faults};
use crate::handlers::fetch::Parts;
use crate::handlers::{self, Reply};
use crate::security::tls::{self, TlsServer};
use crate::security::SecurityProtocol;
use crate::state::{BrokerState, Endpoint};

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
}

impl Listener {
    /// The settings of a listener speaking `protocol`; `tls` is dropped unless it uses TLS.
    pub(crate) fn new(
        protocol: SecurityProtocol,
        endpoint: Endpoint,
        tls: Option<TlsServer>,
    ) -> Self {
        Listener {
            protocol,
            endpoint,
            tls: tls.filter(|_| protocol.uses_tls()),
        }
    }
}

/// Accepts connections until `shutdown` turns true, then closes them all and returns.
pub(crate) async fn run(
    tcp: TcpListener,
    listener: Arc<Listener>,
    state: Arc<BrokerState>,
    faults: Faults,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    let for_connections = shutdown.clone();
    loop {
        tokio::select! {
            accepted = tcp.accept() => match accepted {
                Ok((stream, peer)) => {
                    state.stats(|s| s.accepted += 1);
                    let _ = stream.set_nodelay(true);
                    let conn = ConnectionContext::new(
                        listener.protocol,
                        listener.endpoint.clone(),
                        peer,
                    );
                    connections.spawn(start(
                        stream,
                        conn,
                        Arc::clone(&listener),
                        Arc::clone(&state),
                        faults.clone(),
                        for_connections.clone(),
                    ));
                }
                // Running out of file descriptors and the like: keep serving the others.
                Err(err) => tracing::warn!(listener = %listener.protocol, %err, "accept failed"),
            },
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
    conn: ConnectionContext,
    listener: Arc<Listener>,
    state: Arc<BrokerState>,
    faults: Faults,
    mut shutdown: watch::Receiver<bool>,
) {
    let Some(tls) = &listener.tls else {
        let (read, write) = stream.into_split();
        return serve(read, write, conn, state, faults, shutdown).await;
    };
    let handshake = tokio::select! {
        handshake = tls.accept(stream, state.config.tls_handshake_timeout) => handshake,
        _ = shutdown.wait_for(|stop| *stop) => return,
    };
    match handshake {
        Ok(stream) => {
            let (read, write) = tokio::io::split(stream);
            serve(read, write, conn, state, faults, shutdown).await;
        }
        Err(reason) => {
            tracing::warn!(peer = %conn.peer, listener = %conn.protocol, %reason, "closing connection");
            state.stats(|s| s.tls_failed += 1);
        }
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
    let mut reader = FrameReader::new(read, state.config.max_frame_size);
    let mut writer = FrameWriter::new(write);
    loop {
        let frame = tokio::select! {
            frame = reader.read_frame() => frame,
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
                let hint = tls_hint(&err);
                tracing::warn!(%peer, listener = %conn.protocol, %err, "closing connection: bad frame{hint}");
                state.stats(|s| s.rejected += 1);
                return;
            }
        };
        let fault = faults.on_request(&frame);
        let response = tokio::select! {
            response = faults::apply(fault, respond(&state, &mut conn, frame)) => response,
            _ = shutdown.wait_for(|stop| *stop) => return,
        };
        let Some(response) = response else {
            tracing::info!(%peer, "closing connection: injected fault");
            return;
        };
        match response {
            Ok(Some(parts)) => {
                if let Err(err) = writer.write_frame_parts(&parts).await {
                    tracing::debug!(%peer, %err, "connection closed while writing");
                    return;
                }
            }
            Ok(None) => {}
            Err(reason) => {
                tracing::warn!(%peer, %reason, "closing connection");
                state.stats(|s| s.rejected += 1);
                return;
            }
        }
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
