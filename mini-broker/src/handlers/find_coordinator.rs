//! FindCoordinator (key 10), versions 0–6.
//!
//! This one broker coordinates everything, so a group id (key type 0) or a transactional id
//! (key type 1) is answered with our node id and the address of the listener the request came
//! in on. Up to v3 a single key is asked and answered in the top-level fields; from v4 keys
//! come batched in `coordinator_keys` and each gets its own entry. Any other key type gets
//! INVALID_REQUEST. The first lookup of a kind creates its internal topic (`__consumer_offsets`,
//! `__transaction_state`), as Kafka does.
//!
//! Not here: share-group coordinators (key type 2, KIP-932).

use ferrokafka_protocol::ErrorCode;
use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::{BrokerId, FindCoordinatorRequest, FindCoordinatorResponse};
use kafka_protocol::protocol::StrBytes;

use crate::state::topics::INTERNAL_TOPICS;
use crate::state::{BrokerState, Endpoint};

const GROUP: i8 = 0;
const TRANSACTION: i8 = 1;

pub(super) fn handle(
    state: &BrokerState,
    endpoint: &Endpoint,
    version: i16,
    req: FindCoordinatorRequest,
) -> FindCoordinatorResponse {
    let known = matches!(req.key_type, GROUP | TRANSACTION);
    // Kafka creates a coordinator's internal topic when one is first looked for.
    let internal = match req.key_type {
        GROUP => Some(INTERNAL_TOPICS[0]),
        TRANSACTION => Some(INTERNAL_TOPICS[1]),
        _ => None,
    };
    if let Some(name) = internal {
        state.ensure_internal_topic(&mut state.topics(), name);
    }
    let host = StrBytes::from_string(endpoint.host.clone());
    let node = BrokerId(state.config.node_id);
    let port = endpoint.port;
    if version >= 4 {
        let coordinators = req
            .coordinator_keys
            .into_iter()
            .map(|key| {
                let entry = Coordinator::default().with_key(key);
                if known {
                    entry
                        .with_node_id(node)
                        .with_host(host.clone())
                        .with_port(port)
                } else {
                    unknown_type(entry)
                }
            })
            .collect();
        return FindCoordinatorResponse::default().with_coordinators(coordinators);
    }
    if known {
        FindCoordinatorResponse::default()
            .with_node_id(node)
            .with_host(host)
            .with_port(port)
    } else {
        FindCoordinatorResponse::default()
            .with_error_code(ErrorCode::INVALID_REQUEST.0)
            .with_error_message(Some(StrBytes::from_static_str(UNKNOWN_TYPE)))
            .with_node_id(BrokerId(-1))
            .with_port(-1)
    }
}

const UNKNOWN_TYPE: &str = "only group (0) and transaction (1) coordinators are served";

fn unknown_type(entry: Coordinator) -> Coordinator {
    entry
        .with_error_code(ErrorCode::INVALID_REQUEST.0)
        .with_error_message(Some(StrBytes::from_static_str(UNKNOWN_TYPE)))
        .with_node_id(BrokerId(-1))
        .with_port(-1)
}
