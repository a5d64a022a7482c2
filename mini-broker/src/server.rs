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
use crate::handlers::{self, Reply};
use crate::state::BrokerState;
use kafka_protocol::messages::ResponseKind;

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
            Ok(Some(bytes)) => {
                if let Err(err) = writer.write_frame(&bytes).await {
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

/// Room for a response's encoding up front: a Fetch response is mostly its record bytes, and a
/// buffer grown by doubling from a small start would copy them several times over.
fn capacity_hint(response: &ResponseKind) -> usize {
    const OVERHEAD: usize = 256;
    const PER_PARTITION: usize = 64;
    match response {
        ResponseKind::Fetch(fetch) => fetch
            .responses
            .iter()
            .flat_map(|t| &t.partitions)
            .map(|p| PER_PARTITION + p.records.as_ref().map_or(0, Bytes::len))
            .fold(OVERHEAD, usize::saturating_add),
        _ => OVERHEAD,
    }
}

/// Turns one request frame into the bytes of its response frame (without the length prefix),
/// `None` when the request wants no response, or the reason to close the connection.
async fn respond(state: &BrokerState, frame: Bytes) -> Result<Option<BytesMut>, String> {
    let correlation = peek_correlation_id(&frame);
    let mut body = frame;
    let header = RequestHeader::decode(&mut body)
        .map_err(|err| format!("unreadable request header (correlation {correlation:?}): {err}"))?;
    let (version, response) = match handlers::dispatch(state, &header, body).await {
        Ok(Reply::Response { version, body }) => (version, body),
        Ok(Reply::None) => return Ok(None),
        Err(err) => {
            return Err(format!(
                "{err} (api key {}, version {}, correlation {}, client {:?})",
                header.api_key, header.api_version, header.correlation_id, header.client_id
            ))
        }
    };
    let mut out = BytesMut::with_capacity(capacity_hint(&response));
    let header_version = response_header_version(header.api_key, version);
    encode_response_header(header.correlation_id, header_version, &mut out);
    response.encode(&mut out, version).map_err(|err| {
        // Our own response failed to encode: a bug, but the connection can't continue.
        tracing::error!(api_key = header.api_key, version, %err, "response encoding failed");
        format!("could not encode response: {err}")
    })?;
    Ok(Some(out))
}
