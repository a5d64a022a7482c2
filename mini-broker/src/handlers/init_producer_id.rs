//! InitProducerId (key 22), versions 0–5, for idempotent producers only.
//!
//! Hands out a fresh producer id with epoch 0. A request that carries an existing id and
//! epoch (KIP-360, v3+) gets the same id with the epoch bumped. Transactional ids are
//! refused: this broker has no transaction coordinator yet, so it answers
//! COORDINATOR_NOT_AVAILABLE.

use ferrokafka_protocol::ErrorCode;
use kafka_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse, ProducerId};

use crate::state::BrokerState;

pub(super) fn handle(state: &BrokerState, req: InitProducerIdRequest) -> InitProducerIdResponse {
    if req.transactional_id.is_some() {
        return InitProducerIdResponse::default()
            .with_error_code(ErrorCode::COORDINATOR_NOT_AVAILABLE.0)
            .with_producer_id(ProducerId(-1))
            .with_producer_epoch(-1);
    }
    let (id, epoch) = if req.producer_id.0 >= 0 && req.producer_epoch >= 0 {
        match req.producer_epoch.checked_add(1) {
            Some(epoch) => (req.producer_id.0, epoch),
            None => (state.allocate_producer_id(), 0),
        }
    } else {
        (state.allocate_producer_id(), 0)
    };
    InitProducerIdResponse::default()
        .with_producer_id(ProducerId(id))
        .with_producer_epoch(epoch)
}
