//! SASL mechanisms as Kafka speaks them, shared by the client and the mini-broker: PLAIN,
//! SCRAM-SHA-256/512 and OAUTHBEARER.
//!
//! Why here: both sides must agree byte for byte, and the broker's side of each mechanism is
//! the best test of the client's. Each module holds the message formats and the state machine
//! of one mechanism; sending the bytes (SaslHandshake, SaslAuthenticate) is the caller's job.
//!
//! What not: GSSAPI (Kerberos), SCRAM channel binding, delegation tokens, signed-JWT
//! validation (only Kafka's unsecured test tokens are checked here).
//!
//! Errors: [`SaslError::AuthenticationFailed`] carries a message that may go to the peer
//! as is; the reasons in [`SaslError::Malformed`] and [`SaslError::Invalid`] are for logs. A
//! broker answering a client uses [`SaslError::message_for_peer`], which (as Kafka does)
//! replaces those with a message naming nothing but the mechanism.

use std::fmt;
use std::str::FromStr;

pub mod oauthbearer;
pub mod plain;
pub mod scram;

/// A SASL mechanism we speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mechanism {
    /// RFC 4616: user name and password in the clear (use it over TLS).
    Plain,
    /// RFC 7677: salted challenge-response with SHA-256.
    ScramSha256,
    /// SCRAM with SHA-512, as Kafka defines it alongside RFC 7677.
    ScramSha512,
    /// RFC 7628: an OAuth 2 bearer token.
    OAuthBearer,
}

impl Mechanism {
    /// Every mechanism, in the order they are listed to users.
    pub const ALL: [Mechanism; 4] = [
        Mechanism::Plain,
        Mechanism::ScramSha256,
        Mechanism::ScramSha512,
        Mechanism::OAuthBearer,
    ];

    /// The name on the wire (SaslHandshake) and in `sasl.mechanism`.
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Plain => "PLAIN",
            Mechanism::ScramSha256 => "SCRAM-SHA-256",
            Mechanism::ScramSha512 => "SCRAM-SHA-512",
            Mechanism::OAuthBearer => "OAUTHBEARER",
        }
    }

    /// The mechanism with this exact name. Case-sensitive, as Kafka's broker matches it.
    pub fn from_name(name: &str) -> Option<Mechanism> {
        Mechanism::ALL.into_iter().find(|m| m.name() == name)
    }
}

impl fmt::Display for Mechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Mechanism {
    type Err = SaslError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Mechanism::from_name(s).ok_or_else(|| {
            let valid: Vec<&str> = Mechanism::ALL.iter().map(|m| m.name()).collect();
            SaslError::Invalid(format!(
                "unknown SASL mechanism {s:?}; expected one of {}",
                valid.join(", ")
            ))
        })
    }
}

/// Why a SASL step failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SaslError {
    /// The peer's message does not parse; `reason` says what is wrong (never includes secrets).
    #[error("malformed {mechanism} message: {reason}")]
    Malformed {
        /// The mechanism whose message it was.
        mechanism: Mechanism,
        /// What is wrong, for logs.
        reason: String,
    },
    /// The credentials were checked and refused (or the server said so); the message is safe
    /// to log and to send to the peer.
    #[error("{0}")]
    AuthenticationFailed(String),
    /// Configuration/usage errors (e.g. iterations out of range), message says which.
    #[error("{0}")]
    Invalid(String),
}

impl SaslError {
    pub(crate) fn malformed(mechanism: Mechanism, reason: impl Into<String>) -> SaslError {
        SaslError::Malformed {
            mechanism,
            reason: reason.into(),
        }
    }

    /// What a broker tells the client about this failure.
    ///
    /// An [`AuthenticationFailed`](SaslError::AuthenticationFailed) message is meant for the
    /// peer; anything else gets Kafka's generic wording, so that parse errors and internal
    /// problems reveal nothing (not even whether a user exists).
    pub fn message_for_peer(&self, mechanism: Mechanism) -> String {
        match self {
            SaslError::AuthenticationFailed(message) => message.clone(),
            SaslError::Malformed { .. } | SaslError::Invalid(_) => {
                invalid_credentials_message(mechanism)
            }
        }
    }
}

/// Kafka's broker message for a refused SASL exchange, naming only the mechanism.
pub fn invalid_credentials_message(mechanism: Mechanism) -> String {
    format!(
        "Authentication failed during authentication due to invalid credentials with SASL mechanism {mechanism}"
    )
}

/// A password or token: `Debug`/`Display` print `[redacted]`; `expose()` gives the text.
///
/// Exists so that a config or a state machine can derive `Debug` without leaking what it
/// holds. It does not wipe memory on drop.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }

    /// The secret text, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Secret {
        Secret(s)
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Secret {
        Secret(s.to_owned())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Equality of two byte strings in time that depends only on their lengths, so a comparison
/// against a secret does not tell an attacker how many leading bytes were right.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.ct_eq(b).into()
}

/// `saslname` of RFC 5802 (also used by RFC 7628's gs2 header): `=` as `=3D`, `,` as `=2C`.
pub(crate) fn escape_saslname(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        match c {
            '=' => out.push_str("=3D"),
            ',' => out.push_str("=2C"),
            c => out.push(c),
        }
    }
    out
}

/// The inverse of [`escape_saslname`]; `None` for an `=` not starting `=3D` or `=2C`, a bare
/// `,`, or a NUL, none of which a `saslname` may hold.
pub(crate) fn unescape_saslname(escaped: &str) -> Option<String> {
    let mut out = String::with_capacity(escaped.len());
    let mut chars = escaped.chars();
    while let Some(c) = chars.next() {
        match c {
            '=' => match (chars.next(), chars.next()) {
                (Some('3'), Some('D')) => out.push('='),
                (Some('2'), Some('C')) => out.push(','),
                _ => return None,
            },
            ',' | '\0' => return None,
            c => out.push(c),
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_case_sensitive() {
        for m in Mechanism::ALL {
            assert_eq!(Mechanism::from_name(m.name()), Some(m));
            assert_eq!(m.to_string().parse::<Mechanism>(), Ok(m));
        }
        assert_eq!(Mechanism::from_name("plain"), None);
        let err = "scram-sha-256".parse::<Mechanism>().unwrap_err();
        let text = err.to_string();
        assert!(text.contains("\"scram-sha-256\""), "{text}");
        assert!(text.contains("PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER"));
    }

    #[test]
    fn saslname_escaping_round_trips() {
        for name in ["", "user", "a=b,c", "==,,", "üser=,"] {
            assert_eq!(
                unescape_saslname(&escape_saslname(name)).as_deref(),
                Some(name)
            );
        }
        assert_eq!(escape_saslname("a=b,c"), "a=3Db=2Cc");
        for bad in ["a=b", "a,b", "=3", "=2c", "a\0"] {
            assert_eq!(unescape_saslname(bad), None, "{bad}");
        }
    }

    #[test]
    fn secret_never_prints() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?}"), "Secret([redacted])");
        assert_eq!(format!("{s}"), "[redacted]");
        assert_eq!(s.expose(), "hunter2");
        assert_eq!(Secret::from("x"), Secret::from(String::from("x")));
    }

    #[test]
    fn constant_time_eq_compares() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(constant_time_eq(b"", b""));
    }
}
