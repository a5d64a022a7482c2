//! The server side of a SCRAM exchange: answer client-first with salt and iterations, then
//! check the proof in client-final and answer with the server signature.
//!
//! Failures follow Kafka's broker: an unknown user and a wrong proof get the same message,
//! naming only the mechanism, so a client cannot tell which it was. The authorization id is
//! checked before the user is looked up, for the same reason.

use std::fmt;

use super::{is_printable_nonce, random_nonce, xor, ScramCredential, ScramHash, BASE64};
use crate::sasl::{constant_time_eq, unescape_saslname, SaslError};
use base64::Engine;

/// One server's SCRAM exchange with one client.
pub struct ScramServer {
    hash: ScramHash,
    /// Our half of the combined nonce.
    nonce: String,
    state: State,
}

enum State {
    AwaitingClientFirst,
    AwaitingClientFinal(Box<Exchange>),
    Complete { username: String },
    Failed { claimed: Option<String> },
}

/// What client-final is checked against.
struct Exchange {
    username: String,
    credential: ScramCredential,
    /// The gs2 header the client sent, which client-final's `c=` must repeat.
    gs2_header: String,
    /// Client nonce followed by ours.
    nonce: String,
    /// `client-first-bare "," server-first`: the auth message up to client-final.
    auth_prefix: String,
}

impl State {
    fn name(&self) -> &'static str {
        match self {
            State::AwaitingClientFirst => "awaiting client-first",
            State::AwaitingClientFinal(_) => "awaiting client-final",
            State::Complete { .. } => "complete",
            State::Failed { .. } => "failed",
        }
    }
}

impl fmt::Debug for ScramServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScramServer")
            .field("hash", &self.hash)
            .field("state", &self.state.name())
            .field("claimed_username", &self.claimed_username())
            .finish()
    }
}

impl ScramServer {
    /// A server waiting for a client-first message.
    pub fn new(hash: ScramHash) -> ScramServer {
        ScramServer::with_nonce(hash, &random_nonce())
    }

    /// With a chosen server nonce, for known-answer tests only.
    pub(crate) fn with_nonce(hash: ScramHash, nonce: &str) -> ScramServer {
        ScramServer {
            hash,
            nonce: nonce.to_owned(),
            state: State::AwaitingClientFirst,
        }
    }

    /// Parses client-first, looks the user up, answers server-first. An unknown user is
    /// [`SaslError::AuthenticationFailed`] with Kafka's generic message.
    ///
    /// Also [`SaslError::AuthenticationFailed`]: an authorization id other than the user name,
    /// and `tokenauth=true` (delegation tokens are not supported). A message that does not
    /// parse, including one asking for channel binding: [`SaslError::Malformed`]. A stored
    /// credential that does not fit the hash or the iteration range: [`SaslError::Invalid`].
    pub fn server_first(
        &mut self,
        client_first: &[u8],
        lookup: impl FnOnce(&str) -> Option<ScramCredential>,
    ) -> Result<Vec<u8>, SaslError> {
        match std::mem::replace(&mut self.state, State::Failed { claimed: None }) {
            State::AwaitingClientFirst => {}
            other => {
                let err = out_of_order("server_first", &other);
                self.state = other;
                return Err(err);
            }
        }
        let hash = self.hash;
        let first = parse_client_first(hash, client_first)?;
        self.state = State::Failed {
            claimed: Some(first.username.clone()),
        };
        if !first.authzid.is_empty() && first.authzid != first.username {
            return Err(SaslError::AuthenticationFailed(
                "Authentication failed: Client requested an authorization id that is different from username"
                    .into(),
            ));
        }
        let credential = lookup(&first.username).ok_or_else(|| hash.invalid_credentials())?;
        if !credential.is_usable(hash) {
            return Err(SaslError::Invalid(format!(
                "the stored {} credential of the user does not fit the mechanism or the iteration range",
                hash.mechanism()
            )));
        }
        let nonce = format!("{}{}", first.client_nonce, self.nonce);
        let server_first = format!(
            "r={nonce},s={},i={}",
            BASE64.encode(&credential.salt),
            credential.iterations
        );
        self.state = State::AwaitingClientFinal(Box::new(Exchange {
            username: first.username,
            credential,
            gs2_header: first.gs2_header.to_owned(),
            nonce,
            auth_prefix: format!("{},{server_first}", first.bare),
        }));
        Ok(server_first.into_bytes())
    }

    /// Checks channel binding, the nonce and the proof; answers server-final `v=<signature>`.
    /// A wrong proof is [`SaslError::AuthenticationFailed`] with Kafka's generic message.
    ///
    /// The channel binding must be the base64 of the gs2 header the client sent (`biws` for
    /// `n,,`), the nonce the combined one; anything else is [`SaslError::Malformed`].
    pub fn server_final(&mut self, client_final: &[u8]) -> Result<Vec<u8>, SaslError> {
        let exchange = match std::mem::replace(&mut self.state, State::Failed { claimed: None }) {
            State::AwaitingClientFinal(exchange) => exchange,
            other => {
                let err = out_of_order("server_final", &other);
                self.state = other;
                return Err(err);
            }
        };
        self.state = State::Failed {
            claimed: Some(exchange.username.clone()),
        };
        let signature = self.check_proof(&exchange, client_final)?;
        self.state = State::Complete {
            username: exchange.username,
        };
        Ok(format!("v={}", BASE64.encode(signature)).into_bytes())
    }

    /// Verifies client-final against the exchange; returns the server signature.
    fn check_proof(&self, exchange: &Exchange, client_final: &[u8]) -> Result<Vec<u8>, SaslError> {
        let hash = self.hash;
        let text = std::str::from_utf8(client_final)
            .map_err(|_| hash.malformed("client-final is not UTF-8"))?;
        // The proof is the last attribute, and base64 holds no ','.
        let (without_proof, proof) = text
            .rsplit_once(',')
            .ok_or_else(|| hash.malformed("client-final has no proof"))?;
        let proof = proof
            .strip_prefix("p=")
            .ok_or_else(|| hash.malformed("client-final does not end with a proof (p=)"))?;
        let proof = BASE64
            .decode(proof)
            .ok()
            .filter(|p| p.len() == hash.output_len())
            .ok_or_else(|| hash.malformed("the proof is not base64 of the hash length"))?;
        let mut attrs = without_proof.split(',');
        let binding = attrs
            .next()
            .and_then(|a| a.strip_prefix("c="))
            .ok_or_else(|| {
                hash.malformed("client-final does not start with channel binding (c=)")
            })?;
        if BASE64.decode(binding).ok().as_deref() != Some(exchange.gs2_header.as_bytes()) {
            return Err(hash.malformed("the channel binding does not repeat the gs2 header"));
        }
        let nonce = attrs
            .next()
            .and_then(|a| a.strip_prefix("r="))
            .ok_or_else(|| hash.malformed("client-final has no nonce (r=) after c="))?;
        if !constant_time_eq(nonce.as_bytes(), exchange.nonce.as_bytes()) {
            return Err(hash.malformed("the nonce in client-final is not the one agreed"));
        }

        let credential = &exchange.credential;
        let auth_message = format!("{},{without_proof}", exchange.auth_prefix);
        let client_signature = hash.hmac(&credential.stored_key, auth_message.as_bytes())?;
        let client_key = xor(&proof, &client_signature);
        if !constant_time_eq(&hash.digest(&client_key), &credential.stored_key) {
            return Err(hash.invalid_credentials());
        }
        hash.hmac(&credential.server_key, auth_message.as_bytes())
    }

    /// The authenticated user name, once the exchange is complete; `None` before.
    pub fn username(&self) -> Option<&str> {
        match &self.state {
            State::Complete { username } => Some(username),
            _ => None,
        }
    }

    /// The user name the client gave in client-first, authenticated or not: for logs only.
    pub fn claimed_username(&self) -> Option<&str> {
        match &self.state {
            State::AwaitingClientFinal(exchange) => Some(&exchange.username),
            State::Complete { username } => Some(username),
            State::Failed { claimed } => claimed.as_deref(),
            State::AwaitingClientFirst => None,
        }
    }

    /// True once the client's proof checked out and server-final was produced.
    pub fn is_complete(&self) -> bool {
        matches!(self.state, State::Complete { .. })
    }
}

fn out_of_order(step: &str, state: &State) -> SaslError {
    SaslError::Invalid(format!(
        "SCRAM server: {step} called out of order (state: {})",
        state.name()
    ))
}

struct ClientFirst<'a> {
    /// `n,,` or `n,a=<authzid>,`, as sent.
    gs2_header: &'a str,
    authzid: String,
    /// Everything after the gs2 header, as sent.
    bare: &'a str,
    username: String,
    client_nonce: &'a str,
}

/// `n,[a=<saslname>],n=<saslname>,r=<nonce>[,<alpha>=<value>]*`
fn parse_client_first(hash: ScramHash, message: &[u8]) -> Result<ClientFirst<'_>, SaslError> {
    let text =
        std::str::from_utf8(message).map_err(|_| hash.malformed("client-first is not UTF-8"))?;
    let after_flag = text.strip_prefix("n,").ok_or_else(|| {
        hash.malformed("client-first must start with gs2 header \"n,\" (no channel binding)")
    })?;
    let (authzid, bare) = after_flag
        .split_once(',')
        .ok_or_else(|| hash.malformed("client-first has an incomplete gs2 header"))?;
    let gs2_header = text
        .get(..text.len() - bare.len())
        .ok_or_else(|| hash.malformed("client-first has an incomplete gs2 header"))?;
    let authzid = if authzid.is_empty() {
        String::new()
    } else {
        authzid
            .strip_prefix("a=")
            .and_then(unescape_saslname)
            .filter(|a| !a.is_empty())
            .ok_or_else(|| {
                hash.malformed("the gs2 header's authorization id is not a=<saslname>")
            })?
    };
    if bare.starts_with("m=") {
        return Err(hash.malformed("the client requires an extension (m=) we do not support"));
    }
    let mut attrs = bare.split(',');
    let username = attrs
        .next()
        .and_then(|a| a.strip_prefix("n="))
        .and_then(unescape_saslname)
        .filter(|u| !u.is_empty())
        .ok_or_else(|| hash.malformed("client-first has no user name (n=<saslname>)"))?;
    let client_nonce = attrs
        .next()
        .and_then(|a| a.strip_prefix("r="))
        .filter(|n| is_printable_nonce(n))
        .ok_or_else(|| hash.malformed("client-first has no printable nonce (r=) after n="))?;
    for extension in attrs {
        let (key, value) = extension
            .split_once('=')
            .filter(|(k, v)| {
                !k.is_empty() && k.bytes().all(|b| b.is_ascii_alphabetic()) && !v.is_empty()
            })
            .ok_or_else(|| hash.malformed("a client-first extension is not <letters>=<value>"))?;
        // Kafka reads the flag as Java's Boolean.parseBoolean does: "true", any case.
        if key == "tokenauth" && value.eq_ignore_ascii_case("true") {
            return Err(SaslError::AuthenticationFailed(format!(
                "Authentication failed: delegation tokens are not supported with SASL mechanism {}",
                hash.mechanism()
            )));
        }
    }
    Ok(ClientFirst {
        gs2_header,
        authzid,
        bare,
        username,
        client_nonce,
    })
}
