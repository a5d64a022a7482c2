//! Every SASL parser, fed arbitrary bytes or strings, returns `Ok` or `Err` and never panics.
//!
//! Inputs are both unconstrained bytes and near-misses built from valid messages (a prefix,
//! a few bytes changed), since random bytes rarely get past the first check. SCRAM's
//! client-final and server-final parsers are covered by `sasl/scram/props.rs`, in the crate,
//! where nonces can be fixed so that one key derivation serves every case.

use ferrokafka_protocol::sasl::scram::{ScramClient, ScramCredential, ScramHash, ScramServer};
use ferrokafka_protocol::sasl::{oauthbearer, plain, SaslError};
use proptest::prelude::*;
use std::sync::OnceLock;

fn hash_of(sha512: bool) -> ScramHash {
    if sha512 {
        ScramHash::Sha512
    } else {
        ScramHash::Sha256
    }
}

/// One credential per hash, derived once: PBKDF2 per case would make the run slow.
fn stored(hash: ScramHash) -> ScramCredential {
    static CREDENTIALS: OnceLock<[ScramCredential; 2]> = OnceLock::new();
    let [sha256, sha512] = CREDENTIALS.get_or_init(|| {
        [
            ScramCredential::new(ScramHash::Sha256, "pencil", b"salt-salt", 4096).unwrap(),
            ScramCredential::new(ScramHash::Sha512, "pencil", b"salt-salt", 4096).unwrap(),
        ]
    });
    match hash {
        ScramHash::Sha256 => sha256.clone(),
        ScramHash::Sha512 => sha512.clone(),
    }
}

/// `valid` with some bytes replaced and perhaps cut short.
fn mutate(
    valid: &[u8],
    edits: &[(prop::sample::Index, u8)],
    cut: Option<prop::sample::Index>,
) -> Vec<u8> {
    let mut out = valid.to_vec();
    if !out.is_empty() {
        for (at, byte) in edits {
            let at = at.index(out.len());
            out[at] = *byte;
        }
    }
    if let Some(cut) = cut {
        out.truncate(cut.index(out.len() + 1));
    }
    out
}

fn edits() -> impl Strategy<Value = Vec<(prop::sample::Index, u8)>> {
    prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4)
}

/// Text made of the characters the parsers split on, so the structure varies.
fn sasl_text() -> impl Strategy<Value = String> {
    "[nramcpsiveyk=,0-9A-Za-z+/\\x00\\x01 .]{0,80}"
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn plain_parse_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..64), text in sasl_text()) {
        let _ = plain::parse(&bytes);
        let _ = plain::parse(text.as_bytes());
    }

    #[test]
    fn scram_server_first_never_panics(
        sha512 in any::<bool>(),
        bytes in prop::collection::vec(any::<u8>(), 0..96),
        text in sasl_text(),
        edits in edits(),
        cut in prop::option::of(any::<prop::sample::Index>()),
    ) {
        let hash = hash_of(sha512);
        let valid = ScramClient::new(hash, "al,i=ce", "pencil").client_first();
        for input in [bytes, text.into_bytes(), mutate(&valid, &edits, cut)] {
            let mut server = ScramServer::new(hash);
            let _ = server.server_first(&input, |_| Some(stored(hash)));
            let _ = server.server_first(&input, |_| None);
        }
    }

    #[test]
    fn scram_credential_from_kafka_string_never_panics(
        sha512 in any::<bool>(),
        text in "[a-z_=,0-9A-Za-z+/]{0,120}",
        edits in edits(),
        cut in prop::option::of(any::<prop::sample::Index>()),
    ) {
        let hash = hash_of(sha512);
        let _ = ScramCredential::from_kafka_string(hash, &text);
        let valid = stored(hash).to_kafka_string();
        let mutated = mutate(valid.as_bytes(), &edits, cut);
        if let Ok(mutated) = std::str::from_utf8(&mutated) {
            match ScramCredential::from_kafka_string(hash, mutated) {
                Ok(_) | Err(SaslError::Invalid(_)) => {}
                Err(other) => prop_assert!(false, "unexpected error kind: {other:?}"),
            }
        }
    }

    #[test]
    fn oauthbearer_parse_client_message_never_panics(
        bytes in prop::collection::vec(any::<u8>(), 0..96),
        text in "[na=,\\x01auth Berk=v.\\x02-]{0,80}",
        edits in edits(),
        cut in prop::option::of(any::<prop::sample::Index>()),
    ) {
        let jwt = oauthbearer::unsecured_jwt("alice", 0, 1000, &[]);
        let ext = [("traceId".to_owned(), "x".to_owned())];
        let valid = oauthbearer::client_message(&jwt, Some("al,ice"), &ext);
        for input in [bytes, text.into_bytes(), mutate(&valid, &edits, cut)] {
            if let Ok(parsed) = oauthbearer::parse_client_message(&input) {
                prop_assert!(!parsed.token.expose().is_empty());
            }
            let _ = oauthbearer::parse_error_challenge(&input);
        }
    }

    #[test]
    fn validate_unsecured_jwt_never_panics(
        text in "[A-Za-z0-9_.=-]{0,120}",
        edits in edits(),
        cut in prop::option::of(any::<prop::sample::Index>()),
        now in any::<i64>(),
        skew in any::<i64>(),
        claims in prop::collection::vec(("(sub|exp|iat|scope|alg)", prop_oneof![
            Just("null".to_owned()),
            any::<f64>().prop_map(|f| if f.is_finite() { f.to_string() } else { "1".to_owned() }),
            any::<i64>().prop_map(|i| i.to_string()),
            "[a-z ]{0,8}".prop_map(|s| format!("{s:?}")),
            Just("[\"a\", 1]".to_owned()),
        ]), 0..5),
    ) {
        let _ = oauthbearer::validate_unsecured_jwt(&text, now, skew);
        let valid = oauthbearer::unsecured_jwt("alice", 1_700_000_000_123, 60_000, &["s".to_owned()]);
        if let Ok(mutated) = String::from_utf8(mutate(valid.as_bytes(), &edits, cut)) {
            let _ = oauthbearer::validate_unsecured_jwt(&mutated, now, skew);
        }
        // Claims with arbitrary values and types.
        use base64::Engine;
        let body: Vec<String> = claims.iter().map(|(k, v)| format!("{k:?}:{v}")).collect();
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let token = format!(
            "{}.{}.",
            engine.encode(r#"{"alg":"none"}"#),
            engine.encode(format!("{{{}}}", body.join(",")))
        );
        let _ = oauthbearer::validate_unsecured_jwt(&token, now, skew);
    }
}
