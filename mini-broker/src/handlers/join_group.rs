//! JoinGroup (key 11), versions 0–9.
//!
//! The answer is held until the rebalance the member joined completes: every known member has
//! rejoined, or the group's rebalance timeout passed. An empty group's first join completes at
//! once (`group.initial.rebalance.delay.ms` = 0). The broker assigns member ids
//! (`<client.id>-<uuid>`, or `<group.instance.id>-<uuid>` for static members); from v4 a
//! dynamic member's first join is answered MEMBER_ID_REQUIRED with its id (KIP-394). The
//! first member to join leads and gets every member's metadata; the protocol is the one every
//! member offers that most members prefer. Session timeouts outside
//! `group.{min,max}.session.timeout.ms` get INVALID_SESSION_TIMEOUT. Static members
//! (`group.instance.id`, v5+, KIP-345) rejoining with a new id replace their old id, which is
//! fenced; a Stable group is not rebalanced for that unless the chosen protocol would change
//! (a v9 leader is told to skip the assignment, KIP-814). v0 has no rebalance timeout: the
//! session timeout is used.
//!
//! Not here: `group.max.size`, the join `reason` (v8) beyond ignoring it, client host
//! (DescribeGroups shows it empty).

use bytes::Bytes;
use kafka_protocol::messages::join_group_response::JoinGroupResponseMember;
use kafka_protocol::messages::{JoinGroupRequest, JoinGroupResponse};
use kafka_protocol::protocol::StrBytes;

use crate::state::groups::{JoinOutcome, JoinRequest};
use crate::state::BrokerState;

pub(super) async fn handle(
    state: &BrokerState,
    version: i16,
    client_id: Option<&str>,
    req: JoinGroupRequest,
) -> JoinGroupResponse {
    let request = JoinRequest {
        group_id: req.group_id.0.to_string(),
        member_id: req.member_id.to_string(),
        instance_id: req.group_instance_id.map(|i| i.to_string()),
        client_id: client_id.unwrap_or_default().to_owned(),
        client_host: String::new(),
        session_timeout_ms: req.session_timeout_ms,
        rebalance_timeout_ms: if version >= 1 {
            req.rebalance_timeout_ms
        } else {
            -1
        },
        protocol_type: req.protocol_type.to_string(),
        protocols: req
            .protocols
            .into_iter()
            .map(|p| (p.name.to_string(), p.metadata))
            .collect::<Vec<(String, Bytes)>>(),
        require_known_member_id: version >= 4,
        supports_skip_assignment: version >= 9,
    };
    response(version, state.groups.join(request).await)
}

fn response(version: i16, outcome: JoinOutcome) -> JoinGroupResponse {
    let name = outcome.protocol_name.map(StrBytes::from_string);
    // The protocol name became nullable in v7; before, "no protocol" is an empty string.
    let name = if version < 7 {
        Some(name.unwrap_or_default())
    } else {
        name
    };
    JoinGroupResponse::default()
        .with_error_code(outcome.error.0)
        .with_generation_id(outcome.generation)
        .with_protocol_type(outcome.protocol_type.map(StrBytes::from_string))
        .with_protocol_name(name)
        .with_leader(StrBytes::from_string(outcome.leader))
        .with_skip_assignment(outcome.skip_assignment && version >= 9)
        .with_member_id(StrBytes::from_string(outcome.member_id))
        .with_members(
            outcome
                .members
                .into_iter()
                .map(|m| {
                    JoinGroupResponseMember::default()
                        .with_member_id(StrBytes::from_string(m.member_id))
                        .with_group_instance_id(m.instance_id.map(StrBytes::from_string))
                        .with_metadata(m.metadata)
                })
                .collect(),
        )
}
