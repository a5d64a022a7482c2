//! Heartbeat (key 12), versions 0–4.
//!
//! Keeps a member's session alive. Answers REBALANCE_IN_PROGRESS while the group waits for
//! members to rejoin, which is how members learn of a rebalance; ILLEGAL_GENERATION for an
//! old generation, UNKNOWN_MEMBER_ID for a member the group does not have (it was evicted or
//! left), FENCED_INSTANCE_ID for a replaced static member. A heartbeat between a member's
//! JoinGroup answer and its SyncGroup is accepted.
//!
//! Not here: nothing beyond Kafka's classic protocol (KIP-848 heartbeats are a different API).

use kafka_protocol::messages::{HeartbeatRequest, HeartbeatResponse};

use crate::state::BrokerState;

pub(super) fn handle(state: &BrokerState, req: HeartbeatRequest) -> HeartbeatResponse {
    let error = state.groups.heartbeat(
        &req.group_id.0,
        &req.member_id,
        req.group_instance_id.as_deref(),
        req.generation_id,
    );
    HeartbeatResponse::default().with_error_code(error.0)
}
