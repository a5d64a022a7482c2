//! SASL authentication on a fresh connection, and KIP-368 re-authentication before the
//! broker's session ends.
//!
//! The exchange is Kafka requests on the connection's pipeline, after ApiVersions, as the
//! Java client does it: SaslHandshake v1 names the mechanism, then SaslAuthenticate carries the
//! mechanism's messages (`ferrokafka_protocol::sasl`: PLAIN, SCRAM-SHA-256/512, OAUTHBEARER)
//! until the broker is satisfied. Its last answer (v1+) may carry `session_lifetime_ms`; then a
//! task re-authenticates at a random point between 85 % and 95 % of it (Java's window), holding
//! the pipeline's gate so that no other request slips between the SASL messages. A failed
//! re-authentication closes the connection with a warn line; its requests fail retriably.
//!
//! What not: SaslHandshake v0 (raw tokens without Kafka framing, brokers before 1.0), GSSAPI.

use std::hash::BuildHasher;
use std::sync::Weak;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use ferrokafka_protocol::sasl::{oauthbearer, plain, scram, Mechanism, SaslError};
use ferrokafka_protocol::ErrorCode;
use kafka_protocol::messages::{
    ApiKey, SaslAuthenticateRequest, SaslAuthenticateResponse, SaslHandshakeRequest,
    SaslHandshakeResponse,
};
use kafka_protocol::protocol::StrBytes;

use super::negotiate::NegotiatedVersions;
use super::pipeline::{Gate, Pipeline};
use crate::error::Error;
use crate::security::{Credentials, OAuthBearer};

/// Authenticates on `pipeline`; returns the session lifetime the broker set, if any.
pub(super) async fn authenticate(
    pipeline: &Pipeline,
    versions: &NegotiatedVersions,
    credentials: &Credentials,
    gate: Gate,
) -> Result<Option<Duration>, Error> {
    let mechanism = credentials.mechanism();
    let failed = |message: String| Error::Authentication {
        broker: pipeline.broker().to_owned(),
        mechanism: mechanism.name().to_owned(),
        message,
    };
    let (Some(handshake), Some(auth_version)) = (
        versions.get(ApiKey::SaslHandshake),
        versions.get(ApiKey::SaslAuthenticate),
    ) else {
        return Err(failed(
            "the broker offers no SaslHandshake v1 / SaslAuthenticate (is this a SASL \
             listener of Kafka 1.0 or later?)"
                .to_owned(),
        ));
    };
    if handshake < 1 {
        return Err(failed(
            "the broker speaks only SaslHandshake v0 (raw tokens), which is not supported"
                .to_owned(),
        ));
    }
    let mut request = SaslHandshakeRequest::default();
    request.mechanism = StrBytes::from_static_str(mechanism.name());
    let answer: SaslHandshakeResponse = pipeline
        .call(ApiKey::SaslHandshake, handshake, &request, gate)
        .await?;
    if answer.error_code == ErrorCode::UNSUPPORTED_SASL_MECHANISM.0 {
        let enabled: Vec<&str> = answer.mechanisms.iter().map(|m| m.as_str()).collect();
        return Err(failed(format!(
            "the listener does not enable {mechanism}; it enables [{}]",
            enabled.join(", ")
        )));
    }
    Error::check(answer.error_code, None).map_err(|e| failed(e.to_string()))?;
    let exchange = Exchange {
        pipeline,
        version: auth_version,
        gate,
        mechanism,
    };
    match credentials {
        Credentials::Password {
            mechanism: Mechanism::Plain,
            username,
            password,
        } => {
            let message = plain::client_message("", username, password.expose());
            let (_, lifetime) = exchange.step(message).await?;
            Ok(lifetime)
        }
        Credentials::Password {
            mechanism,
            username,
            password,
        } => {
            let hash = scram::ScramHash::from_mechanism(*mechanism)
                .ok_or_else(|| failed("not a password mechanism".to_owned()))?;
            let mut client = scram::ScramClient::new(hash, username, password.expose());
            let (server_first, _) = exchange.step(client.client_first()).await?;
            let client_final = client.client_final(&server_first).map_err(sasl(&failed))?;
            let (server_final, lifetime) = exchange.step(client_final).await?;
            client
                .verify_server_final(&server_final)
                .map_err(sasl(&failed))?;
            Ok(lifetime)
        }
        Credentials::OAuthBearer(source) => {
            let (token, extensions) = token(source).await.map_err(&failed)?;
            let message = oauthbearer::client_message(&token, None, &extensions);
            let (challenge, lifetime) = exchange.step(message).await?;
            if challenge.is_empty() {
                return Ok(lifetime);
            }
            // RFC 7628: the broker explains a refused token in a challenge, and fails the
            // exchange once we acknowledge it.
            let explained = String::from_utf8_lossy(&challenge).into_owned();
            match exchange
                .step(oauthbearer::ERROR_ACKNOWLEDGEMENT.to_vec())
                .await
            {
                Err(Error::Authentication { message, .. }) => {
                    Err(failed(format!("{message} ({explained})")))
                }
                Err(other) => Err(other),
                Ok(_) => Err(failed(format!("token refused: {explained}"))),
            }
        }
    }
}

fn sasl(failed: &impl Fn(String) -> Error) -> impl Fn(SaslError) -> Error + '_ {
    move |err| failed(err.to_string())
}

/// The SaslAuthenticate round trips of one authentication.
struct Exchange<'a> {
    pipeline: &'a Pipeline,
    version: i16,
    gate: Gate,
    mechanism: Mechanism,
}

impl Exchange<'_> {
    /// Sends one message; the broker's answer and, on v1+, the session lifetime it set.
    async fn step(&self, message: Vec<u8>) -> Result<(Bytes, Option<Duration>), Error> {
        let mut request = SaslAuthenticateRequest::default();
        request.auth_bytes = Bytes::from(message);
        let answer: SaslAuthenticateResponse = self
            .pipeline
            .call(ApiKey::SaslAuthenticate, self.version, &request, self.gate)
            .await?;
        if answer.error_code != ErrorCode::NONE.0 {
            let code = ErrorCode(answer.error_code);
            let message = answer
                .error_message
                .as_ref()
                .map_or_else(|| format!("{code:?}"), |m| format!("{code:?}: {m}"));
            return Err(Error::Authentication {
                broker: self.pipeline.broker().to_owned(),
                mechanism: self.mechanism.name().to_owned(),
                message,
            });
        }
        let lifetime = u64::try_from(answer.session_lifetime_ms)
            .ok()
            .filter(|ms| *ms > 0)
            .map(Duration::from_millis);
        Ok((answer.auth_bytes, lifetime))
    }
}

/// A token and its extensions from the configured source.
async fn token(source: &OAuthBearer) -> Result<(String, Vec<(String, String)>), String> {
    match source {
        OAuthBearer::Provider(provider) => {
            let token = provider
                .token()
                .await
                .map_err(|e| format!("the token provider failed: {e}"))?;
            Ok((token.value.expose().to_owned(), token.extensions))
        }
        OAuthBearer::Unsecured {
            principal,
            lifetime,
            scope,
            extensions,
        } => {
            let now_ms = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
            let lifetime_ms = i64::try_from(lifetime.as_millis()).unwrap_or(i64::MAX);
            let jwt = oauthbearer::unsecured_jwt(principal, now_ms, lifetime_ms, scope);
            Ok((jwt, extensions.clone()))
        }
    }
}

/// When to re-authenticate: a random point in the last 15 %..5 % of the session, as Java.
fn reauth_delay(lifetime: Duration) -> Duration {
    let random = std::collections::hash_map::RandomState::new().hash_one(SystemTime::now());
    let permille = 850 + random % 101;
    lifetime.mul_f64(permille as f64 / 1000.0)
}

/// Re-authenticates before each session ends, until the connection dies or is dropped.
pub(super) fn spawn_reauthentication(
    pipeline: Weak<Pipeline>,
    versions: NegotiatedVersions,
    credentials: Credentials,
    first_lifetime: Duration,
) {
    tokio::spawn(async move {
        let mut lifetime = first_lifetime;
        loop {
            let dead = match pipeline.upgrade() {
                Some(p) => p.dead_signal(),
                None => return,
            };
            tokio::select! {
                () = tokio::time::sleep(reauth_delay(lifetime)) => {}
                () = dead => return,
            }
            let Some(p) = pipeline.upgrade() else {
                return;
            };
            let outcome = {
                let _exclusive = p.exclusive().await;
                authenticate(&p, &versions, &credentials, Gate::Held).await
            };
            match outcome {
                Ok(Some(next)) => {
                    tracing::debug!(broker = p.broker(), ?next, "re-authenticated");
                    lifetime = next;
                }
                Ok(None) => return,
                Err(err) if p.is_dead() => {
                    tracing::debug!(broker = p.broker(), %err, "re-authentication ended with the connection");
                    return;
                }
                Err(err) => {
                    tracing::warn!(broker = p.broker(), %err, "re-authentication failed; closing the connection");
                    p.kill(&format!("re-authentication failed: {err}"));
                    return;
                }
            }
        }
    });
}
