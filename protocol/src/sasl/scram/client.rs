//! The client side of a SCRAM exchange: client-first, then client-final from the server's
//! first message, then a check of the server's signature.
//!
//! The server is not trusted: its nonce must extend ours, its iteration count must be in
//! `MIN_ITERATIONS..=MAX_ITERATIONS` (so it cannot make us spin), a mandatory extension
//! (`m=`) is refused, and its signature is compared in constant time.

use std::fmt;

use super::{
    is_printable_nonce, random_nonce, xor, ScramHash, BASE64, MAX_ITERATIONS, MIN_ITERATIONS,
};
use crate::sasl::{constant_time_eq, escape_saslname, SaslError, Secret};
use base64::Engine;

/// The gs2 header we send: no channel binding, no authorization id. Its base64 is `biws`.
const GS2_HEADER: &str = "n,,";

/// One client's SCRAM exchange. Use once: `client_first`, `client_final`,
/// `verify_server_final`.
pub struct ScramClient {
    hash: ScramHash,
    password: Secret,
    nonce: String,
    /// `n=<saslname>,r=<nonce>`, part of the signed auth message.
    client_first_bare: String,
    state: State,
}

enum State {
    AwaitingServerFirst,
    /// The signature a genuine server will send, computed with the proof.
    AwaitingServerFinal {
        server_signature: Vec<u8>,
    },
    Failed,
}

impl State {
    fn name(&self) -> &'static str {
        match self {
            State::AwaitingServerFirst => "awaiting server-first",
            State::AwaitingServerFinal { .. } => "awaiting server-final",
            State::Failed => "failed",
        }
    }
}

impl fmt::Debug for ScramClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScramClient")
            .field("hash", &self.hash)
            .field("client_first_bare", &self.client_first_bare)
            .field("password", &self.password)
            .field("state", &self.state.name())
            .finish()
    }
}

impl ScramClient {
    /// Starts an exchange for `username` with a fresh random nonce.
    pub fn new(hash: ScramHash, username: &str, password: &str) -> ScramClient {
        ScramClient::with_nonce(hash, username, password, &random_nonce())
    }

    /// With a chosen nonce, for known-answer tests only.
    pub(crate) fn with_nonce(
        hash: ScramHash,
        username: &str,
        password: &str,
        nonce: &str,
    ) -> ScramClient {
        ScramClient {
            hash,
            password: Secret::new(password),
            nonce: nonce.to_owned(),
            client_first_bare: format!("n={},r={nonce}", escape_saslname(username)),
            state: State::AwaitingServerFirst,
        }
    }

    /// The first message: `n,,n=<saslname>,r=<nonce>`.
    pub fn client_first(&self) -> Vec<u8> {
        format!("{GS2_HEADER}{}", self.client_first_bare).into_bytes()
    }

    /// Answers the server's first message with the proof (`c=biws,r=<nonce>,p=<proof>`).
    ///
    /// The server's `e=` is [`SaslError::AuthenticationFailed`]; a nonce that does not extend
    /// ours, a salt that is not base64, iterations out of range or an `m=` extension are
    /// [`SaslError::Malformed`]. Called twice, or after a failure: [`SaslError::Invalid`].
    pub fn client_final(&mut self, server_first: &[u8]) -> Result<Vec<u8>, SaslError> {
        match std::mem::replace(&mut self.state, State::Failed) {
            State::AwaitingServerFirst => {}
            other => {
                let err = out_of_order("client_final", &other);
                self.state = other;
                return Err(err);
            }
        }
        let (message, server_signature) = self.answer(server_first)?;
        self.state = State::AwaitingServerFinal { server_signature };
        Ok(message)
    }

    fn answer(&self, server_first: &[u8]) -> Result<(Vec<u8>, Vec<u8>), SaslError> {
        let hash = self.hash;
        let text = std::str::from_utf8(server_first)
            .map_err(|_| hash.malformed("server-first is not UTF-8"))?;
        let first = parse_server_first(hash, text)?;
        if !first.nonce.starts_with(&self.nonce) || first.nonce.len() <= self.nonce.len() {
            return Err(hash.malformed("the server nonce does not extend the client nonce"));
        }
        let salted = hash.salted_password(self.password.expose(), &first.salt, first.iterations);
        let (client_key, server_key) = hash.client_and_server_keys(&salted)?;
        let stored_key = hash.digest(&client_key);
        let without_proof = format!("c={},r={}", BASE64.encode(GS2_HEADER), first.nonce);
        let auth_message = format!("{},{text},{without_proof}", self.client_first_bare);
        let client_signature = hash.hmac(&stored_key, auth_message.as_bytes())?;
        let proof = xor(&client_key, &client_signature);
        let server_signature = hash.hmac(&server_key, auth_message.as_bytes())?;
        let message = format!("{without_proof},p={}", BASE64.encode(proof));
        Ok((message.into_bytes(), server_signature))
    }

    /// Checks the server's last message: `v=<signature>` must be the one a server holding our
    /// credential computes (constant-time compare); `e=<msg>` is
    /// [`SaslError::AuthenticationFailed`] with the server's text.
    pub fn verify_server_final(&self, server_final: &[u8]) -> Result<(), SaslError> {
        let State::AwaitingServerFinal { server_signature } = &self.state else {
            return Err(out_of_order("verify_server_final", &self.state));
        };
        let hash = self.hash;
        let text = std::str::from_utf8(server_final)
            .map_err(|_| hash.malformed("server-final is not UTF-8"))?;
        // Extensions may follow; neither value may hold a ','.
        let first = text.split(',').next().unwrap_or_default();
        if let Some(error) = first.strip_prefix("e=") {
            return Err(SaslError::AuthenticationFailed(error.to_owned()));
        }
        let signature = first
            .strip_prefix("v=")
            .ok_or_else(|| hash.malformed("server-final has neither v= nor e="))?;
        let signature = BASE64
            .decode(signature)
            .map_err(|_| hash.malformed("the server signature is not base64"))?;
        if constant_time_eq(&signature, server_signature) {
            Ok(())
        } else {
            Err(SaslError::AuthenticationFailed(format!(
                "{}: invalid server signature in server-final message",
                hash.mechanism()
            )))
        }
    }
}

fn out_of_order(step: &str, state: &State) -> SaslError {
    SaslError::Invalid(format!(
        "SCRAM client: {step} called out of order (state: {})",
        state.name()
    ))
}

struct ServerFirst<'a> {
    nonce: &'a str,
    salt: Vec<u8>,
    iterations: u32,
}

/// `[m=...,]r=<nonce>,s=<salt>,i=<iterations>[,extensions]`; extensions are ignored, `m=` is
/// refused because RFC 5802 says a client that does not know it must fail.
fn parse_server_first(hash: ScramHash, text: &str) -> Result<ServerFirst<'_>, SaslError> {
    let mut attrs = text.split(',');
    let first = attrs.next().unwrap_or_default();
    if let Some(error) = first.strip_prefix("e=") {
        return Err(SaslError::AuthenticationFailed(error.to_owned()));
    }
    if first.starts_with("m=") {
        return Err(hash.malformed("the server requires an extension (m=) we do not support"));
    }
    let nonce = first
        .strip_prefix("r=")
        .filter(|n| is_printable_nonce(n))
        .ok_or_else(|| hash.malformed("server-first does not start with a nonce (r=)"))?;
    let salt = attrs
        .next()
        .and_then(|a| a.strip_prefix("s="))
        .ok_or_else(|| hash.malformed("server-first has no salt (s=) after the nonce"))?;
    let salt = BASE64
        .decode(salt)
        .ok()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| hash.malformed("the salt is not non-empty base64"))?;
    let iterations = attrs
        .next()
        .and_then(|a| a.strip_prefix("i="))
        .ok_or_else(|| hash.malformed("server-first has no iteration count (i=) after the salt"))?;
    let iterations = iterations
        .parse::<u32>()
        .ok()
        .filter(|_| iterations.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| hash.malformed("the iteration count is not a number"))?;
    if !(MIN_ITERATIONS..=MAX_ITERATIONS).contains(&iterations) {
        return Err(hash.malformed(format!(
            "the server asks for {iterations} iterations; we accept {MIN_ITERATIONS}..={MAX_ITERATIONS}"
        )));
    }
    Ok(ServerFirst {
        nonce,
        salt,
        iterations,
    })
}
