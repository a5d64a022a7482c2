//! ListTransactions (key 66, KIP-664), versions 0–1.
//!
//! Every transactional id this broker coordinates, with its producer id and state, filtered
//! as Kafka filters: by state names (names that are no Kafka state come back in
//! `unknown_state_filters` and match nothing), by producer ids, and from v1 by
//! `duration_filter` (KIP-994: only transactions that began more than that many ms ago; -1
//! for no filter; as in Kafka, an id that never began one counts as long-running). An empty
//! filter list matches everything.
//!
//! Not here: v2's `transactional_id_pattern` (KIP-1152; needs Java regular expressions).

use kafka_protocol::messages::list_transactions_response::TransactionState;
use kafka_protocol::messages::{
    ListTransactionsRequest, ListTransactionsResponse, ProducerId, TransactionalId,
};
use kafka_protocol::protocol::StrBytes;

use crate::state::BrokerState;

pub(super) fn handle(
    state: &BrokerState,
    version: i16,
    req: ListTransactionsRequest,
) -> ListTransactionsResponse {
    let states: Vec<String> = req.state_filters.iter().map(|s| s.to_string()).collect();
    let producers: Vec<i64> = req.producer_id_filters.iter().map(|p| p.0).collect();
    let duration = if version >= 1 {
        req.duration_filter
    } else {
        -1
    };
    let (listed, unknown) = state.transactions.list(&states, &producers, duration);
    ListTransactionsResponse::default()
        .with_unknown_state_filters(unknown.into_iter().map(StrBytes::from_string).collect())
        .with_transaction_states(
            listed
                .into_iter()
                .map(|t| {
                    TransactionState::default()
                        .with_transactional_id(TransactionalId(StrBytes::from_string(
                            t.transactional_id,
                        )))
                        .with_producer_id(ProducerId(t.producer_id))
                        .with_transaction_state(StrBytes::from_static_str(t.state.as_str()))
                })
                .collect(),
        )
}
