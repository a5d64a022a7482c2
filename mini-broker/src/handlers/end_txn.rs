//! EndTxn (key 26), versions 0–5.
//!
//! Commits or aborts the producer's ongoing transaction (`state/transactions.rs`, as Kafka's
//! `endTransaction`): a COMMIT or ABORT control batch (coordinator epoch 0, the producer's id
//! and epoch) goes to every partition the transaction added, which moves their last stable
//! offsets and, for an abort that wrote data there, adds an entry to their aborted-transaction
//! index; then the offsets staged by TxnOffsetCommit are applied to their groups (commit) or
//! dropped (abort). The answer comes after all of that, so a client that reads right after
//! EndTxn sees the outcome.
//!
//! Versions 0–4 are transaction version 1: the epoch must be the current one and stays, and
//! the answer's producer id and epoch (v5 fields, so not on the wire) are the request's.
//! Version 5 is transaction version 2 (KIP-890): the epoch is bumped to e + 1 for commit and
//! abort alike (also for an abort with nothing in the transaction), the markers carry e + 1,
//! and the answer carries the producer id and e + 1, or a new producer id at epoch 0 once e
//! is exhausted (`i16::MAX - 1`). A retry at e of an EndTxn that completed gets the same
//! answer again.
//!
//! Errors, as Kafka: INVALID_PRODUCER_ID_MAPPING (unknown transactional id, or another
//! producer id), PRODUCER_FENCED (another epoch, e.g. after the broker aborted a timed-out
//! transaction or a newer instance initialised; INVALID_PRODUCER_EPOCH before v2),
//! INVALID_TXN_STATE (no transaction open for a commit, or a retry with the opposite of how
//! the transaction ended), CONCURRENT_TRANSACTIONS while one is being completed (never
//! observable here: markers are written at once). INVALID_REQUEST for an empty transactional
//! id. The answer's producer id and epoch are -1 on error.

use ferrokafka_protocol::ErrorCode;
use kafka_protocol::messages::{EndTxnRequest, EndTxnResponse, ProducerId};

use crate::state::transactions::TxnVersion;
use crate::state::BrokerState;

pub(super) fn handle(state: &BrokerState, version: i16, req: EndTxnRequest) -> EndTxnResponse {
    let outcome = state.end_txn(
        &req.transactional_id.0,
        req.producer_id.0,
        req.producer_epoch,
        req.committed,
        TxnVersion::from_v2(version > 4),
    );
    let (code, (id, epoch)) = match outcome {
        Ok(producer) => (ErrorCode::NONE, producer),
        Err(ErrorCode::PRODUCER_FENCED) if version < 2 => {
            (ErrorCode::INVALID_PRODUCER_EPOCH, (-1, -1))
        }
        Err(code) => (code, (-1, -1)),
    };
    EndTxnResponse::default()
        .with_error_code(code.0)
        .with_producer_id(ProducerId(id))
        .with_producer_epoch(epoch)
}
