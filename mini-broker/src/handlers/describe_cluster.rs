//! DescribeCluster (key 60), versions 0–1.
//!
//! The one broker, at the address of the listener the request came in on, as both the only
//! broker and the controller. Authorized operations are not computed (no ACLs). Asking for
//! controller endpoints (v1, endpoint type 2) gets the broker, which is also the controller.

use kafka_protocol::messages::describe_cluster_response::DescribeClusterBroker;
use kafka_protocol::messages::{BrokerId, DescribeClusterRequest, DescribeClusterResponse};
use kafka_protocol::protocol::StrBytes;

use crate::state::{BrokerState, Endpoint};

pub(super) fn handle(
    state: &BrokerState,
    endpoint: &Endpoint,
    version: i16,
    req: DescribeClusterRequest,
) -> DescribeClusterResponse {
    let node = BrokerId(state.config.node_id);
    let broker = DescribeClusterBroker::default()
        .with_broker_id(node)
        .with_host(StrBytes::from_string(endpoint.host.clone()))
        .with_port(endpoint.port);
    let resp = DescribeClusterResponse::default()
        .with_cluster_id(StrBytes::from_string(state.config.cluster_id.clone()))
        .with_controller_id(node)
        .with_brokers(vec![broker])
        .with_cluster_authorized_operations(super::operations::reported(
            req.include_cluster_authorized_operations,
            super::operations::CLUSTER,
        ));
    if version >= 1 {
        resp.with_endpoint_type(req.endpoint_type)
    } else {
        resp
    }
}
