//! EndTxn (key 26), versions 0–4.
//!
//! Commits or aborts the producer's ongoing transaction (`state/transactions.rs`, as Kafka's
//! `endTransaction` for transaction version 1): a COMMIT or ABORT control batch (coordinator
//! epoch 0, the producer's id and epoch) goes to every partition the transaction added, which
//! moves their last stable offsets and, for an abort that wrote data there, adds an entry to
//! their aborted-transaction index; then the offsets staged by TxnOffsetCommit are applied to
//! their groups (commit) or dropped (abort). The answer comes after all of that, so a client
//! that reads right after EndTxn sees the outcome.
//!
//! Errors, as Kafka: INVALID_PRODUCER_ID_MAPPING (unknown transactional id, or another
//! producer id), PRODUCER_FENCED (another epoch, e.g. after the broker aborted a timed-out
//! transaction or a newer instance initialised; INVALID_PRODUCER_EPOCH before v2),
//! INVALID_TXN_STATE (no transaction open, or the opposite of how the last one ended); a retry
//! of an EndTxn that already completed the same way succeeds. INVALID_REQUEST for an empty
//! transactional id. The answer's producer id and epoch are -1 on error and the current ones
//! on success (they change only with KIP-890's transaction version 2).
//!
//! Not here: v5 (transaction version 2: a new epoch after every transaction).

use ferrokafka_protocol::ErrorCode;
use kafka_protocol::messages::{EndTxnRequest, EndTxnResponse, ProducerId};

use crate::state::BrokerState;

pub(super) fn handle(state: &BrokerState, version: i16, req: EndTxnRequest) -> EndTxnResponse {
    let code = state.end_txn(
        &req.transactional_id.0,
        req.producer_id.0,
        req.producer_epoch,
        req.committed,
    );
    let code = if code == ErrorCode::PRODUCER_FENCED && version < 2 {
        ErrorCode::INVALID_PRODUCER_EPOCH
    } else {
        code
    };
    let (id, epoch) = if code == ErrorCode::NONE {
        (req.producer_id.0, req.producer_epoch)
    } else {
        (-1, -1)
    };
    EndTxnResponse::default()
        .with_error_code(code.0)
        .with_producer_id(ProducerId(id))
        .with_producer_epoch(epoch)
}
