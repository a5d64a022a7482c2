//! The rustls client configuration built from [`TlsConfig`]: trusted roots, the client
//! certificate, and how much of the broker's certificate is checked.
//!
//! Roots are the configured CA certificates, or the system's (as librdkafka uses OpenSSL's and
//! Java the JDK's). The broker's chain and validity are always checked by rustls' WebPKI
//! verifier unless `enable.ssl.certificate.verification=false`; with
//! `ssl.endpoint.identification.algorithm` off, only the host-name check is waived. The crypto
//! provider is named explicitly (ring), so no process-wide default is needed.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};

use super::{Pem, TlsConfig, TlsVersion};
use crate::error::Error;

/// Builds the rustls configuration; errors name the config key and the file.
pub(crate) fn client_config(config: &TlsConfig) -> Result<rustls::ClientConfig, Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let versions: Vec<&'static rustls::SupportedProtocolVersion> = config
        .versions
        .iter()
        .map(|v| match v {
            TlsVersion::Tls12 => &rustls::version::TLS12,
            TlsVersion::Tls13 => &rustls::version::TLS13,
        })
        .collect();
    let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(&versions)
        .map_err(|e| Error::invalid_config("ssl.enabled.protocols", "", &e.to_string()))?;
    let roots = Arc::new(roots(config)?);
    let webpki = WebPkiServerVerifier::builder_with_provider(roots, Arc::clone(&provider))
        .build()
        .map_err(|e| Error::invalid_config("ssl.ca.location", "", &e.to_string()))?;
    let verifier: Arc<dyn ServerCertVerifier> = if !config.verify_certificates {
        tracing::warn!(
            "enable.ssl.certificate.verification=false: broker certificates are not checked; \
             anyone on the path can read and change this client's traffic"
        );
        Arc::new(Relaxed {
            webpki,
            check_chain: false,
        })
    } else if !config.verify_hostname {
        Arc::new(Relaxed {
            webpki,
            check_chain: true,
        })
    } else {
        webpki
    };
    let builder = builder
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    match (&config.certificate, &config.key) {
        (None, None) => Ok(builder.with_no_client_auth()),
        (Some(cert), Some(key)) => {
            let chain = certificates(cert, "ssl.certificate.location")?;
            let key = private_key(key, config)?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| Error::invalid_config("ssl.key.location", "", &e.to_string()))
        }
        (Some(_), None) => Err(Error::invalid_config(
            "ssl.key.location",
            "",
            "a client certificate needs its private key",
        )),
        (None, Some(_)) => Err(Error::invalid_config(
            "ssl.certificate.location",
            "",
            "a private key needs its client certificate",
        )),
    }
}

fn roots(config: &TlsConfig) -> Result<RootCertStore, Error> {
    let mut store = RootCertStore::empty();
    match &config.ca {
        Some(pem) => {
            for cert in certificates(pem, "ssl.ca.location")? {
                store.add(cert).map_err(|e| {
                    Error::invalid_config("ssl.ca.location", describe(pem), &e.to_string())
                })?;
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            for err in &found.errors {
                tracing::debug!(%err, "skipping unreadable system CA certificates");
            }
            let (added, _ignored) = store.add_parsable_certificates(found.certs);
            if added == 0 {
                return Err(Error::invalid_config(
                    "ssl.ca.location",
                    "",
                    "no CA given and no system CA certificates found; set ssl.ca.location \
                     (or ssl.truststore.location with ssl.truststore.type=PEM)",
                ));
            }
        }
    }
    Ok(store)
}

/// What a PEM source is called in errors: its path, never inline text.
fn describe(pem: &Pem) -> String {
    match pem {
        Pem::File(path) => path.display().to_string(),
        Pem::Inline(_) => "(inline PEM)".to_owned(),
    }
}

fn read(pem: &Pem, key: &str) -> Result<Vec<u8>, Error> {
    match pem {
        Pem::Inline(text) => Ok(text.expose().as_bytes().to_vec()),
        Pem::File(path) => std::fs::read(path).map_err(|e| {
            Error::invalid_config(
                key,
                path.display().to_string(),
                &format!("cannot read: {e}"),
            )
        }),
    }
}

/// A store that is not PEM text: JKS starts with 0xFEEDFEED, PKCS#12 is DER (0x30).
fn not_pem(bytes: &[u8]) -> bool {
    !bytes.windows(11).any(|w| w == b"-----BEGIN ")
}

const CONVERT: &str = "not a PEM file (a JKS or PKCS#12 store?); convert it to PEM: \
                       `keytool -exportcert -rfc` for certificates, `openssl pkcs12 -nodes` \
                       for a key";

fn certificates(pem: &Pem, key: &str) -> Result<Vec<CertificateDer<'static>>, Error> {
    let bytes = read(pem, key)?;
    let invalid = |reason: &str| Error::invalid_config(key, describe(pem), reason);
    if not_pem(&bytes) {
        return Err(invalid(CONVERT));
    }
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(&format!("bad PEM: {e}")))?;
    if certs.is_empty() {
        return Err(invalid("no CERTIFICATE in it"));
    }
    Ok(certs)
}

fn private_key(pem: &Pem, config: &TlsConfig) -> Result<PrivateKeyDer<'static>, Error> {
    let key = "ssl.key.location";
    let bytes = read(pem, key)?;
    let invalid = |reason: &str| Error::invalid_config(key, describe(pem), reason);
    if not_pem(&bytes) {
        return Err(invalid(CONVERT));
    }
    if bytes
        .windows(31)
        .any(|w| w == b"-----BEGIN ENCRYPTED PRIVATE KE")
    {
        let hint = if config.key_password.is_some() {
            "encrypted private keys are not supported (ssl.key.password is ignored)"
        } else {
            "encrypted private keys are not supported"
        };
        return Err(invalid(&format!(
            "{hint}; decrypt it with `openssl pkcs8 -topk8 -nocrypt`"
        )));
    }
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| invalid(&format!("no private key: {e}")))
}

/// WebPKI's checks with some waived: the host name (`ssl.endpoint.identification.algorithm`
/// off), or the whole certificate (`enable.ssl.certificate.verification=false`, tests only).
/// The handshake's signatures are always checked against the certificate presented.
#[derive(Debug)]
struct Relaxed {
    webpki: Arc<WebPkiServerVerifier>,
    check_chain: bool,
}

impl ServerCertVerifier for Relaxed {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if !self.check_chain {
            return Ok(ServerCertVerified::assertion());
        }
        match self
            .webpki
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}
