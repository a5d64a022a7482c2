//! Brokers with secured listeners, and the client settings that reach each listener with each
//! SASL mechanism, in the Java client's words, in librdkafka's and in kafka-python's.
//!
//! Targets: a real Kafka broker started by `scripts/real-kafka.sh` (its SSL, SASL_SSL,
//! SASL_PLAINTEXT and client-certificate listeners, found through the environment or the
//! state file), and the mini-broker in this process ([`in_process`]) or as the binary
//! ([`binary`]), each with SSL, SASL_SSL and SASL_PLAINTEXT listeners, a self-signed CA, the
//! same user and short sessions. Every scenario runs the same settings against all of them.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use ferrokafka_mini_broker::{MiniBroker, SecurityProtocol};
use ferrokafka_protocol::sasl::Mechanism;

use crate::missing;
use crate::target::{kafka_cache_dir, mini_broker_bin, stop_child};

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
    /// kafka-python's keyword arguments: `security_protocol`, `ssl_cafile`, `ssl_certfile`,
    /// `sasl_mechanism`, `sasl_plain_username`/`sasl_plain_password`. For OAUTHBEARER
    /// kafka-python takes a token provider object; `sasl_oauth_token_provider` here names the
    /// principal of the unsecured JWT that `interop-tests/python/peer.py` provides.
    KafkaPython,
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
    /// Keeps a mini-broker running while the target lives.
    guard: Guard,
}

#[derive(Debug)]
enum Guard {
    Shared,
    InProcess {
        broker: Option<Box<MiniBroker>>,
        runtime: tokio::runtime::Runtime,
    },
    Child(Child),
}

impl Drop for SecuredTarget {
    fn drop(&mut self) {
        match &mut self.guard {
            Guard::Shared => {}
            Guard::InProcess { broker, runtime } => {
                if let Some(broker) = broker.take() {
                    runtime.block_on(broker.shutdown());
                }
            }
            Guard::Child(child) => stop_child(child),
        }
    }
}

/// Session lifetime of the mini-broker targets: long enough for Kafka's one re-authentication
/// a second, short enough to renew a few times in a test.
pub const MINI_REAUTH: Duration = Duration::from_millis(2000);

/// The in-process mini-broker with SSL, SASL_SSL and SASL_PLAINTEXT listeners (and PLAINTEXT),
/// a self-signed CA and [`USER`].
pub fn in_process() -> SecuredTarget {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let any = "127.0.0.1:0".parse().expect("address");
    let broker = runtime
        .block_on(
            MiniBroker::builder()
                .listener(SecurityProtocol::Plaintext, any)
                .listener(SecurityProtocol::Ssl, any)
                .listener(SecurityProtocol::SaslSsl, any)
                .listener(SecurityProtocol::SaslPlaintext, any)
                .tls_self_signed()
                .sasl_user(USER, PASSWORD)
                .connections_max_reauth(MINI_REAUTH)
                .start(),
        )
        .expect("secured mini-broker");
    let dir = scratch_dir("mini-ca");
    let ca = write_file(&dir, "ca.pem", broker.tls_ca_pem().expect("self-signed CA"));
    let endpoints = [
        (Listener::Ssl, SecurityProtocol::Ssl),
        (Listener::SaslSsl, SecurityProtocol::SaslSsl),
        (Listener::SaslPlaintext, SecurityProtocol::SaslPlaintext),
    ]
    .into_iter()
    .map(|(l, p)| (l, broker.bootstrap_for(p).expect("listener")))
    .collect();
    SecuredTarget {
        name: "in-process mini-broker".to_owned(),
        endpoints,
        ca,
        client_cert: None,
        reauth: Some(MINI_REAUTH),
        mechanisms: Mechanism::ALL.to_vec(),
        guard: Guard::InProcess {
            broker: Some(Box::new(broker)),
            runtime,
        },
    }
}

/// The `mini-broker` binary with the same listeners, CA and user, configured by its flags.
pub fn binary() -> Option<SecuredTarget> {
    let Some(bin) = mini_broker_bin() else {
        missing(
            "the mini-broker binary",
            "build it first: cargo build -p ferrokafka-mini-broker --bin mini-broker",
        );
        return None;
    };
    let dir = scratch_dir("mini-bin-ca");
    let ca = dir.join("ca.pem");
    let users = write_file(
        &dir,
        "users.txt",
        &format!("# test user\n{USER}:{PASSWORD}\n"),
    );
    let mut child = Command::new(&bin)
        .args(["--listen", "127.0.0.1:0", "--log-level", "warn"])
        .args(["--listener", "SSL://127.0.0.1:0"])
        .args(["--listener", "SASL_SSL://127.0.0.1:0"])
        .args(["--listener", "SASL_PLAINTEXT://127.0.0.1:0"])
        .arg("--tls-self-signed")
        .arg(&ca)
        .arg("--sasl-users-file")
        .arg(&users)
        .args([
            "--connections-max-reauth-ms",
            &MINI_REAUTH.as_millis().to_string(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {}: {e}", bin.display()));
    let stdout = child.stdout.take().expect("piped stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut endpoints = Vec::new();
    // One line per listener: PLAINTEXT's bare, the others with their protocol.
    for _ in 0..4 {
        let line = lines
            .next()
            .and_then(Result::ok)
            .unwrap_or_else(|| panic!("mini-broker stopped before naming its listeners"));
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_default();
        for (listener, prefix) in [
            (Listener::Ssl, "SSL://"),
            (Listener::SaslSsl, "SASL_SSL://"),
            (Listener::SaslPlaintext, "SASL_PLAINTEXT://"),
        ] {
            if let Some(hostport) = addr.strip_prefix(prefix) {
                endpoints.push((listener, hostport.to_owned()));
            }
        }
    }
    assert_eq!(endpoints.len(), 3, "three secured listeners announced");
    Some(SecuredTarget {
        name: "mini-broker binary".to_owned(),
        endpoints,
        ca,
        client_cert: None,
        reauth: Some(MINI_REAUTH),
        mechanisms: Mechanism::ALL.to_vec(),
        guard: Guard::Child(child),
    })
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
        if dialect == Dialect::KafkaPython {
            return self.kafka_python_settings(listener, mechanism);
        }
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
                // librdkafka; kafka-python's settings are made apart.
                Dialect::Librdkafka | Dialect::KafkaPython => set("ssl.ca.location", &ca),
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
                (_, Dialect::Librdkafka | Dialect::KafkaPython) => {
                    set("sasl.username", USER);
                    set("sasl.password", PASSWORD);
                }
            }
        }
        s
    }

    /// [`Self::settings`] in kafka-python's keyword arguments (every name differs).
    fn kafka_python_settings(
        &self,
        listener: Listener,
        mechanism: Option<Mechanism>,
    ) -> Vec<(String, String)> {
        let mut s: Vec<(String, String)> = Vec::new();
        let mut set = |k: &str, v: &str| s.push((k.to_owned(), v.to_owned()));
        set("security_protocol", listener.protocol());
        if listener.tls() {
            set("ssl_cafile", &self.ca.display().to_string());
        }
        if listener == Listener::Mtls {
            if let Some((cert, key)) = &self.client_cert {
                set("ssl_certfile", &cert.display().to_string());
                set("ssl_keyfile", &key.display().to_string());
            }
        }
        if let Some(mechanism) = mechanism {
            set("sasl_mechanism", mechanism.name());
            if mechanism == Mechanism::OAuthBearer {
                set("sasl_oauth_token_provider", USER);
            } else {
                set("sasl_plain_username", USER);
                set("sasl_plain_password", PASSWORD);
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
        guard: Guard::Shared,
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
