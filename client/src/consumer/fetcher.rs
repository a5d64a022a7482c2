//! Fetch requests, one in flight per broker, each on its own task.
//!
//! What: [`spawn`] sends one Fetch to a partition leader for the partitions the consumer
//! chose, decodes every partition's records on that task ([`super::decode`]) and hands the
//! result back on the consumer's event channel. The consumer sends the next fetch to a broker
//! as soon as its previous one is answered and the partitions still have room (one chunk
//! buffered), so the network and the decoding overlap with the application's processing.
//!
//! Before decoding, the task reports where each partition's next fetch starts, read from the
//! batch headers alone ([`Ahead`]): the consumer sends the next fetch while this one is still
//! being decoded, so the broker builds the next answer instead of waiting for us. Fetch tasks
//! hand their decoded answers over in the order they were started (each waits for the one
//! before), so a partition's chunks are buffered in offset order.
//!
//! Topics are named up to Fetch v12 and identified by topic id from v13, with the ids the
//! metadata carries. Responses are matched to what was asked: a partition that was not asked
//! for is ignored, one that was not answered is simply fetched again.
//!
//! Fetch from the closest replica (KIP-392): from v11 each request carries `client.rack`, and
//! a leader with a `replica.selector.class` may answer a partition with a preferred read
//! replica; the consumer then sends that partition's fetches there (see `driver.rs`).
//!
//! What not: fetch sessions (KIP-227; every request is a full, sessionless one). Position
//! validation after a leader change (KIP-320) happens before a fetch, in `driver.rs`.

use std::sync::Arc;

use ferrokafka_protocol::ErrorCode;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::fetch_response::PartitionData;
use kafka_protocol::messages::{FetchRequest, TopicName};
use kafka_protocol::protocol::StrBytes;
use tokio::sync::{mpsc, oneshot};

use super::decode::{decode, next_offset, Aborted, Decoded};
use super::record::TopicPartition;
use super::Event;
use crate::client::Client;
use crate::error::Error;

/// The request-wide settings, from the consumer config.
#[derive(Debug, Clone)]
pub(crate) struct FetchSettings {
    /// `client.rack`, sent from v11.
    pub rack: Option<Arc<str>>,
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
        /// The partition was in this fetch's [`Ahead`]: its fetch offset and buffer count
        /// have moved already, and it may be in the next fetch.
        released: bool,
        high_watermark: i64,
        last_stable_offset: i64,
        log_start_offset: i64,
        /// The replica the leader wants this partition fetched from (KIP-392), -1 for none.
        preferred_read_replica: i32,
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
    /// An [`Ahead`] came first and gave the broker's fetch slot back.
    pub released: bool,
}

/// What a fetch's answer holds, known before it is decoded: the broker's slot is free, and
/// these partitions have a chunk coming.
#[derive(Debug)]
pub(crate) struct Ahead {
    pub node: i32,
    pub next: Vec<AheadPartition>,
}

/// One partition of an [`Ahead`].
#[derive(Debug)]
pub(crate) struct AheadPartition {
    pub target: Target,
    /// Where its next fetch starts.
    pub next_offset: i64,
    pub high_watermark: i64,
    pub last_stable_offset: i64,
}

/// Where a fetch task stands in the order in which answers are handed over: it waits for
/// `before` (the previous task's `done`) and signals `done` once its answer is sent.
#[derive(Debug)]
pub(crate) struct Turn {
    pub before: Option<oneshot::Receiver<()>>,
    pub done: oneshot::Sender<()>,
}

/// Sends a fetch for `targets` to `node` on a new task; [`Event::Ahead`] arrives once the
/// answer is in, then [`Event::Fetched`] with the decoded records.
pub(crate) fn spawn(
    client: Client,
    settings: FetchSettings,
    node: i32,
    targets: Vec<Target>,
    events: mpsc::UnboundedSender<Event>,
    turn: Turn,
) {
    tokio::spawn(async move {
        let (result, released) = match fetch(&client, &settings, node, &targets).await {
            Ok(response) => {
                let answers = matched(&targets, response);
                let next = next_offsets(&targets, &answers);
                let ahead = targets
                    .iter()
                    .zip(&next)
                    .zip(&answers)
                    .filter_map(|((t, n), p)| {
                        let p = p.as_ref()?;
                        Some(AheadPartition {
                            target: t.clone(),
                            next_offset: (*n)?,
                            high_watermark: p.high_watermark,
                            last_stable_offset: p.last_stable_offset,
                        })
                    })
                    .collect();
                // The consumer may be gone; then nobody wants the answer.
                let _ = events.send(Event::Ahead(Ahead { node, next: ahead }));
                (Ok(read(&settings, targets, answers, &next)), true)
            }
            Err(err) => (Err((targets, err)), false),
        };
        if let Some(before) = turn.before {
            // An error only means that task is gone: its turn is over too.
            let _ = before.await;
        }
        let _ = events.send(Event::Fetched(Fetched {
            node,
            result,
            released,
        }));
        let _ = turn.done.send(());
    });
}

async fn fetch(
    client: &Client,
    settings: &FetchSettings,
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

fn request(settings: &FetchSettings, targets: &[Target], version: i16) -> FetchRequest {
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
    let mut request = FetchRequest::default()
        .with_max_wait_ms(settings.max_wait_ms)
        .with_min_bytes(settings.min_bytes)
        .with_max_bytes(settings.max_bytes)
        .with_isolation_level(settings.isolation_level)
        .with_topics(topics);
    if let (true, Some(rack)) = (version >= 11, &settings.rack) {
        request.rack_id = StrBytes::from_string(rack.to_string());
    }
    request
}

/// Matches the response to the targets: per target, its partition's answer if there is one.
fn matched(
    targets: &[Target],
    response: kafka_protocol::messages::FetchResponse,
) -> Vec<Option<PartitionData>> {
    let mut answers: Vec<Option<PartitionData>> = targets.iter().map(|_| None).collect();
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
            if slot.is_none() {
                *slot = Some(p);
            }
        }
    }
    answers
}

/// Per target, where its next fetch starts if the answer moves it forward without an error.
fn next_offsets(targets: &[Target], answers: &[Option<PartitionData>]) -> Vec<Option<i64>> {
    targets
        .iter()
        .zip(answers)
        .map(|(t, answer)| {
            let p = answer
                .as_ref()
                .filter(|p| p.error_code == ErrorCode::NONE.0)?;
            let next = next_offset(t.offset, p.records.as_ref()?);
            (next > t.offset).then_some(next)
        })
        .collect()
}

/// Decodes what each target got; `next` is what [`next_offsets`] said of them.
fn read(
    settings: &FetchSettings,
    targets: Vec<Target>,
    answers: Vec<Option<PartitionData>>,
    next: &[Option<i64>],
) -> Vec<(Target, Outcome)> {
    targets
        .into_iter()
        .zip(answers)
        .zip(next)
        .map(|((target, answer), next)| {
            let outcome = match answer {
                None => Outcome::Unanswered,
                Some(p) if p.error_code != ErrorCode::NONE.0 => {
                    Outcome::Failed(ErrorCode(p.error_code))
                }
                Some(p) => outcome(settings, &target, p, next.is_some()),
            };
            (target, outcome)
        })
        .collect()
}

fn outcome(settings: &FetchSettings, target: &Target, p: PartitionData, released: bool) -> Outcome {
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
        p.records.unwrap_or_default(),
        settings.check_crcs,
        aborted,
    );
    Outcome::Data {
        decoded,
        released,
        high_watermark: p.high_watermark,
        last_stable_offset: p.last_stable_offset,
        log_start_offset: p.log_start_offset,
        preferred_read_replica: p.preferred_read_replica.0,
    }
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
            rack: None,
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
        let answers = matched(&targets, by_name);
        let next = next_offsets(&targets, &answers);
        assert_eq!(next, [None, None, None], "no records: nothing moves ahead");
        let out = read(&settings(), targets.clone(), answers, &next);
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
        let answers = matched(&targets, by_id);
        let out = read(&settings(), targets.clone(), answers, &[None, None, None]);
        assert!(matches!(out[0].1, Outcome::Unanswered));
        assert!(matches!(out[1].1, Outcome::Data { .. }));
    }

    #[test]
    fn request_encodes_at_every_version_we_speak() {
        let settings = FetchSettings {
            rack: Some(Arc::from("r1")),
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
            let req = request(&settings, &targets, v);
            assert_eq!(req.topics.len(), 1);
            let rack = if v >= 11 { "r1" } else { "" };
            assert_eq!(req.rack_id.as_str(), rack, "rack id at v{v}");
            req.encode(&mut BytesMut::new(), v)
                .unwrap_or_else(|e| panic!("Fetch v{v}: {e}"));
        }
    }
}
