//! ListGroups (key 16), versions 0–5.
//!
//! Every group this broker coordinates, with its protocol type (empty for groups that only
//! hold offsets), its state (v4+) and its type, always `classic` (v5+). The states filter
//! (v4+) and the types filter (v5+) compare without regard to case, as Kafka does; an empty
//! filter lets everything through.
//!
//! Not here: consumer (KIP-848) and share groups, so a types filter without `classic` lists
//! nothing.

use kafka_protocol::messages::list_groups_response::ListedGroup;
use kafka_protocol::messages::{GroupId, ListGroupsRequest, ListGroupsResponse};
use kafka_protocol::protocol::StrBytes;

use crate::state::BrokerState;

const GROUP_TYPE: &str = "classic";

pub(super) fn handle(
    state: &BrokerState,
    version: i16,
    req: ListGroupsRequest,
) -> ListGroupsResponse {
    let states: Vec<String> = if version >= 4 {
        req.states_filter.iter().map(|s| s.to_lowercase()).collect()
    } else {
        Vec::new()
    };
    let types: Vec<String> = if version >= 5 {
        req.types_filter.iter().map(|t| t.to_lowercase()).collect()
    } else {
        Vec::new()
    };
    if !types.is_empty() && !types.iter().any(|t| t == GROUP_TYPE) {
        return ListGroupsResponse::default();
    }
    let groups = state
        .groups
        .list()
        .into_iter()
        .filter(|g| states.is_empty() || states.contains(&g.state.as_str().to_lowercase()))
        .map(|g| {
            ListedGroup::default()
                .with_group_id(GroupId(StrBytes::from_string(g.group_id)))
                .with_protocol_type(StrBytes::from_string(g.protocol_type))
                .with_group_state(StrBytes::from_static_str(g.state.as_str()))
                .with_group_type(StrBytes::from_static_str(GROUP_TYPE))
        })
        .collect();
    ListGroupsResponse::default().with_groups(groups)
}
