//! InitProducerId (key 22), versions 0–5, for idempotent producers only.
//!
//! Without a transactional id, every request gets a fresh producer id with epoch 0, even one
//! that names the producer's current id and epoch (KIP-360's fields, v3+): that is what Kafka's
//! broker answers, because those fields only matter to a transaction coordinator. Idempotent
//! clients bump their epoch themselves (the Java producer does, and asks for a new id when the
//! epoch would overflow), and partitions accept the bumped epoch from sequence 0 (see
//! `produce.rs`). An empty transactional id is INVALID_REQUEST, as in Kafka. Any other
//! transactional id is refused with COORDINATOR_NOT_AVAILABLE: this broker has no transaction
//! coordinator yet.

use ferrokafka_protocol::ErrorCode;
use kafka_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse, ProducerId};

use crate::state::BrokerState;

pub(super) fn handle(state: &BrokerState, req: InitProducerIdRequest) -> InitProducerIdResponse {
    match req.transactional_id.as_deref().map(|id| id.is_empty()) {
        None => InitProducerIdResponse::default()
            .with_producer_id(ProducerId(state.allocate_producer_id()))
            .with_producer_epoch(0),
        Some(true) => refuse(ErrorCode::INVALID_REQUEST),
        Some(false) => refuse(ErrorCode::COORDINATOR_NOT_AVAILABLE),
    }
}

fn refuse(code: ErrorCode) -> InitProducerIdResponse {
    InitProducerIdResponse::default()
        .with_error_code(code.0)
        .with_producer_id(ProducerId(-1))
        .with_producer_epoch(-1)
}
