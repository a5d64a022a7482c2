//! PLAIN from client to server, with the password checked the way a broker that keeps only
//! salted SCRAM credentials would.

use ferrokafka_protocol::sasl::plain::{self, PlainMessage, INVALID_USERNAME_OR_PASSWORD};
use ferrokafka_protocol::sasl::scram::{ScramCredential, ScramHash};
use ferrokafka_protocol::sasl::SaslError;

/// The broker's side: parse, then check the password against the store.
fn login(message: &[u8], store: &[(&str, ScramCredential)]) -> Result<String, SaslError> {
    let PlainMessage {
        username, password, ..
    } = plain::parse(message)?;
    let known = store
        .iter()
        .find(|(user, _)| *user == username)
        .is_some_and(|(_, credential)| credential.verify_password(ScramHash::Sha512, password));
    if known {
        Ok(username.to_owned())
    } else {
        Err(SaslError::AuthenticationFailed(
            INVALID_USERNAME_OR_PASSWORD.into(),
        ))
    }
}

#[test]
fn client_and_server_agree() {
    let store = [(
        "alice",
        ScramCredential::generate(ScramHash::Sha512, "pässword", 4096).unwrap(),
    )];
    assert_eq!(
        login(&plain::client_message("", "alice", "pässword"), &store),
        Ok("alice".into())
    );
    assert_eq!(
        login(&plain::client_message("alice", "alice", "pässword"), &store),
        Ok("alice".into())
    );
    let refused = Err(SaslError::AuthenticationFailed(
        "Authentication failed: Invalid username or password".into(),
    ));
    assert_eq!(
        login(&plain::client_message("", "alice", "password"), &store),
        refused
    );
    assert_eq!(
        login(&plain::client_message("", "bob", "pässword"), &store),
        refused
    );
    assert!(matches!(
        login(&plain::client_message("bob", "alice", "pässword"), &store),
        Err(SaslError::AuthenticationFailed(m)) if m.contains("authorization id")
    ));
    // A NUL inside a field makes a fourth field.
    assert!(matches!(
        login(&plain::client_message("", "alice", "päss\0word"), &store),
        Err(SaslError::Malformed { .. })
    ));
}
