//! ElectLeaders (key 43), versions 0–2.
//!
//! One broker leads every partition and is every partition's only (so preferred) replica, so
//! there is never an election to hold: each named partition gets ELECTION_NOT_NEEDED, as Kafka
//! answers for a partition already led by its preferred replica, and unknown topics and
//! partitions UNKNOWN_TOPIC_OR_PARTITION. With no partitions named (null: all of them) the
//! answer lists every topic with no partition results, as Kafka leaves out the partitions that
//! needed no election.

use ferrokafka_protocol::ErrorCode;
use kafka_protocol::messages::elect_leaders_response::{PartitionResult, ReplicaElectionResult};
use kafka_protocol::messages::{ElectLeadersRequest, ElectLeadersResponse, TopicName};
use kafka_protocol::protocol::StrBytes;

use crate::state::BrokerState;

pub(super) fn handle(state: &BrokerState, req: ElectLeadersRequest) -> ElectLeadersResponse {
    let topics = state.topics();
    let Some(named) = req.topic_partitions else {
        let results = topics
            .keys()
            .map(|name| {
                ReplicaElectionResult::default()
                    .with_topic(TopicName(StrBytes::from_string(name.clone())))
            })
            .collect();
        return ElectLeadersResponse::default().with_replica_election_results(results);
    };
    let results = named
        .into_iter()
        .map(|t| {
            let topic = topics.get(t.topic.0.as_str());
            let partitions = t
                .partitions
                .iter()
                .map(|&p| {
                    let (code, message) = match topic.and_then(|topic| topic.partition(p)) {
                        Some(_) => (
                            ErrorCode::ELECTION_NOT_NEEDED,
                            "Leader election not needed for topic partition.",
                        ),
                        None => (
                            ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
                            "The topic or partition does not exist.",
                        ),
                    };
                    PartitionResult::default()
                        .with_partition_id(p)
                        .with_error_code(code.0)
                        .with_error_message(Some(StrBytes::from_static_str(message)))
                })
                .collect();
            ReplicaElectionResult::default()
                .with_topic(t.topic)
                .with_partition_result(partitions)
        })
        .collect();
    ElectLeadersResponse::default().with_replica_election_results(results)
}
