//! The accept loop and one task per connection.
//!
//! A connection reads a frame, parses the header, hands the body to [`crate::handlers`], and
//! writes the response, in order, as Kafka does: a client may pipeline requests, and responses
//! come back in the order the requests arrived. A request with `acks=0` gets no response.
//! Anything that makes the stream untrustworthy (a bad length prefix, a header or body that
//! does not parse, an API or version we do not serve) closes that one connection with a log
//! line; other connections are not affected. Faults a test set ([`crate::Faults`]) are applied
//! around the handling of a request.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use ferrokafka_protocol::frame::{FrameError, FrameReader, FrameWriter};
use ferrokafka_protocol::header::{
    encode_response_header, peek_correlation_id, response_header_version, RequestHeader,
};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::faults::{self, Faults};
use crate::handlers::fetch::Parts;
use crate::handlers::{self, Reply};
use crate::state::BrokerState;

/// Room for most responses' encoding; a Fetch response's records are not in it.
const HEAD_CAPACITY: usize = 512;

/// Accepts connections until `shutdown` turns true, then closes them all and returns.
pub(crate) async fn run(
    listener: TcpListener,
    state: Arc<BrokerState>,
    faults: Faults,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    let for_connections = shutdown.clone();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    state.stats(|s| s.accepted += 1);
                    let _ = stream.set_nodelay(true);
                    let state = Arc::clone(&state);
                    let faults = faults.clone();
                    connections.spawn(serve(stream, peer, state, faults, for_connections.clone()));
                }
                // Running out of file descriptors and the like: keep serving the others.
                Err(err) => tracing::warn!(%err, "accept failed"),
            },
            _ = shutdown.wait_for(|stop| *stop) => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    while connections.join_next().await.is_some() {}
    tracing::info!("mini-broker stopped");
}

async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    state: Arc<BrokerState>,
    faults: Faults,
    mut shutdown: watch::Receiver<bool>,
) {
    let (read, write) = stream.into_split();
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
                tracing::warn!(%peer, %err, "closing connection: bad frame");
                state.stats(|s| s.rejected += 1);
                return;
            }
        };
        let fault = faults.on_request(&frame);
        let response = tokio::select! {
            response = faults::apply(fault, respond(&state, frame)) => response,
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
async fn respond(state: &BrokerState, frame: Bytes) -> Result<Option<Parts>, String> {
    let correlation = peek_correlation_id(&frame);
    let mut body = frame;
    let header = RequestHeader::decode(&mut body)
        .map_err(|err| format!("unreadable request header (correlation {correlation:?}): {err}"))?;
    let reply = match handlers::dispatch(state, &header, body).await {
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
