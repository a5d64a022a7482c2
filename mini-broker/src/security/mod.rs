//! Secured listeners: which security protocol each listener speaks, the TLS server identity,
//! the SASL users, and the SASL state of one connection.
//!
//! A broker has one listener per security protocol, named after it as Kafka names its default
//! listeners (`PLAINTEXT`, `SSL`, `SASL_PLAINTEXT`, `SASL_SSL`). Each answers Metadata and
//! FindCoordinator with its own advertised address, so a client that bootstrapped over TLS stays
//! on TLS. Authentication decides who a client is; nothing here decides what it may do (no ACLs),
//! and there is no mutual TLS, GSSAPI or delegation-token authentication.

pub mod sasl;
pub mod tls;
pub mod users;

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;

use ferrokafka_protocol::sasl::Mechanism;
pub use ferrokafka_protocol::security::{SecurityProtocol, UnknownSecurityProtocol};

/// One listener to open: its protocol and the address to bind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenerSpec {
    /// What the listener speaks.
    pub protocol: SecurityProtocol,
    /// Where it binds; port 0 picks a free port.
    pub addr: SocketAddr,
}

impl ListenerSpec {
    /// A listener speaking `protocol` on `addr`.
    pub fn new(protocol: SecurityProtocol, addr: SocketAddr) -> Self {
        ListenerSpec { protocol, addr }
    }
}

/// Why a `PROTOCOL://HOST:PORT` listener could not be read.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ListenerSpecError {
    /// No `://` in the text.
    #[error("listener '{0}' is not of the form PROTOCOL://HOST:PORT")]
    Form(String),
    /// The part before `://`.
    #[error(transparent)]
    Protocol(#[from] UnknownSecurityProtocol),
    /// The part after `://`.
    #[error("listener address '{0}' is not IP:PORT (an IP address, not a host name; use --advertised-host for names)")]
    Address(String),
}

impl FromStr for ListenerSpec {
    type Err = ListenerSpecError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (protocol, addr) = s
            .split_once("://")
            .ok_or_else(|| ListenerSpecError::Form(s.to_owned()))?;
        let protocol = protocol.parse()?;
        let addr = addr
            .parse()
            .map_err(|_| ListenerSpecError::Address(addr.to_owned()))?;
        Ok(ListenerSpec { protocol, addr })
    }
}

impl fmt::Display for ListenerSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}", self.protocol, self.addr)
    }
}

/// A combination of security settings the broker cannot start with.
#[derive(Debug, thiserror::Error)]
pub enum SecurityConfigError {
    /// No listener at all.
    #[error("no listener configured")]
    NoListener,
    /// Two listeners with the same protocol (listener names must be unique, as in Kafka).
    #[error("two {0} listeners; each security protocol may have one listener")]
    DuplicateListener(SecurityProtocol),
    /// An SSL or SASL_SSL listener without a certificate.
    #[error(
        "the {0} listener needs TLS settings (--tls-cert and --tls-key, or --tls-self-signed)"
    )]
    TlsMissing(SecurityProtocol),
    /// Mechanisms set for a protocol that does not authenticate.
    #[error("SASL mechanisms can only be set for SASL_PLAINTEXT or SASL_SSL, not {0}")]
    MechanismsForNonSasl(SecurityProtocol),
    /// An empty mechanism list.
    #[error("the {0} listener has no SASL mechanism enabled")]
    NoMechanisms(SecurityProtocol),
    /// A user could not be added.
    #[error(transparent)]
    User(#[from] users::UserError),
    /// The TLS identity could not be loaded or made.
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
}

/// Checks the listeners and the settings they depend on, before anything is bound.
pub(crate) fn validate(config: &crate::BrokerConfig) -> Result<(), SecurityConfigError> {
    if config.listeners.is_empty() {
        return Err(SecurityConfigError::NoListener);
    }
    for (i, listener) in config.listeners.iter().enumerate() {
        let protocol = listener.protocol;
        if config
            .listeners
            .iter()
            .skip(i + 1)
            .any(|l| l.protocol == protocol)
        {
            return Err(SecurityConfigError::DuplicateListener(protocol));
        }
        if protocol.uses_tls() && config.tls.is_none() {
            return Err(SecurityConfigError::TlsMissing(protocol));
        }
    }
    for (protocol, mechanisms) in &config.sasl_enabled_mechanisms {
        if !protocol.uses_sasl() {
            return Err(SecurityConfigError::MechanismsForNonSasl(*protocol));
        }
        if mechanisms.is_empty() {
            return Err(SecurityConfigError::NoMechanisms(*protocol));
        }
    }
    Ok(())
}

/// The mechanisms enabled on a SASL listener: the configured ones, else all four.
pub(crate) fn enabled_mechanisms(
    config: &crate::BrokerConfig,
    protocol: SecurityProtocol,
) -> Vec<Mechanism> {
    config
        .sasl_enabled_mechanisms
        .get(&protocol)
        .cloned()
        .unwrap_or_else(|| Mechanism::ALL.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_names_round_trip_case_insensitively() {
        for p in SecurityProtocol::ALL {
            assert_eq!(p.name().parse::<SecurityProtocol>().unwrap(), p);
            assert_eq!(
                p.name().to_lowercase().parse::<SecurityProtocol>().unwrap(),
                p
            );
            assert_eq!(p.to_string(), p.name());
        }
        assert!("TLS".parse::<SecurityProtocol>().is_err());
    }

    #[test]
    fn listener_specs_parse() {
        let l: ListenerSpec = "SASL_SSL://127.0.0.1:9093".parse().unwrap();
        assert_eq!(l.protocol, SecurityProtocol::SaslSsl);
        assert_eq!(l.addr.port(), 9093);
        let l: ListenerSpec = "ssl://[::1]:0".parse().unwrap();
        assert_eq!(l.protocol, SecurityProtocol::Ssl);
        assert!("127.0.0.1:9092".parse::<ListenerSpec>().is_err());
        assert!("SASL_SSL://localhost:9093".parse::<ListenerSpec>().is_err());
        assert!("KERBEROS://127.0.0.1:1".parse::<ListenerSpec>().is_err());
    }
}
