//! Property tests of the SCRAM steps that run after a key derivation: the client's
//! client-final and server-final checks, and the server's client-final check.
//!
//! They live in the crate because both nonces can be fixed here: one exchange, derived once
//! per hash, gives valid messages to mutate, and no case pays for PBKDF2 again unless its
//! mutated server-first still parses.

use super::*;
use proptest::prelude::*;
use std::sync::OnceLock;

const CLIENT_NONCE: &str = "fixedClientNonce0123456789";
const SERVER_NONCE: &str = "fixedServerNonce9876543210";

struct Fixture {
    credential: ScramCredential,
    client_first: Vec<u8>,
    server_first: Vec<u8>,
    client_final: Vec<u8>,
    server_final: Vec<u8>,
    /// A client that sent `client_final` and waits for server-final.
    client: ScramClient,
}

fn fixture(hash: ScramHash) -> &'static Fixture {
    static FIXTURES: OnceLock<[Fixture; 2]> = OnceLock::new();
    let [sha256, sha512] =
        FIXTURES.get_or_init(|| [make(ScramHash::Sha256), make(ScramHash::Sha512)]);
    match hash {
        ScramHash::Sha256 => sha256,
        ScramHash::Sha512 => sha512,
    }
}

fn make(hash: ScramHash) -> Fixture {
    let credential = ScramCredential::new(hash, "pencil", b"fixed salt", MIN_ITERATIONS).unwrap();
    let mut client = ScramClient::with_nonce(hash, "al,i=ce", "pencil", CLIENT_NONCE);
    let mut server = ScramServer::with_nonce(hash, SERVER_NONCE);
    let client_first = client.client_first();
    let server_first = server
        .server_first(&client_first, |_| Some(credential.clone()))
        .unwrap();
    let client_final = client.client_final(&server_first).unwrap();
    let server_final = server.server_final(&client_final).unwrap();
    client.verify_server_final(&server_final).unwrap();
    Fixture {
        credential,
        client_first,
        server_first,
        client_final,
        server_final,
        client,
    }
}

fn hash_of(sha512: bool) -> ScramHash {
    if sha512 {
        ScramHash::Sha512
    } else {
        ScramHash::Sha256
    }
}

/// The inputs of one case: arbitrary bytes, text built from SCRAM's own characters, and
/// `valid` with a few bytes replaced and perhaps cut short.
fn inputs(
    valid: &[u8],
    bytes: Vec<u8>,
    text: String,
    edits: &[(prop::sample::Index, u8)],
    cut: Option<prop::sample::Index>,
) -> [Vec<u8>; 3] {
    let mut mutated = valid.to_vec();
    for (at, byte) in edits {
        let at = at.index(mutated.len());
        mutated[at] = *byte;
    }
    if let Some(cut) = cut {
        mutated.truncate(cut.index(mutated.len() + 1));
    }
    [bytes, text.into_bytes(), mutated]
}

fn edits() -> impl Strategy<Value = Vec<(prop::sample::Index, u8)>> {
    prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4)
}

const SCRAM_TEXT: &str = "[rscpiemv=,0-9A-Za-z+/ ]{0,120}";

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn server_final_accepts_only_the_genuine_proof(
        sha512 in any::<bool>(),
        bytes in prop::collection::vec(any::<u8>(), 0..160),
        text in SCRAM_TEXT,
        edits in edits(),
        cut in prop::option::of(any::<prop::sample::Index>()),
    ) {
        let f = fixture(hash_of(sha512));
        for input in inputs(&f.client_final, bytes, text, &edits, cut) {
            let mut server = ScramServer::with_nonce(hash_of(sha512), SERVER_NONCE);
            server.server_first(&f.client_first, |_| Some(f.credential.clone())).unwrap();
            let result = server.server_final(&input);
            prop_assert_eq!(result.is_ok(), input == f.client_final);
            prop_assert_eq!(server.is_complete(), result.is_ok());
        }
    }

    #[test]
    fn client_final_never_panics(
        sha512 in any::<bool>(),
        bytes in prop::collection::vec(any::<u8>(), 0..128),
        text in SCRAM_TEXT,
        edits in edits(),
        cut in prop::option::of(any::<prop::sample::Index>()),
    ) {
        let hash = hash_of(sha512);
        let f = fixture(hash);
        for input in inputs(&f.server_first, bytes, text, &edits, cut) {
            let mut client = ScramClient::with_nonce(hash, "al,i=ce", "pencil", CLIENT_NONCE);
            if let Ok(answer) = client.client_final(&input) {
                prop_assert_eq!(answer == f.client_final, input == f.server_first);
            }
        }
    }

    #[test]
    fn verify_server_final_accepts_only_the_genuine_signature(
        sha512 in any::<bool>(),
        bytes in prop::collection::vec(any::<u8>(), 0..128),
        text in SCRAM_TEXT,
        edits in edits(),
        cut in prop::option::of(any::<prop::sample::Index>()),
    ) {
        let f = fixture(hash_of(sha512));
        for input in inputs(&f.server_final, bytes, text, &edits, cut) {
            let result = f.client.verify_server_final(&input);
            // Extensions after the signature are ignored.
            let genuine = input == f.server_final
                || input.strip_prefix(f.server_final.as_slice()).is_some_and(|rest| rest.starts_with(b","));
            prop_assert_eq!(result.is_ok(), genuine, "{:?}", result);
        }
    }
}
