//! InitProducerId (key 22), versions 0–5.
//!
//! Without a transactional id, every request gets a fresh producer id with epoch 0, even one
//! that names the producer's current id and epoch (KIP-360's fields, v3+): that is what Kafka's
//! broker answers, because those fields only matter to a transaction coordinator. Idempotent
//! clients bump their epoch themselves (the Java producer does, and asks for a new id when the
//! epoch would overflow), and partitions accept the bumped epoch from sequence 0 (see
//! `produce.rs`). An empty transactional id is INVALID_REQUEST, as in Kafka.
//!
//! With a transactional id, the transaction coordinator answers (`state/transactions.rs`, as
//! Kafka's `handleInitProducerId`): a new id gets a producer id at epoch 0; a known one gets
//! its epoch bumped, which fences the previous instance; if that instance left a transaction
//! open, it is aborted (ABORT markers written) and the answer is CONCURRENT_TRANSACTIONS, so
//! the client retries and gets the next epoch; a timeout above `transaction.max.timeout.ms`
//! (or not positive) is INVALID_TRANSACTION_TIMEOUT; KIP-360's current id and epoch (v3+)
//! must name the current producer or repeat the last bump, else PRODUCER_FENCED, which
//! versions before 4 receive as INVALID_PRODUCER_EPOCH; only one of them set is
//! INVALID_REQUEST.
//!
//! Not here: KIP-939's `keep_prepared` (v6).

use ferrokafka_protocol::ErrorCode;
use kafka_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse, ProducerId};

use crate::state::BrokerState;

pub(super) fn handle(
    state: &BrokerState,
    version: i16,
    req: InitProducerIdRequest,
) -> InitProducerIdResponse {
    let Some(transactional_id) = req.transactional_id.as_deref() else {
        return InitProducerIdResponse::default()
            .with_producer_id(ProducerId(state.allocate_producer_id()))
            .with_producer_epoch(0);
    };
    if transactional_id.is_empty() {
        return refuse(ErrorCode::INVALID_REQUEST);
    }
    let expected = match (req.producer_id.0, req.producer_epoch) {
        (-1, -1) => None,
        (-1, _) | (_, -1) => return refuse(ErrorCode::INVALID_REQUEST),
        (id, epoch) => Some((id, epoch)),
    };
    match state.init_transactional_producer(transactional_id, req.transaction_timeout_ms, expected)
    {
        Ok((id, epoch)) => InitProducerIdResponse::default()
            .with_producer_id(ProducerId(id))
            .with_producer_epoch(epoch),
        Err(ErrorCode::PRODUCER_FENCED) if version < 4 => refuse(ErrorCode::INVALID_PRODUCER_EPOCH),
        Err(code) => refuse(code),
    }
}

fn refuse(code: ErrorCode) -> InitProducerIdResponse {
    InitProducerIdResponse::default()
        .with_error_code(code.0)
        .with_producer_id(ProducerId(-1))
        .with_producer_epoch(-1)
}
