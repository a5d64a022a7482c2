//! AddOffsetsToTxn (key 25), versions 0–4.
//!
//! Adds a consumer group to the producer's transaction, so that TxnOffsetCommit may stage the
//! group's offsets in it; the transaction becomes Ongoing if it was not. Kafka adds the
//! group's `__consumer_offsets` partition here, and answers with the same checks as
//! AddPartitionsToTxn: INVALID_PRODUCER_ID_MAPPING (unknown transactional id, or another
//! producer id), PRODUCER_FENCED (another epoch; INVALID_PRODUCER_EPOCH before v2),
//! INVALID_REQUEST for an empty transactional id.
//!
//! Not here: group authorization (no ACLs); there is no offsets topic, the group is kept by
//! name.

use ferrokafka_protocol::ErrorCode;
use kafka_protocol::messages::{AddOffsetsToTxnRequest, AddOffsetsToTxnResponse};

use crate::state::BrokerState;

pub(super) fn handle(
    state: &BrokerState,
    version: i16,
    req: AddOffsetsToTxnRequest,
) -> AddOffsetsToTxnResponse {
    let code = state.add_offsets_to_txn(
        &req.transactional_id.0,
        req.producer_id.0,
        req.producer_epoch,
        &req.group_id.0,
    );
    let code = if code == ErrorCode::PRODUCER_FENCED && version < 2 {
        ErrorCode::INVALID_PRODUCER_EPOCH
    } else {
        code
    };
    AddOffsetsToTxnResponse::default().with_error_code(code.0)
}
