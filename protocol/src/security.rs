//! Kafka's four security protocols, which the client's `security.protocol` names and the
//! mini-broker's listeners speak.

use std::fmt;
use std::str::FromStr;

/// Kafka's `security.protocol` values, which are also our listener names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum SecurityProtocol {
    /// No TLS, no authentication (the default, as in Kafka).
    #[default]
    Plaintext,
    /// TLS, no authentication.
    Ssl,
    /// SASL authentication over plain TCP.
    SaslPlaintext,
    /// SASL authentication over TLS.
    SaslSsl,
}

impl SecurityProtocol {
    /// Every protocol, in Kafka's order.
    pub const ALL: [SecurityProtocol; 4] = [
        SecurityProtocol::Plaintext,
        SecurityProtocol::Ssl,
        SecurityProtocol::SaslPlaintext,
        SecurityProtocol::SaslSsl,
    ];

    /// Kafka's name: `PLAINTEXT`, `SSL`, `SASL_PLAINTEXT` or `SASL_SSL`.
    pub fn name(self) -> &'static str {
        match self {
            SecurityProtocol::Plaintext => "PLAINTEXT",
            SecurityProtocol::Ssl => "SSL",
            SecurityProtocol::SaslPlaintext => "SASL_PLAINTEXT",
            SecurityProtocol::SaslSsl => "SASL_SSL",
        }
    }

    /// Whether connections start with a TLS handshake.
    pub fn uses_tls(self) -> bool {
        matches!(self, SecurityProtocol::Ssl | SecurityProtocol::SaslSsl)
    }

    /// Whether clients must authenticate with SASL before anything else is served.
    pub fn uses_sasl(self) -> bool {
        matches!(
            self,
            SecurityProtocol::SaslPlaintext | SecurityProtocol::SaslSsl
        )
    }
}

impl fmt::Display for SecurityProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A security protocol name that is not one of Kafka's four.
#[derive(Debug, Clone, thiserror::Error)]
#[error("unknown security protocol '{0}' (use PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL)")]
pub struct UnknownSecurityProtocol(pub String);

impl FromStr for SecurityProtocol {
    type Err = UnknownSecurityProtocol;

    /// Case-insensitive, as Kafka's `SecurityProtocol.forName`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SecurityProtocol::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownSecurityProtocol(s.to_owned()))
    }
}
