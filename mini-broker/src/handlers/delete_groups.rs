//! DeleteGroups (key 42), versions 0–2.
//!
//! Deletes groups without members, with their committed offsets. A group that still has
//! members gets NON_EMPTY_GROUP, one that does not exist (the empty id included, as in Kafka)
//! GROUP_ID_NOT_FOUND.
//!
//! Not here: nothing else; deletion is immediate (there is no offsets topic to write).

use kafka_protocol::messages::delete_groups_response::DeletableGroupResult;
use kafka_protocol::messages::{DeleteGroupsRequest, DeleteGroupsResponse};

use crate::state::BrokerState;

pub(super) fn handle(state: &BrokerState, req: DeleteGroupsRequest) -> DeleteGroupsResponse {
    let results = req
        .groups_names
        .into_iter()
        .map(|group_id| {
            let error = state.groups.delete_group(&group_id.0);
            DeletableGroupResult::default()
                .with_group_id(group_id)
                .with_error_code(error.0)
        })
        .collect();
    state.save_offset_deletions();
    DeleteGroupsResponse::default().with_results(results)
}
