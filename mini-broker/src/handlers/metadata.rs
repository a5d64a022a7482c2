//! Metadata (key 3), versions 0–12.
//!
//! One broker, leader of every partition, with epoch 0 and itself as the only replica, at the
//! address of the listener the request came in on (Kafka answers with the endpoint of the same
//! listener name, so a client that bootstrapped over TLS stays on TLS). A null topic list (or
//! an empty one in v0) means every topic; unknown topics are created when both the broker and
//! the request (v4+) allow it, otherwise answered UNKNOWN_TOPIC_OR_PARTITION. Topics asked for
//! by id (v10+) are resolved to names. Authorized operations are not computed (there are no
//! ACLs): the fields keep their "not requested" values.

use ferrokafka_protocol::ErrorCode;
use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{BrokerId, MetadataRequest, MetadataResponse, TopicName};
use kafka_protocol::protocol::StrBytes;

use crate::state::topics::Topic;
use crate::state::{BrokerState, Endpoint};

pub(super) fn handle(
    state: &BrokerState,
    endpoint: &Endpoint,
    version: i16,
    req: MetadataRequest,
) -> MetadataResponse {
    let node = state.config.node_id;
    let mut topics = state.topics();
    let wanted: Option<Vec<_>> = match req.topics {
        None => None,
        Some(list) if list.is_empty() && version == 0 => None,
        Some(list) => Some(list),
    };
    let mut out = Vec::new();
    match wanted {
        None => {
            for (name, topic) in topics.iter() {
                out.push(describe(node, name, topic));
            }
        }
        Some(list) => {
            let may_create = version < 4 || req.allow_auto_topic_creation;
            for wanted in list {
                let name = match wanted.name {
                    Some(name) => name.0.to_string(),
                    None => {
                        // By id (v10+): resolve, or report the unknown id.
                        let found = topics.iter().find(|(_, t)| t.id == wanted.topic_id);
                        match found {
                            Some((name, topic)) => {
                                out.push(describe(node, name, topic));
                            }
                            None => out.push(
                                MetadataResponseTopic::default()
                                    .with_topic_id(wanted.topic_id)
                                    .with_error_code(ErrorCode::UNKNOWN_TOPIC_ID.0),
                            ),
                        }
                        continue;
                    }
                };
                let exists = if may_create {
                    state.auto_create(&mut topics, &name)
                } else {
                    topics.contains_key(&name)
                };
                match topics.get(&name) {
                    Some(topic) if exists => out.push(describe(node, &name, topic)),
                    _ => {
                        let code = if crate::state::topics::is_valid_topic_name(&name) {
                            ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
                        } else {
                            ErrorCode::INVALID_TOPIC_EXCEPTION
                        };
                        out.push(
                            MetadataResponseTopic::default()
                                .with_name(Some(TopicName(StrBytes::from_string(name))))
                                .with_error_code(code.0),
                        );
                    }
                }
            }
        }
    }
    drop(topics);
    let topic_operations = super::operations::reported(
        version >= 8 && req.include_topic_authorized_operations,
        super::operations::TOPIC,
    );
    // Kafka fills it in for topics it does not know, too.
    for t in &mut out {
        t.topic_authorized_operations = topic_operations;
    }
    let broker = MetadataResponseBroker::default()
        .with_node_id(BrokerId(node))
        .with_host(StrBytes::from_string(endpoint.host.clone()))
        .with_port(endpoint.port);
    MetadataResponse::default()
        .with_brokers(vec![broker])
        .with_cluster_id(Some(StrBytes::from_string(state.config.cluster_id.clone())))
        .with_controller_id(BrokerId(node))
        .with_topics(out)
        .with_cluster_authorized_operations(super::operations::reported(
            (8..=10).contains(&version) && req.include_cluster_authorized_operations,
            super::operations::CLUSTER,
        ))
}

fn describe(node: i32, name: &str, topic: &Topic) -> MetadataResponseTopic {
    let partitions = (0..topic.partitions.len())
        .map(|i| {
            MetadataResponsePartition::default()
                .with_partition_index(i32::try_from(i).unwrap_or(i32::MAX))
                .with_leader_id(BrokerId(node))
                .with_leader_epoch(0)
                .with_replica_nodes(vec![BrokerId(node)])
                .with_isr_nodes(vec![BrokerId(node)])
        })
        .collect();
    MetadataResponseTopic::default()
        .with_name(Some(TopicName(StrBytes::from_string(name.to_owned()))))
        .with_topic_id(topic.id)
        .with_is_internal(topic.internal)
        .with_partitions(partitions)
}
