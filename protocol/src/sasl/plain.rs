//! SASL/PLAIN (RFC 4616): one client message, `authzid NUL username NUL password`.
//!
//! The server's rules are Kafka's `PlainSaslServer`'s: three fields, a non-empty user name and
//! password, and an authorization id that is empty or the user name. Checking the password is
//! the broker's business (for instance with [`ScramCredential::verify_password`]); this module
//! only builds and parses.
//!
//! [`ScramCredential::verify_password`]: super::scram::ScramCredential::verify_password

use std::fmt;

use super::{Mechanism, SaslError};

/// What Kafka's PLAIN server says for a wrong user name or password; a broker refusing a
/// [`PlainMessage`] sends this.
pub const INVALID_USERNAME_OR_PASSWORD: &str =
    "Authentication failed: Invalid username or password";

/// The client's only message: `authzid \0 username \0 password`.
pub fn client_message(authzid: &str, username: &str, password: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(authzid.len() + username.len() + password.len() + 2);
    out.extend_from_slice(authzid.as_bytes());
    out.push(0);
    out.extend_from_slice(username.as_bytes());
    out.push(0);
    out.extend_from_slice(password.as_bytes());
    out
}

/// A parsed PLAIN message, borrowing from the bytes received.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PlainMessage<'a> {
    /// The identity to act as; empty, or equal to `username` (checked by [`parse`]).
    pub authzid: &'a str,
    /// The user name to check.
    pub username: &'a str,
    /// The password to check.
    pub password: &'a str,
}

impl fmt::Debug for PlainMessage<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PlainMessage")
            .field("authzid", &self.authzid)
            .field("username", &self.username)
            .field("password", &"[redacted]")
            .finish()
    }
}

/// Parses and checks a client's PLAIN message.
///
/// Not three NUL-separated UTF-8 fields: [`SaslError::Malformed`]. An empty user name or
/// password, or an authorization id other than the user name:
/// [`SaslError::AuthenticationFailed`].
pub fn parse(message: &[u8]) -> Result<PlainMessage<'_>, SaslError> {
    let text = std::str::from_utf8(message)
        .map_err(|_| SaslError::malformed(Mechanism::Plain, "the message is not UTF-8"))?;
    let mut fields = text.split('\0');
    let (Some(authzid), Some(username), Some(password), None) =
        (fields.next(), fields.next(), fields.next(), fields.next())
    else {
        let count = text.split('\0').count();
        return Err(SaslError::malformed(
            Mechanism::Plain,
            format!("expected 3 NUL-separated fields, got {count}"),
        ));
    };
    if username.is_empty() {
        return Err(SaslError::AuthenticationFailed(
            "Authentication failed: username not specified".into(),
        ));
    }
    if password.is_empty() {
        return Err(SaslError::AuthenticationFailed(
            "Authentication failed: password not specified".into(),
        ));
    }
    if !authzid.is_empty() && authzid != username {
        return Err(SaslError::AuthenticationFailed(
            "Authentication failed: Client requested an authorization id that is different from username"
                .into(),
        ));
    }
    Ok(PlainMessage {
        authzid,
        username,
        password,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_and_parses() {
        let msg = client_message("", "alice", "s3cret");
        assert_eq!(msg, b"\0alice\0s3cret");
        let parsed = parse(&msg).unwrap();
        assert_eq!(
            parsed,
            PlainMessage {
                authzid: "",
                username: "alice",
                password: "s3cret"
            }
        );
        let same = client_message("alice", "alice", "s3cret");
        assert_eq!(parse(&same).unwrap().authzid, "alice");
    }

    #[test]
    fn refuses_like_kafka() {
        for bad in [&b"alice"[..], b"\0alice", b"\0alice\0pw\0", b"a\0b\0c\0d"] {
            assert!(
                matches!(
                    parse(bad),
                    Err(SaslError::Malformed {
                        mechanism: Mechanism::Plain,
                        ..
                    })
                ),
                "{bad:?}"
            );
        }
        assert!(matches!(
            parse(b"\0\xff\0pw"),
            Err(SaslError::Malformed { .. })
        ));
        assert_eq!(
            parse(b"\0\0pw"),
            Err(SaslError::AuthenticationFailed(
                "Authentication failed: username not specified".into()
            ))
        );
        assert_eq!(
            parse(b"\0alice\0"),
            Err(SaslError::AuthenticationFailed(
                "Authentication failed: password not specified".into()
            ))
        );
        assert_eq!(
            parse(b"bob\0alice\0pw"),
            Err(SaslError::AuthenticationFailed(
                "Authentication failed: Client requested an authorization id that is different from username".into()
            ))
        );
    }

    #[test]
    fn debug_hides_the_password() {
        let msg = client_message("", "alice", "hunter2");
        let shown = format!("{:?}", parse(&msg).unwrap());
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("alice"));
    }
}
