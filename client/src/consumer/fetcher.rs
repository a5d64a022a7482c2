//! Fetch requests, one in flight per broker, each on its own task.
//!
//! What: [`spawn`] sends one Fetch to a partition leader for the partitions the consumer
//! chose, decodes every partition's records on that task ([`super::decode`]) and hands the
//! result back on the consumer's event channel. The consumer sends the next fetch to a broker
//! as soon as its previous one is answered and the partitions still have room (one chunk
//! buffered), so the network and the decoding overlap with the application's processing.
//!
//! Topics are named up to Fetch v12 and identified by topic id from v13, with the ids the
//! metadata carries. Responses are matched to what was asked: a partition that was not asked
//! for is ignored, one that was not answered is simply fetched again.
//!
//! What not: fetch sessions (KIP-227; every request is a full, sessionless one), follower
//! fetching (KIP-392), OffsetForLeaderEpoch truncation checks.

use std::sync::Arc;

use bytes::Bytes;
use ferrokafka_protocol::ErrorCode;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::{FetchRequest, TopicName};
use kafka_protocol::protocol::StrBytes;
use tokio::sync::mpsc;

use super::decode::{decode, Aborted, Decoded};
use super::record::TopicPartition;
use super::Event;
use crate::client::Client;
use crate::error::Error;

/// The request-wide settings, from the consumer config.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FetchSettings {
    pub max_wait_ms: i32,
    pub min_bytes: i32,
    pub max_bytes: i32,
    pub partition_max_bytes: i32,
    pub isolation_level: i8,
    pub check_crcs: bool,
}

/// One partition to fetch.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub tp: TopicPartition,
    pub topic: Arc<str>,
    pub topic_id: uuid::Uuid,
    pub offset: i64,
    pub leader_epoch: i32,
    /// The partition's state epoch when the fetch was sent; a different one on arrival means
    /// the application moved the partition (seek, revoke) and the answer is stale.
    pub epoch: u64,
}

/// What came back for one partition.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// Records (maybe none) and the partition's offsets.
    Data {
        decoded: Decoded,
        high_watermark: i64,
        last_stable_offset: i64,
        log_start_offset: i64,
    },
    /// A partition-level error.
    Failed(ErrorCode),
    /// The broker did not mention the partition.
    Unanswered,
}

/// Per target what came back; or, with the targets, the error of the whole request.
pub(crate) type FetchResult = Result<Vec<(Target, Outcome)>, (Vec<Target>, Error)>;

/// The answer to one fetch.
#[derive(Debug)]
pub(crate) struct Fetched {
    pub node: i32,
    pub result: FetchResult,
}

/// Sends a fetch for `targets` to `node` on a new task; the answer arrives as
/// [`Event::Fetched`].
pub(crate) fn spawn(
    client: Client,
    settings: FetchSettings,
    node: i32,
    targets: Vec<Target>,
    events: mpsc::UnboundedSender<Event>,
) {
    tokio::spawn(async move {
        let result = match fetch(&client, settings, node, &targets).await {
            Ok(response) => Ok(read(settings, targets, response)),
            Err(err) => Err((targets, err)),
        };
        // The consumer may be gone; then nobody wants the answer.
        let _ = events.send(Event::Fetched(Fetched { node, result }));
    });
}

async fn fetch(
    client: &Client,
    settings: FetchSettings,
    node: i32,
    targets: &[Target],
) -> Result<kafka_protocol::messages::FetchResponse, Error> {
    let conn = client.connection(node).await?;
    let response = conn
        .send_with(|version| request(settings, targets, version))
        .await?;
    Error::check(response.error_code, None)?;
    Ok(response)
}

fn request(settings: FetchSettings, targets: &[Target], version: i16) -> FetchRequest {
    let mut topics: Vec<FetchTopic> = Vec::new();
    for t in targets {
        let mut partition = FetchPartition::default()
            .with_partition(t.tp.partition)
            .with_fetch_offset(t.offset)
            .with_partition_max_bytes(settings.partition_max_bytes);
        if version >= 9 {
            partition.current_leader_epoch = t.leader_epoch;
        }
        match topics.iter_mut().find(|f| f.topic.0.as_str() == &*t.topic) {
            Some(topic) => topic.partitions.push(partition),
            None => topics.push(
                FetchTopic::default()
                    .with_topic(TopicName(StrBytes::from_string(t.topic.to_string())))
                    .with_topic_id(t.topic_id)
                    .with_partitions(vec![partition]),
            ),
        }
    }
    FetchRequest::default()
        .with_max_wait_ms(settings.max_wait_ms)
        .with_min_bytes(settings.min_bytes)
        .with_max_bytes(settings.max_bytes)
        .with_isolation_level(settings.isolation_level)
        .with_topics(topics)
}

/// Matches the response to the targets and decodes what each got.
fn read(
    settings: FetchSettings,
    targets: Vec<Target>,
    response: kafka_protocol::messages::FetchResponse,
) -> Vec<(Target, Outcome)> {
    let mut answers: Vec<Option<Outcome>> = targets.iter().map(|_| None).collect();
    for topic in response.responses {
        for p in topic.partitions {
            // v13+ names topics by id only; earlier versions by name only.
            let found = targets.iter().position(|t| {
                t.tp.partition == p.partition_index
                    && if topic.topic_id.is_nil() {
                        topic.topic.0.as_str() == &*t.topic
                    } else {
                        topic.topic_id == t.topic_id
                    }
            });
            let Some(i) = found else { continue };
            let Some(slot) = answers.get_mut(i) else {
                continue;
            };
            if slot.is_some() {
                continue;
            }
            let Some(target) = targets.get(i) else {
                continue;
            };
            *slot = Some(if p.error_code != ErrorCode::NONE.0 {
                Outcome::Failed(ErrorCode(p.error_code))
            } else {
                let aborted: Option<Aborted> = (settings.isolation_level == 1).then(|| {
                    p.aborted_transactions
                        .unwrap_or_default()
                        .into_iter()
                        .map(|a| (a.producer_id.0, a.first_offset))
                        .collect()
                });
                let decoded = decode(
                    &target.topic,
                    target.tp.partition,
                    target.offset,
                    p.records.unwrap_or_else(Bytes::new),
                    settings.check_crcs,
                    aborted,
                );
                Outcome::Data {
                    decoded,
                    high_watermark: p.high_watermark,
                    last_stable_offset: p.last_stable_offset,
                    log_start_offset: p.log_start_offset,
                }
            });
        }
    }
    targets
        .into_iter()
        .zip(answers)
        .map(|(t, a)| (t, a.unwrap_or(Outcome::Unanswered)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BytesMut;
    use ferrokafka_protocol::versions::supported;
    use kafka_protocol::messages::ApiKey;
    use kafka_protocol::protocol::Encodable;

    fn target(topic: &str, id: uuid::Uuid, partition: i32, offset: i64) -> Target {
        Target {
            tp: TopicPartition::new(topic, partition),
            topic: Arc::from(topic),
            topic_id: id,
            offset,
            leader_epoch: -1,
            epoch: 7,
        }
    }

    fn settings() -> FetchSettings {
        FetchSettings {
            max_wait_ms: 0,
            min_bytes: 1,
            max_bytes: 1 << 20,
            partition_max_bytes: 1 << 20,
            isolation_level: 0,
            check_crcs: true,
        }
    }

    #[test]
    fn answers_are_matched_by_name_or_by_id_and_the_rest_ignored() {
        use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
        use kafka_protocol::messages::FetchResponse;
        let id = uuid::Uuid::new_v4();
        let targets = vec![
            target("a", id, 0, 5),
            target("a", id, 1, 0),
            target("b", id, 0, 0),
        ];
        let partition = |p: i32, code: i16| {
            PartitionData::default()
                .with_partition_index(p)
                .with_error_code(code)
                .with_high_watermark(9)
        };
        // v12 style: by name. An unasked partition, a duplicate and an unknown topic are
        // ignored; "b" is not answered at all.
        let by_name = FetchResponse::default().with_responses(vec![
            FetchableTopicResponse::default()
                .with_topic(TopicName(StrBytes::from_static_str("a")))
                .with_partitions(vec![
                    partition(0, 0),
                    partition(0, 6),
                    partition(1, 1),
                    partition(9, 0),
                ]),
            FetchableTopicResponse::default()
                .with_topic(TopicName(StrBytes::from_static_str("zzz")))
                .with_partitions(vec![partition(0, 0)]),
        ]);
        let out = read(settings(), targets.clone(), by_name);
        assert_eq!(out.len(), 3);
        assert!(
            matches!(&out[0].1, Outcome::Data { high_watermark: 9, decoded, .. } if decoded.next_offset == 5)
        );
        assert!(matches!(
            out[1].1,
            Outcome::Failed(ErrorCode::OFFSET_OUT_OF_RANGE)
        ));
        assert!(matches!(out[2].1, Outcome::Unanswered));
        // v13 style: by id, names empty.
        let by_id = FetchResponse::default()
            .with_responses(vec![FetchableTopicResponse::default()
                .with_topic_id(id)
                .with_partitions(vec![partition(1, 0)])]);
        let out = read(settings(), targets, by_id);
        assert!(matches!(out[0].1, Outcome::Unanswered));
        assert!(matches!(out[1].1, Outcome::Data { .. }));
    }

    #[test]
    fn request_encodes_at_every_version_we_speak() {
        let settings = FetchSettings {
            max_wait_ms: 500,
            min_bytes: 1,
            max_bytes: 1 << 20,
            partition_max_bytes: 1 << 16,
            isolation_level: 1,
            check_crcs: true,
        };
        let targets: Vec<Target> = (0..3)
            .map(|p| Target {
                tp: TopicPartition::new("t", p),
                topic: Arc::from("t"),
                topic_id: uuid::Uuid::new_v4(),
                offset: 7,
                leader_epoch: 3,
                epoch: 0,
            })
            .collect();
        let range = supported(ApiKey::Fetch).unwrap();
        for v in range.min..=range.max {
            let req = request(settings, &targets, v);
            assert_eq!(req.topics.len(), 1);
            req.encode(&mut BytesMut::new(), v)
                .unwrap_or_else(|e| panic!("Fetch v{v}: {e}"));
        }
    }
}
