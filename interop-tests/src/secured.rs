//! Brokers with secured listeners, and the client settings that reach each listener with each
//! SASL mechanism, in the Java client's words and in librdkafka's.
//!
//! Targets: a real Kafka broker started by `scripts/real-kafka.sh` (its SSL, SASL_SSL,
//! SASL_PLAINTEXT and client-certificate listeners, found through the environment or the
//! state file), and the mini-broker in this process or as the binary, each with SSL, SASL_SSL
//! and SASL_PLAINTEXT listeners, a self-signed CA and the same user. Every scenario runs the
//! same settings against all of them.

use std::path::{Path, PathBuf};
use std::time::Duration;

use ferrokafka_protocol::sasl::Mechanism;

use crate::missing;
use crate::target::kafka_cache_dir;

/// The user every secured target knows, for PLAIN and both SCRAM hashes.
pub const USER: &str = "alice";
/// Its password.
pub const PASSWORD: &str = "alice-secret";

/// A listener kind of a secured target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listener {
    /// TLS, server certificate only.
    Ssl,
    /// TLS with a client certificate required (real Kafka only).
    Mtls,
    /// SASL over TLS.
    SaslSsl,
    /// SASL over plain TCP.
    SaslPlaintext,
}

impl Listener {
    /// `security.protocol` for it.
    pub fn protocol(self) -> &'static str {
        match self {
            Listener::Ssl | Listener::Mtls => "SSL",
            Listener::SaslSsl => "SASL_SSL",
            Listener::SaslPlaintext => "SASL_PLAINTEXT",
        }
    }

    fn tls(self) -> bool {
        !matches!(self, Listener::SaslPlaintext)
    }
}

/// Which client's key names the settings use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// `sasl.jaas.config`, `ssl.truststore.*`, `ssl.keystore.*`.
    Java,
    /// `sasl.username`/`sasl.password`, `ssl.ca.location`, `ssl.certificate.location`.
    Librdkafka,
}

/// A broker with secured listeners.
#[derive(Debug)]
pub struct SecuredTarget {
    /// For messages.
    pub name: String,
    /// `host:port` per listener kind; `None` when the target has no such listener.
    pub endpoints: Vec<(Listener, String)>,
    /// The CA that signed the broker's certificate (PEM).
    pub ca: PathBuf,
    /// Client certificate and key (PEM) for the client-certificate listener.
    pub client_cert: Option<(PathBuf, PathBuf)>,
    /// The broker's `connections.max.reauth.ms`, when set.
    pub reauth: Option<Duration>,
    /// The mechanisms its SASL listeners enable.
    pub mechanisms: Vec<Mechanism>,
}

impl SecuredTarget {
    /// The address of `listener`, if the target has it.
    pub fn endpoint(&self, listener: Listener) -> Option<&str> {
        self.endpoints
            .iter()
            .find(|(l, _)| *l == listener)
            .map(|(_, a)| a.as_str())
    }

    /// The settings (besides `bootstrap.servers`) that reach `listener` with `mechanism`.
    pub fn settings(
        &self,
        listener: Listener,
        mechanism: Option<Mechanism>,
        dialect: Dialect,
    ) -> Vec<(String, String)> {
        let mut s: Vec<(String, String)> = Vec::new();
        let mut set = |k: &str, v: &str| s.push((k.to_owned(), v.to_owned()));
        set("security.protocol", listener.protocol());
        let ca = self.ca.display().to_string();
        if listener.tls() {
            match dialect {
                Dialect::Java => {
                    set("ssl.truststore.type", "PEM");
                    set("ssl.truststore.location", &ca);
                }
                Dialect::Librdkafka => set("ssl.ca.location", &ca),
            }
        }
        if listener == Listener::Mtls {
            if let Some((cert, key)) = &self.client_cert {
                set("ssl.certificate.location", &cert.display().to_string());
                set("ssl.key.location", &key.display().to_string());
            }
        }
        if let Some(mechanism) = mechanism {
            set("sasl.mechanism", mechanism.name());
            match (mechanism, dialect) {
                (Mechanism::OAuthBearer, Dialect::Java) => set(
                    "sasl.jaas.config",
                    &format!(
                        "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule \
                         required unsecuredLoginStringClaim_sub=\"{USER}\";"
                    ),
                ),
                (Mechanism::OAuthBearer, Dialect::Librdkafka) => {
                    set("enable.sasl.oauthbearer.unsecure.jwt", "true");
                    set("sasl.oauthbearer.config", &format!("principal={USER}"));
                }
                (Mechanism::Plain, Dialect::Java) => set(
                    "sasl.jaas.config",
                    &format!(
                        "org.apache.kafka.common.security.plain.PlainLoginModule required \
                         username=\"{USER}\" password=\"{PASSWORD}\";"
                    ),
                ),
                (_, Dialect::Java) => set(
                    "sasl.jaas.config",
                    &format!(
                        "org.apache.kafka.common.security.scram.ScramLoginModule required \
                         username=\"{USER}\" password=\"{PASSWORD}\";"
                    ),
                ),
                (_, Dialect::Librdkafka) => {
                    set("sasl.username", USER);
                    set("sasl.password", PASSWORD);
                }
            }
        }
        s
    }

    /// Every (listener, mechanism) the target serves, SASL listeners with each mechanism.
    pub fn combinations(&self) -> Vec<(Listener, Option<Mechanism>)> {
        let mut out = Vec::new();
        for (listener, _) in &self.endpoints {
            match listener {
                Listener::Ssl | Listener::Mtls => out.push((*listener, None)),
                Listener::SaslSsl | Listener::SaslPlaintext => {
                    for m in &self.mechanisms {
                        out.push((*listener, Some(*m)));
                    }
                }
            }
        }
        out
    }
}

/// The real broker's secured listeners, from `KAFKA_*` variables or the state file of
/// `scripts/real-kafka.sh`; a loud skip (a failure in CI) when it is not running.
pub fn real_kafka() -> Option<SecuredTarget> {
    let state = std::env::var_os("KAFKA_STATE_FILE")
        .map(PathBuf::from)
        .unwrap_or_else(|| kafka_cache_dir().join("real-kafka.env"));
    let file = std::fs::read_to_string(&state).unwrap_or_default();
    let get = |key: &str| -> Option<String> {
        std::env::var(key)
            .ok()
            .filter(|v| !v.is_empty())
            .or_else(|| {
                file.lines().find_map(|l| {
                    l.strip_prefix(key)
                        .and_then(|r| r.strip_prefix('='))
                        .map(str::to_owned)
                })
            })
    };
    let (Some(ssl), Some(sasl_ssl), Some(sasl_plaintext), Some(ca)) = (
        get("KAFKA_SSL_BOOTSTRAP"),
        get("KAFKA_SASL_SSL_BOOTSTRAP"),
        get("KAFKA_SASL_PLAINTEXT_BOOTSTRAP"),
        get("KAFKA_TLS_CA"),
    ) else {
        missing(
            "the real Kafka broker's secured listeners",
            "start it with scripts/real-kafka.sh start (scripts/test.sh does this)",
        );
        return None;
    };
    let mut endpoints = vec![
        (Listener::Ssl, ssl),
        (Listener::SaslSsl, sasl_ssl),
        (Listener::SaslPlaintext, sasl_plaintext),
    ];
    if let Some(mtls) = get("KAFKA_MTLS_BOOTSTRAP") {
        endpoints.push((Listener::Mtls, mtls));
    }
    let client_cert = get("KAFKA_TLS_CLIENT_CERT")
        .zip(get("KAFKA_TLS_CLIENT_KEY"))
        .map(|(c, k)| (PathBuf::from(c), PathBuf::from(k)));
    Some(SecuredTarget {
        name: "real Kafka".to_owned(),
        endpoints,
        ca: PathBuf::from(ca),
        client_cert,
        reauth: get("KAFKA_REAUTH_MS")
            .and_then(|ms| ms.parse().ok())
            .map(Duration::from_millis),
        mechanisms: Mechanism::ALL.to_vec(),
    })
}

/// A scratch directory for one test's files (CA certificates and the like).
pub fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "ferrokafka-{name}-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    dir
}

/// Writes `text` to `dir/name` and returns the path.
pub fn write_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    path
}
