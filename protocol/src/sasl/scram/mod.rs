//! SASL/SCRAM-SHA-256 and SCRAM-SHA-512 (RFC 5802, RFC 7677) as Kafka uses them: no channel
//! binding (gs2 header `n,,` or `n,a=<authzid>,`), user names sent as-is (no SASLprep, like
//! Kafka), iteration counts 4096..=16384.
//!
//! This module holds what both sides share: the hash choice, the key derivation, and the
//! salted credential a broker stores ([`ScramCredential`], in Kafka's text form too). The
//! exchanges are [`ScramClient`] and [`ScramServer`]. All cryptography is RustCrypto's
//! (`pbkdf2`, `hmac`, `sha2`); comparisons of secrets go through `subtle`.
//!
//! What not: delegation tokens (`tokenauth=true` is refused), channel binding
//! (`SCRAM-*-PLUS`), credential updates (the broker's job).

mod client;
#[cfg(test)]
mod props;
mod server;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256, Sha512};
use std::fmt;

pub use client::ScramClient;
pub use server::ScramServer;

use super::{constant_time_eq, Mechanism, SaslError};

/// Kafka's minimum iteration count, for both hashes.
pub const MIN_ITERATIONS: u32 = 4096;

/// Kafka's maximum when creating credentials. The client refuses more from a server too: a
/// hostile broker must not make us burn CPU.
pub const MAX_ITERATIONS: u32 = 16384;

/// Length of the random nonces we make: alphanumeric, so about 190 bits.
const NONCE_LEN: usize = 32;

/// Length of the salt [`ScramCredential::generate`] draws, in bytes.
const SALT_LEN: usize = 32;

/// The hash function of a SCRAM mechanism.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScramHash {
    /// SCRAM-SHA-256.
    Sha256,
    /// SCRAM-SHA-512.
    Sha512,
}

impl ScramHash {
    /// The SASL mechanism using this hash.
    pub fn mechanism(self) -> Mechanism {
        match self {
            ScramHash::Sha256 => Mechanism::ScramSha256,
            ScramHash::Sha512 => Mechanism::ScramSha512,
        }
    }

    /// The hash of a SCRAM mechanism; `None` for the others.
    pub fn from_mechanism(m: Mechanism) -> Option<ScramHash> {
        match m {
            Mechanism::ScramSha256 => Some(ScramHash::Sha256),
            Mechanism::ScramSha512 => Some(ScramHash::Sha512),
            Mechanism::Plain | Mechanism::OAuthBearer => None,
        }
    }

    /// Bytes of hash output, and so of every key and signature.
    pub fn output_len(self) -> usize {
        match self {
            ScramHash::Sha256 => 32,
            ScramHash::Sha512 => 64,
        }
    }

    /// `Hi(password, salt, i)` of RFC 5802, which is PBKDF2 with HMAC of this hash.
    /// `Hi(password, salt, iterations)` of RFC 5802 (PBKDF2 with this hash's HMAC): what a
    /// client sends as the salted password to set a credential (AlterUserScramCredentials).
    pub fn salted_password(self, password: &str, salt: &[u8], iterations: u32) -> Vec<u8> {
        let mut out = vec![0; self.output_len()];
        match self {
            ScramHash::Sha256 => {
                pbkdf2::pbkdf2_hmac::<Sha256>(password.as_bytes(), salt, iterations, &mut out)
            }
            ScramHash::Sha512 => {
                pbkdf2::pbkdf2_hmac::<Sha512>(password.as_bytes(), salt, iterations, &mut out)
            }
        }
        out
    }

    fn hmac(self, key: &[u8], data: &[u8]) -> Result<Vec<u8>, SaslError> {
        match self {
            ScramHash::Sha256 => hmac_with::<Hmac<Sha256>>(key, data),
            ScramHash::Sha512 => hmac_with::<Hmac<Sha512>>(key, data),
        }
    }

    fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            ScramHash::Sha256 => Sha256::digest(data).to_vec(),
            ScramHash::Sha512 => Sha512::digest(data).to_vec(),
        }
    }

    /// `ClientKey` and `ServerKey` from a salted password.
    fn client_and_server_keys(self, salted: &[u8]) -> Result<(Vec<u8>, Vec<u8>), SaslError> {
        Ok((
            self.hmac(salted, b"Client Key")?,
            self.hmac(salted, b"Server Key")?,
        ))
    }

    fn malformed(self, reason: impl Into<String>) -> SaslError {
        SaslError::malformed(self.mechanism(), reason)
    }

    /// Kafka's answer to a failed SCRAM exchange, which names nothing but the mechanism.
    fn invalid_credentials(self) -> SaslError {
        SaslError::AuthenticationFailed(super::invalid_credentials_message(self.mechanism()))
    }
}

fn hmac_with<M: Mac + hmac::digest::KeyInit>(
    key: &[u8],
    data: &[u8],
) -> Result<Vec<u8>, SaslError> {
    // HMAC takes keys of any length, so this error cannot happen; it is mapped, not unwrapped.
    let mut mac = <M as Mac>::new_from_slice(key)
        .map_err(|_| SaslError::Invalid("HMAC refused its key".into()))?;
    mac.update(data);
    Ok(mac.finalize().into_bytes().to_vec())
}

fn xor(a: &[u8], b: &[u8]) -> Vec<u8> {
    a.iter().zip(b).map(|(x, y)| x ^ y).collect()
}

fn check_iterations(iterations: u32) -> Result<(), SaslError> {
    if (MIN_ITERATIONS..=MAX_ITERATIONS).contains(&iterations) {
        Ok(())
    } else {
        Err(SaslError::Invalid(format!(
            "SCRAM iterations {iterations} outside {MIN_ITERATIONS}..={MAX_ITERATIONS}"
        )))
    }
}

/// A random nonce: printable, and free of `,` as RFC 5802 requires.
fn random_nonce() -> String {
    use rand::Rng;
    rand::thread_rng()
        .sample_iter(&rand::distributions::Alphanumeric)
        .take(NONCE_LEN)
        .map(char::from)
        .collect()
}

/// RFC 5802's `printable`: ASCII 0x21..=0x7E except `,`. Nonces must be non-empty and made of it.
fn is_printable_nonce(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| (0x21..=0x7e).contains(&b) && b != b',')
}

/// What a broker stores for one user and one SCRAM mechanism: never the password, only what
/// lets it check a proof (`stored_key`) and prove itself (`server_key`).
#[derive(Clone, PartialEq, Eq)]
pub struct ScramCredential {
    /// The salt of the key derivation.
    pub salt: Vec<u8>,
    /// PBKDF2 iteration count.
    pub iterations: u32,
    /// `H(HMAC(SaltedPassword, "Client Key"))`.
    pub stored_key: Vec<u8>,
    /// `HMAC(SaltedPassword, "Server Key")`.
    pub server_key: Vec<u8>,
}

impl fmt::Debug for ScramCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The keys are password equivalents for this server; the salt is shown by size only.
        f.debug_struct("ScramCredential")
            .field("iterations", &self.iterations)
            .field("salt_len", &self.salt.len())
            .finish_non_exhaustive()
    }
}

impl ScramCredential {
    /// Derives the credential for `password` with the given salt; checks the iteration range
    /// and that the salt is not empty.
    pub fn new(
        hash: ScramHash,
        password: &str,
        salt: &[u8],
        iterations: u32,
    ) -> Result<ScramCredential, SaslError> {
        // Before the derivation, whose cost the iteration count sets.
        check_iterations(iterations)?;
        let salted = hash.salted_password(password, salt, iterations);
        ScramCredential::from_salted_password(hash, &salted, salt, iterations)
    }

    /// The credential for a password already salted by the client (`salted_password` =
    /// PBKDF2 of the password with `salt` and `iterations`), as AlterUserScramCredentials
    /// carries it; checks the iteration range and that the salt is not empty. The salted
    /// password is taken as given (as Kafka takes it): a wrong one only fails the logins.
    pub fn from_salted_password(
        hash: ScramHash,
        salted_password: &[u8],
        salt: &[u8],
        iterations: u32,
    ) -> Result<ScramCredential, SaslError> {
        check_iterations(iterations)?;
        if salt.is_empty() {
            return Err(SaslError::Invalid("SCRAM salt must not be empty".into()));
        }
        let (client_key, server_key) = hash.client_and_server_keys(salted_password)?;
        Ok(ScramCredential {
            salt: salt.to_vec(),
            iterations,
            stored_key: hash.digest(&client_key),
            server_key,
        })
    }

    /// Like [`new`](Self::new), with a random 32-byte salt from the operating system.
    pub fn generate(
        hash: ScramHash,
        password: &str,
        iterations: u32,
    ) -> Result<ScramCredential, SaslError> {
        check_iterations(iterations)?;
        let mut salt = [0u8; SALT_LEN];
        rand::rngs::OsRng
            .try_fill_bytes(&mut salt)
            .map_err(|e| SaslError::Invalid(format!("no randomness for a SCRAM salt: {e}")))?;
        ScramCredential::new(hash, password, &salt, iterations)
    }

    /// Kafka's text form: `salt=<b64>,stored_key=<b64>,server_key=<b64>,iterations=<n>`.
    pub fn to_kafka_string(&self) -> String {
        format!(
            "salt={},stored_key={},server_key={},iterations={}",
            BASE64.encode(&self.salt),
            BASE64.encode(&self.stored_key),
            BASE64.encode(&self.server_key),
            self.iterations
        )
    }

    /// Parses Kafka's text form (keys in any order, each exactly once), checking that both
    /// keys are as long as the hash output and the iterations are in range. Errors are
    /// [`SaslError::Invalid`] and never quote the input.
    pub fn from_kafka_string(hash: ScramHash, s: &str) -> Result<ScramCredential, SaslError> {
        let invalid = |what: String| SaslError::Invalid(format!("SCRAM credential: {what}"));
        let mut salt = None;
        let mut stored_key = None;
        let mut server_key = None;
        let mut iterations = None;
        for pair in s.split(',') {
            let (key, value) = pair
                .split_once('=')
                .ok_or_else(|| invalid("expected key=value pairs".into()))?;
            let slot = match key {
                "salt" => &mut salt,
                "stored_key" => &mut stored_key,
                "server_key" => &mut server_key,
                "iterations" => &mut iterations,
                _ => {
                    return Err(invalid(
                        "unknown key (expected salt, stored_key, server_key, iterations)".into(),
                    ))
                }
            };
            if slot.replace(value).is_some() {
                return Err(invalid(format!("{key} given twice")));
            }
        }
        fn required<'a>(name: &str, value: Option<&'a str>) -> Result<&'a str, SaslError> {
            value.ok_or_else(|| SaslError::Invalid(format!("SCRAM credential: {name} missing")))
        }
        let decode = |name: &str, value: Option<&str>| {
            BASE64
                .decode(required(name, value)?)
                .map_err(|_| invalid(format!("{name} is not base64")))
        };
        let salt = decode("salt", salt)?;
        let stored_key = decode("stored_key", stored_key)?;
        let server_key = decode("server_key", server_key)?;
        let iterations_text = required("iterations", iterations)?;
        let iterations = iterations_text
            .parse::<u32>()
            .ok()
            .filter(|_| iterations_text.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| invalid("iterations is not a number".into()))?;
        check_iterations(iterations)?;
        if salt.is_empty() {
            return Err(invalid("salt is empty".into()));
        }
        for (name, key) in [("stored_key", &stored_key), ("server_key", &server_key)] {
            if key.len() != hash.output_len() {
                return Err(invalid(format!(
                    "{name} is {} bytes, {} needs {}",
                    key.len(),
                    hash.mechanism(),
                    hash.output_len()
                )));
            }
        }
        Ok(ScramCredential {
            salt,
            iterations,
            stored_key,
            server_key,
        })
    }

    /// True if `password` matches: derives with the stored salt and iterations and compares
    /// `stored_key` in constant time. Lets a broker check PLAIN logins against the same salted
    /// store.
    ///
    /// False, without deriving anything, when the iterations are outside the accepted range.
    pub fn verify_password(&self, hash: ScramHash, password: &str) -> bool {
        if check_iterations(self.iterations).is_err() {
            return false;
        }
        let salted = hash.salted_password(password, &self.salt, self.iterations);
        match hash.client_and_server_keys(&salted) {
            Ok((client_key, _)) => constant_time_eq(&hash.digest(&client_key), &self.stored_key),
            Err(_) => false,
        }
    }

    /// True if the fields fit `hash` and our iteration range, so the credential can be used
    /// in an exchange.
    fn is_usable(&self, hash: ScramHash) -> bool {
        check_iterations(self.iterations).is_ok()
            && !self.salt.is_empty()
            && self.stored_key.len() == hash.output_len()
            && self.server_key.len() == hash.output_len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 7677, section 3.
    const RFC_CLIENT_FIRST: &str = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
    const RFC_SERVER_FIRST: &str =
        "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
    const RFC_CLIENT_FINAL: &str = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
    const RFC_SERVER_FINAL: &str = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

    #[test]
    fn rfc_7677_client_side() {
        let mut client =
            ScramClient::with_nonce(ScramHash::Sha256, "user", "pencil", "rOprNGfwEbeRWgbNEkqO");
        assert_eq!(client.client_first(), RFC_CLIENT_FIRST.as_bytes());
        let client_final = client.client_final(RFC_SERVER_FIRST.as_bytes()).unwrap();
        assert_eq!(String::from_utf8(client_final).unwrap(), RFC_CLIENT_FINAL);
        client
            .verify_server_final(RFC_SERVER_FINAL.as_bytes())
            .unwrap();
        let mut forged = RFC_SERVER_FINAL.to_owned();
        forged.replace_range(2..3, "7");
        assert!(matches!(
            client.verify_server_final(forged.as_bytes()),
            Err(SaslError::AuthenticationFailed(_))
        ));
    }

    #[test]
    fn rfc_7677_server_side() {
        let salt = BASE64.decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap();
        let credential = ScramCredential::new(ScramHash::Sha256, "pencil", &salt, 4096).unwrap();
        let mut server =
            ScramServer::with_nonce(ScramHash::Sha256, "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0");
        let server_first = server
            .server_first(RFC_CLIENT_FIRST.as_bytes(), |user| {
                (user == "user").then(|| credential.clone())
            })
            .unwrap();
        assert_eq!(String::from_utf8(server_first).unwrap(), RFC_SERVER_FIRST);
        assert!(!server.is_complete());
        let server_final = server.server_final(RFC_CLIENT_FINAL.as_bytes()).unwrap();
        assert_eq!(String::from_utf8(server_final).unwrap(), RFC_SERVER_FINAL);
        assert!(server.is_complete());
        assert_eq!(server.username(), Some("user"));
    }

    #[test]
    fn hash_and_mechanism_agree() {
        for hash in [ScramHash::Sha256, ScramHash::Sha512] {
            assert_eq!(ScramHash::from_mechanism(hash.mechanism()), Some(hash));
        }
        assert_eq!(ScramHash::from_mechanism(Mechanism::Plain), None);
        assert_eq!(ScramHash::from_mechanism(Mechanism::OAuthBearer), None);
    }

    #[test]
    fn nonces_are_long_printable_and_fresh() {
        let a = random_nonce();
        assert!(a.len() >= 24 && is_printable_nonce(&a), "{a}");
        assert_ne!(a, random_nonce());
    }
}
