//! Dialling a broker: TCP, then TLS when `security.protocol` says so. The result is the one
//! transport seam ([`Stream`]) the pipeline splits and frames; nothing above it knows which
//! kind of stream it has. SASL runs later, as Kafka requests on the pipeline (`sasl.rs`).
//!
//! TCP connect and TLS handshake together are bounded by
//! `socket.connection.setup.timeout.ms`, so a listener that never answers the handshake (a
//! plaintext port that waits for a frame) costs a timeout, not a hang.

use std::sync::Arc;

use ferrokafka_protocol::transport::Stream;
use rustls_pki_types::ServerName;
use tokio::net::TcpStream;
use tokio::time::{timeout, Instant};
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use crate::config::ClientConfig;
use crate::error::Error;

/// A connected stream to a broker, plain or TLS.
pub(crate) type Transport = Stream<TlsStream<TcpStream>>;

/// Dials `addr` (`host:port`) and runs the TLS handshake if the config asks for TLS.
pub(crate) async fn connect(addr: &str, config: &ClientConfig) -> Result<Transport, Error> {
    let setup = config.connection_setup_timeout;
    let deadline = Instant::now() + setup;
    let timed_out = |what: &str| Error::Timeout {
        operation: format!("{what} {addr}"),
        after: setup,
        last_error: None,
    };
    let io = |source| Error::Io {
        broker: addr.to_owned(),
        source,
    };
    let tcp = tokio::time::timeout_at(deadline, TcpStream::connect(addr))
        .await
        .map_err(|_| timed_out("connecting to"))?
        .map_err(io)?;
    // Requests are small and latency matters more than packet count.
    tcp.set_nodelay(true).map_err(io)?;
    if !config.security.protocol.uses_tls() {
        return Ok(Stream::Plain(tcp));
    }
    let tls = config.security.tls.client_config()?;
    let name = server_name(addr)?;
    let handshake = TlsConnector::from(Arc::clone(&tls)).connect(name, tcp);
    let remaining = deadline.saturating_duration_since(Instant::now());
    match timeout(remaining, handshake).await {
        Ok(Ok(stream)) => Ok(Stream::Tls(Box::new(stream))),
        Ok(Err(err)) => Err(handshake_failed(addr, &err)),
        Err(_) => Err(Error::Tls {
            broker: addr.to_owned(),
            reason: format!(
                "no TLS handshake within socket.connection.setup.timeout.ms ({setup:?}); is \
                 this a TLS listener? (security.protocol={})",
                config.security.protocol
            ),
        }),
    }
}

/// The name the broker's certificate must carry: the host part of `host:port`, an IP
/// address when it is one (brackets stripped).
fn server_name(addr: &str) -> Result<ServerName<'static>, Error> {
    let host = addr.rsplit_once(':').map_or(addr, |(host, _)| host);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(host.to_owned()).map_err(|e| Error::Tls {
        broker: addr.to_owned(),
        reason: format!("`{host}` is not a valid TLS server name: {e}"),
    })
}

/// Says why a handshake failed in the words a user acts on.
fn handshake_failed(addr: &str, err: &std::io::Error) -> Error {
    let reason = match err
        .get_ref()
        .and_then(|e| e.downcast_ref::<rustls::Error>())
    {
        Some(rustls::Error::InvalidCertificate(cert)) => format!(
            "the broker's certificate was refused: {cert:?} (check ssl.ca.location and, for \
             a host-name mismatch, the broker's advertised host)"
        ),
        Some(tls) => format!("TLS handshake failed: {tls}"),
        None if err.kind() == std::io::ErrorKind::UnexpectedEof => {
            "the broker closed the connection during the TLS handshake; is this a TLS \
             listener, and does it require a client certificate?"
                .to_owned()
        }
        None => format!("TLS handshake failed: {err}"),
    };
    Error::Tls {
        broker: addr.to_owned(),
        reason,
    }
}
