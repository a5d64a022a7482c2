//! How the client secures its connections: `security.protocol`, TLS material and checks, and
//! SASL credentials, each by its Java and librdkafka key names.
//!
//! [`SecurityConfig`] is plain data inside [`crate::ClientConfig`]; [`SecurityConfig::set`]
//! takes the string keys and [`SecurityConfig::validate`] checks the whole, loading the TLS
//! material once (a missing or unreadable file fails `build()`, not the first connection).
//! The connection layer turns it into a transport (`connection/transport.rs`, TLS via rustls)
//! and an authentication exchange (`connection/sasl.rs`).
//!
//! Secrets (passwords, inline keys, tokens, the JAAS line that holds them) are [`Secret`]s:
//! they never appear in `Debug` output, logs or config errors.
//!
//! What not: GSSAPI (Kerberos) and AWS IAM; JKS and PKCS#12 stores (convert them to PEM);
//! encrypted private keys; loading Java callback-handler classes (OAUTHBEARER tokens come from
//! a Rust [`OAuthBearerTokenProvider`] or Kafka's unsecured test tokens); OIDC token endpoints.

mod jaas;
pub(crate) mod tls;

use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

pub use ferrokafka_protocol::sasl::{Mechanism, Secret};
pub use ferrokafka_protocol::security::{SecurityProtocol, UnknownSecurityProtocol};
use futures::future::BoxFuture;

use crate::config::parse_bool;
use crate::error::Error;

/// Where PEM text comes from: a file, or the text itself (Java's `ssl.truststore.certificates`,
/// librdkafka's `ssl.ca.pem`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pem {
    /// A PEM file.
    File(PathBuf),
    /// PEM text; a [`Secret`] because a private key may be in it.
    Inline(Secret),
}

/// TLS settings, used when `security.protocol` is SSL or SASL_SSL.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TlsConfig {
    /// CA certificates that may sign the brokers' certificates; the system's roots when unset.
    /// librdkafka: `ssl.ca.location` / `ssl.ca.pem`; Java: `ssl.truststore.location` or
    /// `ssl.truststore.certificates` with `ssl.truststore.type=PEM`.
    pub ca: Option<Pem>,
    /// The client's certificate chain, for brokers that require client certificates.
    /// librdkafka: `ssl.certificate.location` / `ssl.certificate.pem`; Java:
    /// `ssl.keystore.certificate.chain`, or `ssl.keystore.location` (PEM: key and chain).
    pub certificate: Option<Pem>,
    /// The client certificate's private key (PKCS#8, PKCS#1 or SEC1, unencrypted).
    /// librdkafka: `ssl.key.location` / `ssl.key.pem`; Java: `ssl.keystore.key`, or
    /// `ssl.keystore.location`.
    pub key: Option<Pem>,
    /// Check that the broker's certificate names the host dialled (Java's and librdkafka's
    /// default). `ssl.endpoint.identification.algorithm`: `https` (on) or empty / `none` (off).
    pub verify_hostname: bool,
    /// Check the broker's certificate at all. librdkafka:
    /// `enable.ssl.certificate.verification`, default true. Off is for tests only.
    pub verify_certificates: bool,
    /// TLS versions offered; `ssl.enabled.protocols` (`TLSv1.2`, `TLSv1.3`), default both.
    pub versions: Vec<TlsVersion>,
    /// `ssl.truststore.type` / `ssl.keystore.type` as given, for the "convert to PEM" check.
    store_types: Vec<(&'static str, String)>,
    /// `ssl.key.password`: only an encrypted key would need it, and those are refused.
    key_password: Option<Secret>,
    /// The rustls configuration built from the above, once.
    built: BuiltTls,
}

impl Default for TlsConfig {
    fn default() -> Self {
        TlsConfig {
            ca: None,
            certificate: None,
            key: None,
            verify_hostname: true,
            verify_certificates: true,
            versions: vec![TlsVersion::Tls12, TlsVersion::Tls13],
            store_types: Vec::new(),
            key_password: None,
            built: BuiltTls::default(),
        }
    }
}

/// A TLS protocol version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsVersion {
    /// `TLSv1.2`.
    Tls12,
    /// `TLSv1.3`.
    Tls13,
}

/// The rustls client configuration, built on first use and shared by clones of the config;
/// equal to every other (it is derived from the fields that are compared).
#[derive(Clone, Default)]
pub(crate) struct BuiltTls(Arc<OnceLock<Arc<rustls::ClientConfig>>>);

impl PartialEq for BuiltTls {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}
impl Eq for BuiltTls {}
impl fmt::Debug for BuiltTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.get().is_some() {
            "BuiltTls(ready)"
        } else {
            "BuiltTls(not yet)"
        })
    }
}

impl TlsConfig {
    /// The rustls configuration for these settings, built (files read) on the first call.
    pub(crate) fn client_config(&self) -> Result<Arc<rustls::ClientConfig>, Error> {
        if let Some(built) = self.built.0.get() {
            return Ok(Arc::clone(built));
        }
        for (key, kind) in &self.store_types {
            if !kind.eq_ignore_ascii_case("PEM") {
                return Err(Error::invalid_config(
                    key,
                    kind,
                    "only PEM stores are supported; convert a JKS or PKCS#12 store to PEM \
                     (keytool -exportcert -rfc for certificates; openssl pkcs12 -nodes for a \
                     key) and set the type to PEM",
                ));
            }
        }
        let built = Arc::new(tls::client_config(self)?);
        Ok(Arc::clone(self.built.0.get_or_init(|| built)))
    }
}

/// A token for SASL/OAUTHBEARER, from an [`OAuthBearerTokenProvider`].
#[derive(Debug, Clone)]
pub struct OAuthBearerToken {
    /// The compact-serialised JWT (or other bearer token) the broker validates.
    pub value: Secret,
    /// SASL extensions sent with it (KIP-342), e.g. a logical cluster id.
    pub extensions: Vec<(String, String)>,
}

/// Where OAUTHBEARER tokens come from: your identity provider's client, in Rust. Called for
/// every authentication and re-authentication, so it may return a fresh token each time.
pub trait OAuthBearerTokenProvider: Send + Sync + 'static {
    /// A token to authenticate with; an `Err` fails the connection with that message.
    fn token(&self) -> BoxFuture<'_, Result<OAuthBearerToken, String>>;
}

/// How OAUTHBEARER gets its tokens.
#[derive(Clone)]
pub enum OAuthBearer {
    /// From a provider of yours.
    Provider(Arc<dyn OAuthBearerTokenProvider>),
    /// Kafka's unsecured JWTs (`alg: none`), for test brokers that accept them. Java:
    /// `OAuthBearerLoginModule required unsecuredLoginStringClaim_sub="alice";`, librdkafka:
    /// `enable.sasl.oauthbearer.unsecure.jwt=true` with `sasl.oauthbearer.config=principal=alice`.
    Unsecured {
        /// The `sub` claim.
        principal: String,
        /// `exp - iat`; Java's `unsecuredLoginLifetimeSeconds`, default 1 h.
        lifetime: Duration,
        /// The `scope` claim.
        scope: Vec<String>,
        /// SASL extensions.
        extensions: Vec<(String, String)>,
    },
}

impl fmt::Debug for OAuthBearer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OAuthBearer::Provider(_) => f.write_str("Provider(..)"),
            OAuthBearer::Unsecured {
                principal,
                lifetime,
                scope,
                extensions,
            } => f
                .debug_struct("Unsecured")
                .field("principal", principal)
                .field("lifetime", lifetime)
                .field("scope", scope)
                .field("extensions", extensions)
                .finish(),
        }
    }
}

impl PartialEq for OAuthBearer {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (OAuthBearer::Provider(a), OAuthBearer::Provider(b)) => Arc::ptr_eq(a, b),
            (
                OAuthBearer::Unsecured {
                    principal: a,
                    lifetime: b,
                    scope: c,
                    extensions: d,
                },
                OAuthBearer::Unsecured {
                    principal: e,
                    lifetime: f,
                    scope: g,
                    extensions: h,
                },
            ) => a == e && b == f && c == g && d == h,
            _ => false,
        }
    }
}
impl Eq for OAuthBearer {}

/// SASL settings, used when `security.protocol` is SASL_PLAINTEXT or SASL_SSL.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct SaslConfig {
    /// `sasl.mechanism` (Java) / `sasl.mechanisms` (librdkafka). Java's default, GSSAPI, is
    /// not supported, so with SASL it must be set.
    pub mechanism: Option<Mechanism>,
    /// PLAIN and SCRAM user: `sasl.username`, or `username` in `sasl.jaas.config`.
    pub username: Option<String>,
    /// PLAIN and SCRAM password: `sasl.password`, or `password` in `sasl.jaas.config`.
    pub password: Option<Secret>,
    /// OAUTHBEARER's token source.
    pub oauthbearer: Option<OAuthBearer>,
    /// `enable.sasl.oauthbearer.unsecure.jwt` (librdkafka), so that `sasl.oauthbearer.config`
    /// makes unsecured tokens.
    unsecured_jwt: bool,
    /// `sasl.oauthbearer.config`, parsed once `unsecured_jwt` is known.
    oauthbearer_config: Option<String>,
}

/// Security settings of a client. Defaults: PLAINTEXT, hostnames checked, system CA roots.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct SecurityConfig {
    /// `security.protocol`.
    pub protocol: SecurityProtocol,
    /// TLS settings (SSL, SASL_SSL).
    pub tls: TlsConfig,
    /// SASL settings (SASL_PLAINTEXT, SASL_SSL).
    pub sasl: SaslConfig,
}

/// The keys [`SecurityConfig::set`] understands.
pub const KEYS: &[&str] = &[
    "security.protocol",
    "ssl.ca.location",
    "ssl.ca.pem",
    "ssl.truststore.location",
    "ssl.truststore.certificates",
    "ssl.truststore.type",
    "ssl.truststore.password",
    "ssl.certificate.location",
    "ssl.certificate.pem",
    "ssl.key.location",
    "ssl.key.pem",
    "ssl.key.password",
    "ssl.keystore.location",
    "ssl.keystore.type",
    "ssl.keystore.password",
    "ssl.keystore.certificate.chain",
    "ssl.keystore.key",
    "ssl.endpoint.identification.algorithm",
    "enable.ssl.certificate.verification",
    "ssl.enabled.protocols",
    "ssl.protocol",
    "sasl.mechanism",
    "sasl.mechanisms",
    "sasl.username",
    "sasl.password",
    "sasl.jaas.config",
    "sasl.oauthbearer.config",
    "enable.sasl.oauthbearer.unsecure.jwt",
    "sasl.oauthbearer.method",
    "sasl.login.callback.handler.class",
    "sasl.client.callback.handler.class",
];

/// What config errors show instead of a secret value.
pub(crate) const REDACTED: &str = "[redacted]";

/// Whether the value of `key` may hold a secret, so errors must not echo it.
pub(crate) fn is_secret_key(key: &str) -> bool {
    // Broad on purpose: a misspelt key (`sasl.pasword`) must not echo its value either.
    const PARTS: &[&str] = &[
        "pass",
        "secret",
        "jaas",
        "token",
        "key",
        "credential",
        "oauth",
    ];
    PARTS.iter().any(|part| key.contains(part))
}

impl SecurityConfig {
    /// Sets one security setting by its Java or librdkafka name; `Ok(false)` when the key is
    /// not a security key. Errors name the key, and the value unless it may be secret.
    pub fn set(&mut self, key: &str, value: &str) -> Result<bool, Error> {
        let v = value.trim();
        let shown = if is_secret_key(key) { REDACTED } else { v };
        let invalid = |reason: &str| Error::invalid_config(key, shown, reason);
        let file = || Pem::File(PathBuf::from(v));
        let inline = || Pem::Inline(Secret::new(v));
        let tls = &mut self.tls;
        match key {
            "security.protocol" => {
                self.protocol = v
                    .parse()
                    .map_err(|e: UnknownSecurityProtocol| invalid(&e.to_string()))?
            }
            "ssl.ca.location" | "ssl.truststore.location" => tls.ca = Some(file()),
            "ssl.ca.pem" | "ssl.truststore.certificates" => tls.ca = Some(inline()),
            "ssl.certificate.location" => tls.certificate = Some(file()),
            "ssl.certificate.pem" | "ssl.keystore.certificate.chain" => {
                tls.certificate = Some(inline())
            }
            "ssl.key.location" => tls.key = Some(file()),
            "ssl.key.pem" | "ssl.keystore.key" => tls.key = Some(inline()),
            // Java's PEM key store is one file with the key and the chain.
            "ssl.keystore.location" => {
                tls.certificate = Some(file());
                tls.key = Some(file());
            }
            "ssl.truststore.type" => set_store_type(tls, "ssl.truststore.type", v),
            "ssl.keystore.type" => set_store_type(tls, "ssl.keystore.type", v),
            // PEM stores have no store password; Java configs often carry one anyway.
            "ssl.truststore.password" | "ssl.keystore.password" => {}
            "ssl.key.password" => tls.key_password = Some(Secret::new(v)),
            "ssl.endpoint.identification.algorithm" => {
                tls.verify_hostname = match v.to_ascii_lowercase().as_str() {
                    "https" => true,
                    "" | "none" => false,
                    _ => return Err(invalid("expected https, none or an empty value")),
                }
            }
            "enable.ssl.certificate.verification" => tls.verify_certificates = parse_bool(key, v)?,
            "ssl.enabled.protocols" | "ssl.protocol" => tls.versions = parse_versions(key, v)?,
            "sasl.mechanism" | "sasl.mechanisms" => {
                self.sasl.mechanism = Some(parse_mechanism(v).map_err(|e| invalid(&e))?)
            }
            "sasl.username" => self.sasl.username = Some(v.to_owned()),
            "sasl.password" => self.sasl.password = Some(Secret::new(value)),
            "sasl.jaas.config" => {
                jaas::apply(v, &mut self.sasl).map_err(|e| invalid(&e))?;
            }
            "sasl.oauthbearer.config" => self.sasl.oauthbearer_config = Some(v.to_owned()),
            "enable.sasl.oauthbearer.unsecure.jwt" => self.sasl.unsecured_jwt = parse_bool(key, v)?,
            "sasl.oauthbearer.method" => {
                if !v.eq_ignore_ascii_case("default") {
                    return Err(invalid(
                        "only `default` is supported; for OIDC, fetch tokens in an \
                         OAuthBearerTokenProvider",
                    ));
                }
            }
            "sasl.login.callback.handler.class" | "sasl.client.callback.handler.class" => {
                return Err(invalid(
                    "Java callback classes cannot be loaded; give the client an \
                     OAuthBearerTokenProvider instead",
                ))
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Checks the security settings as a whole and loads the TLS material, so that a bad
    /// file fails here with its path rather than at the first connection.
    pub fn validate(&self) -> Result<(), Error> {
        if self.protocol.uses_tls() {
            self.tls.client_config()?;
        }
        if self.protocol.uses_sasl() {
            self.sasl.credentials()?;
        }
        Ok(())
    }
}

impl SaslConfig {
    /// The mechanism and what it authenticates with, or the config error that says what is
    /// missing.
    pub(crate) fn credentials(&self) -> Result<Credentials, Error> {
        let Some(mechanism) = self.mechanism else {
            return Err(Error::invalid_config(
                "sasl.mechanism",
                "",
                "must be set with SASL_PLAINTEXT or SASL_SSL: PLAIN, SCRAM-SHA-256, \
                 SCRAM-SHA-512 or OAUTHBEARER (Java's default GSSAPI is not supported)",
            ));
        };
        if mechanism == Mechanism::OAuthBearer {
            if let Some(source) = &self.oauthbearer {
                return Ok(Credentials::OAuthBearer(source.clone()));
            }
            if self.unsecured_jwt {
                let config = self.oauthbearer_config.as_deref().unwrap_or_default();
                return jaas::unsecured_from_librdkafka(config)
                    .map(Credentials::OAuthBearer)
                    .map_err(|e| Error::invalid_config("sasl.oauthbearer.config", REDACTED, &e));
            }
            return Err(Error::invalid_config(
                "sasl.mechanism",
                "OAUTHBEARER",
                "needs a token source: an OAuthBearerTokenProvider, or unsecured test tokens \
                 (sasl.jaas.config with unsecuredLoginStringClaim_sub, or \
                 enable.sasl.oauthbearer.unsecure.jwt=true with sasl.oauthbearer.config)",
            ));
        }
        match (&self.username, &self.password) {
            (Some(user), Some(password)) if !user.is_empty() => Ok(Credentials::Password {
                mechanism,
                username: user.clone(),
                password: password.clone(),
            }),
            _ => Err(Error::invalid_config(
                "sasl.username",
                self.username.as_deref().unwrap_or_default(),
                &format!(
                    "{mechanism} needs a user name and a password (sasl.username and \
                     sasl.password, or username and password in sasl.jaas.config)"
                ),
            )),
        }
    }
}

/// What a connection authenticates with.
#[derive(Debug, Clone)]
pub(crate) enum Credentials {
    /// PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512.
    Password {
        mechanism: Mechanism,
        username: String,
        password: Secret,
    },
    /// OAUTHBEARER.
    OAuthBearer(OAuthBearer),
}

impl Credentials {
    pub(crate) fn mechanism(&self) -> Mechanism {
        match self {
            Credentials::Password { mechanism, .. } => *mechanism,
            Credentials::OAuthBearer(_) => Mechanism::OAuthBearer,
        }
    }
}

fn set_store_type(tls: &mut TlsConfig, key: &'static str, value: &str) {
    tls.store_types.retain(|(k, _)| *k != key);
    tls.store_types.push((key, value.to_owned()));
}

fn parse_mechanism(value: &str) -> Result<Mechanism, String> {
    match value.to_ascii_uppercase().as_str() {
        "GSSAPI" | "AWS_MSK_IAM" => Err(format!(
            "{value} is not supported; use PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER"
        )),
        upper => Mechanism::from_name(upper).ok_or_else(|| {
            "expected PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER".to_owned()
        }),
    }
}

fn parse_versions(key: &str, value: &str) -> Result<Vec<TlsVersion>, Error> {
    let mut versions = Vec::new();
    for name in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let version = match name {
            "TLSv1.2" => TlsVersion::Tls12,
            "TLSv1.3" => TlsVersion::Tls13,
            "TLS" => {
                versions = vec![TlsVersion::Tls12, TlsVersion::Tls13];
                continue;
            }
            _ => {
                return Err(Error::invalid_config(
                    key,
                    value,
                    "expected TLSv1.2 and/or TLSv1.3 (older versions are not offered)",
                ))
            }
        };
        if !versions.contains(&version) {
            versions.push(version);
        }
    }
    // Java's `ssl.protocol=TLSv1.3` allows 1.2 as well when the peer lacks 1.3.
    if key == "ssl.protocol" && versions == [TlsVersion::Tls13] {
        versions.insert(0, TlsVersion::Tls12);
    }
    if versions.is_empty() {
        return Err(Error::invalid_config(key, value, "at least one version"));
    }
    Ok(versions)
}

#[cfg(test)]
mod tests;
