//! SaslHandshake (key 17), versions 0–1.
//!
//! Picks the SASL mechanism of the connection's session ([`crate::security::sasl`]). A
//! mechanism this listener does not enable gets UNSUPPORTED_SASL_MECHANISM with the enabled
//! list, and the server then closes the connection, as Kafka does. After v1 the tokens come in
//! SaslAuthenticate requests; after v0 they come bare. On a listener without SASL, or on an
//! authenticated connection that cannot re-authenticate, the answer is ILLEGAL_SASL_STATE with
//! no list (Kafka's `KafkaApis` answer).

use ferrokafka_protocol::ErrorCode;
use kafka_protocol::messages::{SaslHandshakeRequest, SaslHandshakeResponse};
use kafka_protocol::protocol::StrBytes;

use crate::security::sasl::{HandshakeOutcome, SaslSession};

pub(super) fn handle(
    session: Option<&mut SaslSession>,
    version: i16,
    req: &SaslHandshakeRequest,
) -> SaslHandshakeResponse {
    let Some(session) = session else {
        return SaslHandshakeResponse::default().with_error_code(ErrorCode::ILLEGAL_SASL_STATE.0);
    };
    let code = match session.handshake(&req.mechanism, version) {
        HandshakeOutcome::Accepted => ErrorCode::NONE,
        HandshakeOutcome::Unsupported => ErrorCode::UNSUPPORTED_SASL_MECHANISM,
        HandshakeOutcome::NotExpected => {
            return SaslHandshakeResponse::default()
                .with_error_code(ErrorCode::ILLEGAL_SASL_STATE.0);
        }
    };
    let mechanisms = session
        .enabled_mechanisms()
        .iter()
        .map(|m| StrBytes::from_static_str(m.name()))
        .collect();
    SaslHandshakeResponse::default()
        .with_error_code(code.0)
        .with_mechanisms(mechanisms)
}
