//! SCRAM client against SCRAM server, both hashes, and each way an exchange must fail.
//! The RFC 7677 known answer is a unit test in `sasl/scram/mod.rs` (it needs fixed nonces).

use ferrokafka_protocol::sasl::scram::{
    ScramClient, ScramCredential, ScramHash, ScramServer, MAX_ITERATIONS, MIN_ITERATIONS,
};
use ferrokafka_protocol::sasl::{Mechanism, SaslError};

const HASHES: [ScramHash; 2] = [ScramHash::Sha256, ScramHash::Sha512];

fn credential(hash: ScramHash, password: &str) -> ScramCredential {
    ScramCredential::generate(hash, password, MIN_ITERATIONS).unwrap()
}

/// Runs a whole exchange; returns the server (to ask who logged in) or the first error.
fn exchange(
    hash: ScramHash,
    username: &str,
    password: &str,
    stored: &ScramCredential,
) -> Result<ScramServer, SaslError> {
    let mut client = ScramClient::new(hash, username, password);
    let mut server = ScramServer::new(hash);
    let server_first = server.server_first(&client.client_first(), |user| {
        (user == username).then(|| stored.clone())
    })?;
    let client_final = client.client_final(&server_first)?;
    let server_final = server.server_final(&client_final)?;
    client.verify_server_final(&server_final)?;
    Ok(server)
}

fn generic_failure(hash: ScramHash) -> SaslError {
    SaslError::AuthenticationFailed(format!(
        "Authentication failed during authentication due to invalid credentials with SASL mechanism {}",
        hash.mechanism()
    ))
}

fn is_malformed(result: &Result<Vec<u8>, SaslError>, hash: ScramHash) -> bool {
    matches!(result, Err(SaslError::Malformed { mechanism, .. }) if *mechanism == hash.mechanism())
}

#[test]
fn client_and_server_agree_for_both_hashes() {
    for hash in HASHES {
        let stored = credential(hash, "pencil");
        let server = exchange(hash, "alice", "pencil", &stored).unwrap();
        assert!(server.is_complete());
        assert_eq!(server.username(), Some("alice"));
        assert_eq!(server.claimed_username(), Some("alice"));
    }
}

#[test]
fn a_wrong_password_fails_on_the_server_with_kafkas_message() {
    for hash in HASHES {
        let stored = credential(hash, "pencil");
        let mut client = ScramClient::new(hash, "alice", "crayon");
        let mut server = ScramServer::new(hash);
        let server_first = server
            .server_first(&client.client_first(), |_| Some(stored.clone()))
            .unwrap();
        let client_final = client.client_final(&server_first).unwrap();
        assert_eq!(
            server.server_final(&client_final),
            Err(generic_failure(hash))
        );
        assert!(!server.is_complete());
        assert_eq!(server.username(), None);
        assert_eq!(server.claimed_username(), Some("alice"));
        // A failed exchange stays failed.
        assert!(matches!(
            server.server_final(&client_final),
            Err(SaslError::Invalid(_))
        ));
    }
}

#[test]
fn a_server_that_does_not_know_the_password_fails_on_the_client() {
    for hash in HASHES {
        // An impostor that accepts any proof but can only guess the server key.
        let mut client = ScramClient::new(hash, "alice", "pencil");
        let real = credential(hash, "pencil");
        let mut server = ScramServer::new(hash);
        let server_first = server
            .server_first(&client.client_first(), |_| Some(real.clone()))
            .unwrap();
        let client_final = client.client_final(&server_first).unwrap();
        let genuine = server.server_final(&client_final).unwrap();
        let mut forged = genuine.clone();
        forged[2] = if forged[2] == b'A' { b'B' } else { b'A' };
        assert!(matches!(
            client.verify_server_final(&forged),
            Err(SaslError::AuthenticationFailed(_))
        ));
        assert_eq!(
            client.verify_server_final(b"e=invalid-proof"),
            Err(SaslError::AuthenticationFailed("invalid-proof".into()))
        );
        assert_eq!(client.verify_server_final(&genuine), Ok(()));
    }
}

#[test]
fn unknown_users_get_the_same_message_as_wrong_passwords() {
    for hash in HASHES {
        let client = ScramClient::new(hash, "mallory", "pencil");
        let mut server = ScramServer::new(hash);
        assert_eq!(
            server.server_first(&client.client_first(), |_| None),
            Err(generic_failure(hash))
        );
        assert_eq!(
            generic_failure(hash),
            SaslError::AuthenticationFailed(
                ferrokafka_protocol::sasl::invalid_credentials_message(hash.mechanism())
            )
        );
    }
}

#[test]
fn user_names_with_comma_and_equals_are_escaped() {
    let hash = ScramHash::Sha256;
    let stored = credential(hash, "pencil");
    let client = ScramClient::new(hash, "a,b=c", "pencil");
    let first = String::from_utf8(client.client_first()).unwrap();
    assert!(first.starts_with("n,,n=a=2Cb=3Dc,r="), "{first}");
    let server = exchange(hash, "a,b=c", "pencil", &stored).unwrap();
    assert_eq!(server.username(), Some("a,b=c"));
}

#[test]
fn the_client_refuses_a_server_nonce_that_does_not_extend_its_own() {
    let hash = ScramHash::Sha256;
    let client_nonce = |client: &ScramClient| {
        let first = String::from_utf8(client.client_first()).unwrap();
        first.split(",r=").nth(1).unwrap().to_owned()
    };
    for server_nonce in ["someone-elses-nonce".to_owned(), String::new()] {
        let mut client = ScramClient::new(hash, "alice", "pencil");
        let nonce = if server_nonce.is_empty() {
            client_nonce(&client) // ours, not extended
        } else {
            server_nonce
        };
        let result = client.client_final(format!("r={nonce},s=QSXCR+Q6sek8bf92,i=4096").as_bytes());
        assert!(is_malformed(&result, hash), "{result:?}");
    }
    let mut client = ScramClient::new(hash, "alice", "pencil");
    let nonce = format!("{}xyz", client_nonce(&client));
    let ok = client.client_final(format!("r={nonce},s=QSXCR+Q6sek8bf92,i=4096,x=ext").as_bytes());
    assert!(ok.is_ok(), "{ok:?}");
}

#[test]
fn the_client_refuses_iterations_out_of_range_and_bad_server_first_messages() {
    let hash = ScramHash::Sha256;
    let attempt = |tail: &str| {
        let mut client = ScramClient::new(hash, "alice", "pencil");
        let first = String::from_utf8(client.client_first()).unwrap();
        let nonce = first.split(",r=").nth(1).unwrap().to_owned();
        let server_first = tail.replace("NONCE", &format!("{nonce}srv"));
        client.client_final(server_first.as_bytes())
    };
    for iterations in [0, 1, MIN_ITERATIONS - 1, MAX_ITERATIONS + 1, u32::MAX] {
        let result = attempt(&format!("r=NONCE,s=QSXCR+Q6sek8bf92,i={iterations}"));
        assert!(is_malformed(&result, hash), "{iterations}: {result:?}");
    }
    for iterations in [MIN_ITERATIONS, MAX_ITERATIONS] {
        assert!(attempt(&format!("r=NONCE,s=QSXCR+Q6sek8bf92,i={iterations}")).is_ok());
    }
    for bad in [
        "m=must,r=NONCE,s=QSXCR+Q6sek8bf92,i=4096",
        "r=NONCE,s=not base64!,i=4096",
        "r=NONCE,s=,i=4096",
        "r=NONCE,s=QSXCR+Q6sek8bf92,i=+4096",
        "r=NONCE,s=QSXCR+Q6sek8bf92,i=4096.0",
        "r=NONCE,s=QSXCR+Q6sek8bf92",
        "r=NONCE,i=4096,s=QSXCR+Q6sek8bf92",
        "s=QSXCR+Q6sek8bf92,r=NONCE,i=4096",
        "",
    ] {
        let result = attempt(bad);
        assert!(is_malformed(&result, hash), "{bad}: {result:?}");
    }
    assert_eq!(
        attempt("e=unknown-user"),
        Err(SaslError::AuthenticationFailed("unknown-user".into()))
    );
}

#[test]
fn steps_out_of_order_are_refused_not_panics() {
    let hash = ScramHash::Sha512;
    let stored = credential(hash, "pencil");
    let mut client = ScramClient::new(hash, "alice", "pencil");
    assert!(matches!(
        client.verify_server_final(b"v=AAAA"),
        Err(SaslError::Invalid(_))
    ));
    let mut server = ScramServer::new(hash);
    assert!(matches!(
        server.server_final(b"c=biws,r=x,p=AAAA"),
        Err(SaslError::Invalid(_))
    ));
    let server_first = server
        .server_first(&client.client_first(), |_| Some(stored.clone()))
        .unwrap();
    assert!(matches!(
        server.server_first(&client.client_first(), |_| Some(stored.clone())),
        Err(SaslError::Invalid(_))
    ));
    let client_final = client.client_final(&server_first).unwrap();
    assert!(matches!(
        client.client_final(&server_first),
        Err(SaslError::Invalid(_))
    ));
    let server_final = server.server_final(&client_final).unwrap();
    assert!(matches!(
        server.server_final(&client_final),
        Err(SaslError::Invalid(_))
    ));
    client.verify_server_final(&server_final).unwrap();
    assert!(server.is_complete());

    // A client whose client_final failed stays failed.
    let mut client = ScramClient::new(hash, "alice", "pencil");
    assert!(client.client_final(b"garbage").is_err());
    assert!(matches!(
        client.client_final(&server_first),
        Err(SaslError::Invalid(_))
    ));
}

#[test]
fn the_server_checks_client_first() {
    let hash = ScramHash::Sha256;
    let stored = credential(hash, "pencil");
    let first = |message: &str| {
        let mut server = ScramServer::new(hash);
        server.server_first(message.as_bytes(), |_| Some(stored.clone()))
    };
    // Unknown extensions are ignored; delegation tokens are refused.
    assert!(first("n,,n=alice,r=abcdefgh,future=1").is_ok());
    assert!(first("n,,n=alice,r=abcdefgh,tokenauth=false").is_ok());
    for token in ["tokenauth=true", "tokenauth=TRUE"] {
        assert!(matches!(
            first(&format!("n,,n=alice,r=abcdefgh,{token}")),
            Err(SaslError::AuthenticationFailed(m)) if m.contains("delegation tokens")
        ));
    }
    assert_eq!(
        first("n,a=bob,n=alice,r=abcdefgh"),
        Err(SaslError::AuthenticationFailed(
            "Authentication failed: Client requested an authorization id that is different from username".into()
        ))
    );
    assert!(first("n,a=alice,n=alice,r=abcdefgh").is_ok());
    for bad in [
        "y,,n=alice,r=abcdefgh",
        "p=tls-unique,,n=alice,r=abcdefgh",
        "n,,m=ext,n=alice,r=abcdefgh",
        "n,,n=,r=abcdefgh",
        "n,,n=al=ice,r=abcdefgh",
        "n,,n=alice,r=",
        "n,,n=alice,r=ab cd",
        "n,,n=alice",
        "n,,r=abcdefgh,n=alice",
        "n,,n=alice,r=abcdefgh,=x",
        "n,,n=alice,r=abcdefgh,k1=x",
        "n,,n=alice,r=abcdefgh,k=",
        "n,a=,n=alice,r=abcdefgh",
        "n,x=alice,n=alice,r=abcdefgh",
        "n,",
        "",
    ] {
        let result = first(bad);
        assert!(is_malformed(&result, hash), "{bad}: {result:?}");
    }
    assert!(is_malformed(&first("n,,n=\u{0}x,r=a"), hash));
}

#[test]
fn the_server_checks_channel_binding_and_nonce_in_client_final() {
    let hash = ScramHash::Sha256;
    let stored = credential(hash, "pencil");
    // A client with an authorization id: its channel binding is base64("n,a=alice,").
    let mut server = ScramServer::new(hash);
    let server_first = server
        .server_first(b"n,a=alice,n=alice,r=abcdefgh", |_| Some(stored.clone()))
        .unwrap();
    let nonce = String::from_utf8(server_first).unwrap();
    let nonce = nonce
        .split(',')
        .next()
        .unwrap()
        .strip_prefix("r=")
        .unwrap()
        .to_owned();
    let proof = "A".repeat(43) + "=";
    let result = server.server_final(format!("c=biws,r={nonce},p={proof}").as_bytes());
    assert!(is_malformed(&result, hash), "{result:?}");

    let mut server = ScramServer::new(hash);
    server
        .server_first(b"n,,n=alice,r=abcdefgh", |_| Some(stored.clone()))
        .unwrap();
    let result = server.server_final(format!("c=biws,r=abcdefgh,p={proof}").as_bytes());
    assert!(is_malformed(&result, hash), "{result:?}");
}

#[test]
fn an_unusable_stored_credential_is_a_configuration_error() {
    let hash = ScramHash::Sha512;
    let short = credential(ScramHash::Sha256, "pencil"); // 32-byte keys for a 64-byte hash
    let mut server = ScramServer::new(hash);
    assert!(matches!(
        server.server_first(b"n,,n=alice,r=abcdefgh", |_| Some(short)),
        Err(SaslError::Invalid(_))
    ));
}

#[test]
fn credentials_round_trip_through_kafkas_text_form() {
    for hash in HASHES {
        let stored = credential(hash, "pencil");
        let text = stored.to_kafka_string();
        assert!(text.starts_with("salt="), "{text}");
        assert!(text.ends_with(",iterations=4096"), "{text}");
        assert_eq!(
            ScramCredential::from_kafka_string(hash, &text),
            Ok(stored.clone())
        );
        // Keys in another order are fine.
        let mut parts: Vec<&str> = text.split(',').collect();
        parts.reverse();
        assert_eq!(
            ScramCredential::from_kafka_string(hash, &parts.join(",")),
            Ok(stored.clone())
        );
    }
    let sha256 = credential(ScramHash::Sha256, "pencil").to_kafka_string();
    assert!(matches!(
        ScramCredential::from_kafka_string(ScramHash::Sha512, &sha256),
        Err(SaslError::Invalid(m)) if m.contains("stored_key is 32 bytes")
    ));
    let salt = "salt=QSXCR+Q6sek8bf92";
    let key = "A".repeat(43) + "=";
    for bad in [
        String::new(),
        "salt".to_owned(),
        format!("{salt},stored_key={key},server_key={key}"),
        format!("{salt},stored_key={key},server_key={key},iterations=4096,extra=1"),
        format!("{salt},stored_key={key},server_key={key},iterations=4096,iterations=4096"),
        format!("{salt},stored_key={key},server_key={key},iterations=4095"),
        format!("{salt},stored_key={key},server_key={key},iterations=16385"),
        format!("{salt},stored_key={key},server_key={key},iterations=-4096"),
        format!("{salt},stored_key=!!,server_key={key},iterations=4096"),
        format!("salt=,stored_key={key},server_key={key},iterations=4096"),
    ] {
        assert!(
            matches!(
                ScramCredential::from_kafka_string(ScramHash::Sha256, &bad),
                Err(SaslError::Invalid(_))
            ),
            "{bad}"
        );
    }
    let good = format!("{salt},stored_key={key},server_key={key},iterations=4096");
    assert!(ScramCredential::from_kafka_string(ScramHash::Sha256, &good).is_ok());
}

#[test]
fn verify_password_checks_against_the_salted_store() {
    for hash in HASHES {
        let stored = credential(hash, "pencil");
        assert!(stored.verify_password(hash, "pencil"));
        assert!(!stored.verify_password(hash, "Pencil"));
        assert!(!stored.verify_password(hash, ""));
        let other = if hash == ScramHash::Sha256 {
            ScramHash::Sha512
        } else {
            ScramHash::Sha256
        };
        assert!(!stored.verify_password(other, "pencil"));
        let mut absurd = stored.clone();
        absurd.iterations = u32::MAX;
        assert!(!absurd.verify_password(hash, "pencil"));
    }
}

#[test]
fn credential_constructors_check_their_arguments() {
    let hash = ScramHash::Sha256;
    for iterations in [0, MIN_ITERATIONS - 1, MAX_ITERATIONS + 1] {
        assert!(matches!(
            ScramCredential::generate(hash, "pw", iterations),
            Err(SaslError::Invalid(m)) if m.contains(&iterations.to_string())
        ));
        assert!(matches!(
            ScramCredential::new(hash, "pw", b"salt", iterations),
            Err(SaslError::Invalid(_))
        ));
    }
    assert!(matches!(
        ScramCredential::new(hash, "pw", b"", 4096),
        Err(SaslError::Invalid(_))
    ));
    let a = ScramCredential::generate(hash, "pw", 4096).unwrap();
    let b = ScramCredential::generate(hash, "pw", 4096).unwrap();
    assert_eq!(a.salt.len(), 32);
    assert_ne!(a.salt, b.salt, "salts are random");
    assert_eq!(
        ScramCredential::new(hash, "pw", &a.salt, 4096).unwrap(),
        a,
        "same salt, same credential"
    );
}

#[test]
fn debug_output_never_shows_secrets() {
    let hash = ScramHash::Sha256;
    let stored = ScramCredential::generate(hash, "hunter2", 4096).unwrap();
    let text = stored.to_kafka_string();
    let shown = format!("{stored:?}");
    assert_eq!(
        shown,
        "ScramCredential { iterations: 4096, salt_len: 32, .. }"
    );
    for part in text.split(',') {
        let value = part.split_once('=').unwrap().1;
        if value != "4096" {
            assert!(!shown.contains(value), "{shown} shows {value}");
        }
    }
    let mut client = ScramClient::new(hash, "alice", "hunter2");
    let mut server = ScramServer::new(hash);
    let server_first = server
        .server_first(&client.client_first(), |_| Some(stored.clone()))
        .unwrap();
    client.client_final(&server_first).unwrap();
    for shown in [
        format!("{client:?}"),
        format!("{server:?}"),
        format!("{client:#?}"),
    ] {
        assert!(!shown.contains("hunter2"), "{shown}");
        for part in text.split(',').take(3) {
            assert!(!shown.contains(part.split_once('=').unwrap().1), "{shown}");
        }
    }
    assert!(format!("{client:?}").contains("[redacted]"));
}

#[test]
fn peers_get_kafkas_generic_message_for_anything_but_an_authentication_failure() {
    let malformed = SaslError::Malformed {
        mechanism: Mechanism::ScramSha256,
        reason: "the nonce in client-final is not the one agreed".into(),
    };
    assert_eq!(
        malformed.message_for_peer(Mechanism::ScramSha256),
        "Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-256"
    );
    let refused =
        SaslError::AuthenticationFailed("Authentication failed: username not specified".into());
    assert_eq!(
        refused.message_for_peer(Mechanism::Plain),
        "Authentication failed: username not specified"
    );
}
