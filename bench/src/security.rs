//! Security settings of a measurement: which listener the mini-broker opens for the clients, and
//! the client settings that reach it — the same keys, with the same values, for ferrokafka and
//! for librdkafka (both take Java's and librdkafka's names).
//!
//! TLS is the mini-broker's self-signed CA (`--tls-self-signed`), written to a temporary file
//! that both clients trust through `ssl.ca.location`; host names are checked (both clients'
//! default), against `127.0.0.1`, which the broker's certificate covers. SASL is SCRAM-SHA-512
//! with one user; the broker salts the password once at start-up (PBKDF2, 4096 iterations), the
//! client on every login, as Kafka's brokers and clients do.
//!
//! What not: mutual TLS, PLAIN, OAUTHBEARER, SASL without TLS (the broker has them; these
//! measurements do not need them), and rskafka, which is built here without TLS or SASL.

use ferrokafka::ClientConfig;

/// A user the mini-broker knows, for SCRAM.
pub(crate) const USER: &str = "alice";
const PASSWORD: &str = "alice-secret";
pub(crate) const MECHANISM: &str = "SCRAM-SHA-512";

/// How clients reach the broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, clap::ValueEnum)]
pub enum Security {
    /// PLAINTEXT: TCP only.
    #[default]
    Plaintext,
    /// SSL: TLS, no SASL.
    Ssl,
    /// SASL_SSL with SCRAM-SHA-512: TLS, then a SCRAM login on every connection.
    SaslSslScram,
}

impl Security {
    /// The listener's security protocol, as Kafka (and the mini-broker's flags) name it.
    pub(crate) fn protocol(self) -> &'static str {
        match self {
            Security::Plaintext => "PLAINTEXT",
            Security::Ssl => "SSL",
            Security::SaslSslScram => "SASL_SSL",
        }
    }

    /// How tables name it.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Security::Plaintext => "PLAINTEXT",
            Security::Ssl => "SSL",
            Security::SaslSslScram => "SASL_SSL, SCRAM-SHA-512",
        }
    }

    pub(crate) fn uses_tls(self) -> bool {
        self != Security::Plaintext
    }

    pub(crate) fn uses_sasl(self) -> bool {
        self == Security::SaslSslScram
    }

    /// The client settings for this listener, by their Java/librdkafka names; `ca` is the
    /// broker's CA file.
    pub(crate) fn client_settings(self, ca: &std::path::Path) -> Vec<(String, String)> {
        let mut settings = Vec::new();
        let mut set = |k: &str, v: &str| settings.push((k.to_owned(), v.to_owned()));
        if self != Security::Plaintext {
            set("security.protocol", self.protocol());
        }
        if self.uses_tls() {
            set("ssl.ca.location", &ca.display().to_string());
        }
        if self.uses_sasl() {
            set("sasl.mechanism", MECHANISM);
            set("sasl.username", USER);
            set("sasl.password", PASSWORD);
        }
        settings
    }

    /// The mini-broker flags that open this listener (port 0: the broker picks one).
    pub(crate) fn listener_flags(self) -> Vec<String> {
        match self {
            Security::Plaintext => vec!["--listen".into(), "127.0.0.1:0".into()],
            _ => vec![
                "--listener".into(),
                format!("{}://127.0.0.1:0", self.protocol()),
            ],
        }
    }

    /// Leaves out of `clients` those that cannot use this listener (rskafka, built here
    /// without TLS or SASL), saying so.
    pub(crate) fn keep_able_clients(self, clients: &mut Vec<String>) {
        if self != Security::Plaintext && clients.iter().any(|c| c == "rskafka") {
            eprintln!(
                "rskafka is left out over {}: built here without TLS or SASL",
                self.label()
            );
            clients.retain(|c| c != "rskafka");
        }
    }

    /// The `--sasl-user` value.
    pub(crate) fn sasl_user() -> String {
        format!("{USER}:{PASSWORD}")
    }
}

impl std::fmt::Display for Security {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use clap::ValueEnum as _;
        match self.to_possible_value() {
            Some(v) => f.write_str(v.get_name()),
            None => f.write_str(self.protocol()),
        }
    }
}

/// A broker address and the client settings that reach it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Endpoint {
    pub(crate) bootstrap: String,
    pub(crate) settings: Vec<(String, String)>,
}

impl Endpoint {
    /// A PLAINTEXT endpoint.
    pub(crate) fn plain(bootstrap: &str) -> Self {
        Endpoint {
            bootstrap: bootstrap.to_owned(),
            settings: Vec::new(),
        }
    }
}

/// A ferrokafka client config for `bootstrap` with `settings`.
pub(crate) fn client_config(
    bootstrap: &str,
    settings: &[(String, String)],
) -> Result<ClientConfig, String> {
    let mut config = ClientConfig::new(bootstrap).map_err(|e| e.to_string())?;
    for (k, v) in settings {
        config.set(k, v).map_err(|e| e.to_string())?;
    }
    Ok(config)
}

/// Parses a `KEY=VALUE` worker flag.
pub(crate) fn parse_setting(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("`{s}` is not KEY=VALUE"))
}
