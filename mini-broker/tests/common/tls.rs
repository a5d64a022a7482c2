//! TLS from the client side, for the SSL and SASL_SSL listeners: a rustls client that trusts
//! only the CA the broker made.

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use super::RawConn;

pub type TlsConn = RawConn<TlsStream<TcpStream>>;

/// A client configuration trusting the CA certificates in `ca_pem` and nothing else.
pub fn client_config(ca_pem: &str) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.expect("CA PEM")).expect("CA certificate");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(config)
}

/// Connects to `addr` (`host:port`) and runs the TLS handshake, checking the certificate
/// against `ca_pem` and the host.
pub async fn try_connect(addr: &str, ca_pem: &str) -> std::io::Result<TlsConn> {
    let host = addr.rsplit_once(':').expect("host:port").0.to_owned();
    let name = ServerName::try_from(host).expect("server name");
    let tcp = TcpStream::connect(addr).await?;
    let tls = tokio::time::timeout(
        super::STEP,
        TlsConnector::from(client_config(ca_pem)).connect(name, tcp),
    )
    .await
    .expect("TLS handshake neither completed nor failed")?;
    Ok(RawConn::over(tls))
}

/// [`try_connect`], which must succeed.
pub async fn connect(addr: &str, ca_pem: &str) -> TlsConn {
    try_connect(addr, ca_pem).await.expect("TLS connect")
}

/// Waits until the broker closes a connection whose TLS handshake it refused: at most a TLS
/// alert record (content type 21) comes first, never a Kafka response.
pub async fn expect_refused<S: tokio::io::AsyncRead + Unpin>(stream: &mut S) {
    use tokio::io::AsyncReadExt;
    let mut received = Vec::new();
    let read = tokio::time::timeout(super::STEP, stream.read_to_end(&mut received)).await;
    assert!(read.is_ok(), "the broker did not close the connection");
    assert!(
        received.is_empty() || received.starts_with(&[0x15, 0x03]),
        "expected nothing or a TLS alert, got {received:?}"
    );
}
