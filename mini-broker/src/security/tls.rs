//! TLS for the SSL and SASL_SSL listeners: the server's identity, and the handshake of one
//! connection.
//!
//! The identity comes from PEM files (a certificate chain, and a PKCS#8, PKCS#1 or SEC1 key) or
//! is made at start-up: a CA of its own and a server certificate it signs, for the advertised
//! hosts, `localhost`, `127.0.0.1` and `::1`. The CA's PEM is what clients are told to trust
//! (`ssl.truststore.location` / `ssl.ca.location`); its key lives only in this process.
//!
//! The handshake runs in the connection's own task under a timeout
//! ([`crate::BrokerConfig::tls_handshake_timeout`]), never in the accept loop, so a slow or hostile peer holds up nobody else. Not here: client certificates
//! (no mutual TLS), reloading certificates, OCSP stapling, ALPN.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};
use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

/// How long a client has to finish the TLS handshake, unless configured otherwise.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the TLS listeners' certificate comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsSource {
    /// A PEM certificate chain (server certificate first) and its private key.
    PemFiles {
        /// The certificate chain.
        cert: PathBuf,
        /// The private key: PKCS#8, PKCS#1 (RSA) or SEC1 (EC).
        key: PathBuf,
    },
    /// A CA and a server certificate made at start-up;
    /// [`crate::MiniBroker::tls_ca_pem`] returns the CA for clients to trust.
    SelfSigned,
}

/// Why the TLS identity could not be loaded or made.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The certificate file is unreadable, not PEM, or holds no certificate.
    #[error("cannot read a PEM certificate chain from {path}: {reason}")]
    Certificates {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The key file is unreadable or holds no key in a known form.
    #[error("cannot read a PEM private key (PKCS#8, PKCS#1 or SEC1) from {path}: {reason}")]
    Key {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// rustls refused the pair (the key does not match the certificate, say).
    #[error("the certificate and key do not make a TLS server: {0}")]
    Config(#[from] rustls::Error),
    /// The self-signed certificates could not be made.
    #[error("cannot make the self-signed certificates: {0}")]
    Generate(#[from] rcgen::Error),
}

/// What the TLS listeners share: the acceptor and, when self-signed, the CA to trust.
#[derive(Clone)]
pub(crate) struct TlsServer {
    acceptor: TlsAcceptor,
    ca_pem: Option<String>,
}

impl fmt::Debug for TlsServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsServer")
            .field("self_signed", &self.ca_pem.is_some())
            .finish_non_exhaustive()
    }
}

impl TlsServer {
    /// Loads or makes the identity. `hosts` are the names clients will connect to; a made
    /// certificate covers them besides the loopback names.
    pub(crate) fn new(source: &TlsSource, hosts: &[String]) -> Result<Self, TlsError> {
        let (chain, key, ca_pem) = match source {
            TlsSource::PemFiles { cert, key } => (read_chain(cert)?, read_key(key)?, None),
            TlsSource::SelfSigned => {
                let made = self_signed(hosts)?;
                (made.chain, made.key, Some(made.ca_pem))
            }
        };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(chain, key)?;
        Ok(TlsServer {
            acceptor: TlsAcceptor::from(Arc::new(config)),
            ca_pem,
        })
    }

    /// The PEM of the CA that signed a made certificate.
    pub(crate) fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    /// Runs the server side of the handshake on `stream`, for at most `timeout`.
    pub(crate) async fn accept<S>(
        &self,
        stream: S,
        timeout: Duration,
    ) -> Result<TlsStream<S>, String>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        match tokio::time::timeout(timeout, self.acceptor.accept(stream)).await {
            Ok(Ok(tls)) => Ok(tls),
            Ok(Err(err)) => Err(format!("TLS handshake failed: {err}")),
            Err(_) => Err(format!(
                "TLS handshake did not complete within {} ms",
                timeout.as_millis()
            )),
        }
    }
}

fn read_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let failed = |reason: String| TlsError::Certificates {
        path: path.to_owned(),
        reason,
    };
    let chain = CertificateDer::pem_file_iter(path)
        .map_err(|err| failed(err.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| failed(err.to_string()))?;
    if chain.is_empty() {
        return Err(failed("no CERTIFICATE section".to_owned()));
    }
    Ok(chain)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(path).map_err(|err| TlsError::Key {
        path: path.to_owned(),
        reason: err.to_string(),
    })
}

struct SelfSigned {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    ca_pem: String,
}

fn self_signed(hosts: &[String]) -> Result<SelfSigned, rcgen::Error> {
    let ca_key = KeyPair::generate()?;
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "ferrokafka mini-broker CA");
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca.self_signed(&ca_key)?;

    let mut names: Vec<String> = Vec::new();
    let loopback = ["localhost", "127.0.0.1", "::1"].map(str::to_owned);
    for name in hosts.iter().cloned().chain(loopback) {
        if !names.contains(&name) {
            names.push(name);
        }
    }
    let common_name = names.first().cloned().unwrap_or_default();
    let mut leaf = CertificateParams::new(names)?;
    leaf.distinguished_name
        .push(DnType::CommonName, common_name);
    leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let key = KeyPair::generate()?;
    let cert = leaf.signed_by(&key, &ca_cert, &ca_key)?;
    Ok(SelfSigned {
        chain: vec![cert.der().clone()],
        key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        ca_pem: ca_cert.pem(),
    })
}

/// Whether the first bytes a peer sent look like a TLS record (a handshake record, version
/// 3.x): what a TLS client sends to a plaintext port.
pub(crate) fn looks_like_tls(first_bytes: [u8; 2]) -> bool {
    first_bytes == [0x16, 0x03]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn self_signed_identity_builds_a_server_and_a_ca() {
        let server = TlsServer::new(&TlsSource::SelfSigned, &["broker.test".into()]).unwrap();
        let ca = server.ca_pem().unwrap();
        assert!(ca.starts_with("-----BEGIN CERTIFICATE-----"), "{ca}");
    }

    #[test]
    fn pem_files_that_are_missing_or_empty_are_named() {
        let dir = std::env::temp_dir().join(format!("mb-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "not pem\n").unwrap();
        let source = TlsSource::PemFiles {
            cert: empty.clone(),
            key: empty.clone(),
        };
        let err = TlsServer::new(&source, &[]).unwrap_err().to_string();
        assert!(
            err.contains("empty.pem") && err.contains("no CERTIFICATE"),
            "{err}"
        );
        let source = TlsSource::PemFiles {
            cert: dir.join("missing.pem"),
            key: empty,
        };
        let err = TlsServer::new(&source, &[]).unwrap_err().to_string();
        assert!(err.contains("missing.pem"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn pem_files_load() {
        let dir = std::env::temp_dir().join(format!("mb-tls-pem-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(vec!["localhost".to_owned()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&cert_path, cert.pem()).unwrap();
        std::fs::write(&key_path, key.serialize_pem()).unwrap();
        let source = TlsSource::PemFiles {
            cert: cert_path,
            key: key_path,
        };
        let server = TlsServer::new(&source, &[]).unwrap();
        assert!(server.ca_pem().is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
