//! SaslAuthenticate (key 36), versions 0–2.
//!
//! Hands the client's token to the connection's session ([`crate::security::sasl`]) and
//! answers with the server's token; on success v1+ also carry `session_lifetime_ms` (0 when
//! the session does not expire). A refused login is SASL_AUTHENTICATION_FAILED with Kafka's
//! message, and the server then closes the connection. On a listener without SASL, or once
//! authenticated, the answer is ILLEGAL_SASL_STATE (Kafka's `KafkaApis` answer).

use bytes::Bytes;
use ferrokafka_protocol::ErrorCode;
use kafka_protocol::messages::{SaslAuthenticateRequest, SaslAuthenticateResponse};
use kafka_protocol::protocol::StrBytes;

use crate::security::sasl::{SaslSession, TokenOutcome};

const AFTER_AUTHENTICATION: &str =
    "SaslAuthenticate request received after successful authentication";

pub(super) async fn handle(
    session: Option<&mut SaslSession>,
    version: i16,
    req: SaslAuthenticateRequest,
) -> SaslAuthenticateResponse {
    let outcome = match session {
        Some(session) => session.token(req.auth_bytes).await,
        None => TokenOutcome::NotExpected,
    };
    match outcome {
        TokenOutcome::Challenge(token) => {
            SaslAuthenticateResponse::default().with_auth_bytes(Bytes::from(token))
        }
        TokenOutcome::Complete {
            token,
            session_lifetime_ms,
        } => {
            let resp = SaslAuthenticateResponse::default().with_auth_bytes(Bytes::from(token));
            if version >= 1 {
                resp.with_session_lifetime_ms(session_lifetime_ms)
            } else {
                resp
            }
        }
        TokenOutcome::Failed(message) => SaslAuthenticateResponse::default()
            .with_error_code(ErrorCode::SASL_AUTHENTICATION_FAILED.0)
            .with_error_message(Some(StrBytes::from_string(message))),
        TokenOutcome::NotExpected => SaslAuthenticateResponse::default()
            .with_error_code(ErrorCode::ILLEGAL_SASL_STATE.0)
            .with_error_message(Some(StrBytes::from_static_str(AFTER_AUTHENTICATION))),
    }
}
