//! Fetch (key 1), versions 4–16.
//!
//! Long poll: the request is answered once `min_bytes` are available, an error is found, or
//! `max_wait_ms` has passed, whichever comes first; new data wakes waiting fetches. Byte limits
//! follow KIP-74: each partition returns whole batches up to `partition_max_bytes` and the
//! response up to `max_bytes`, but a partition's first batch is returned even when it alone is
//! larger, as long as nothing was returned before it, so a large batch cannot stall a consumer.
//! Offsets outside the log get OFFSET_OUT_OF_RANGE. Topics are named up to v12 and given by id
//! from v13.
//!
//! Every partition reports its last stable offset (LSO: the first offset of its earliest open
//! transaction, else the high watermark). With `isolation_level` 1 (read_committed, KIP-98) a
//! read returns only batches that start below the LSO, and lists every aborted transaction
//! whose range overlaps what it returns (ABORT marker at or after the fetch offset, first
//! batch before the end of the returned data), as Kafka collects them from its transaction
//! index; readers drop those producers' records up to each marker. With no data returned the
//! list is empty; read_uncommitted responses carry no list (null).
//!
//! Not here: fetch sessions (KIP-227; every response has session id 0, which tells clients to
//! send full requests), follower fetching and rack awareness.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use ferrokafka_protocol::ErrorCode;
use kafka_protocol::messages::fetch_request::FetchTopic;
use kafka_protocol::messages::fetch_response::{
    AbortedTransaction, FetchableTopicResponse, PartitionData,
};
use kafka_protocol::messages::{FetchRequest, FetchResponse, ProducerId};
use tokio::time::Instant;

use crate::state::log::ReadStart;
use crate::state::topics::Topic;
use crate::state::BrokerState;

/// The longest a fetch is held, whatever the client asks; clients re-poll.
const MAX_WAIT_CAP: Duration = Duration::from_secs(30);

pub(super) async fn handle(state: &BrokerState, version: i16, req: FetchRequest) -> FetchResponse {
    if req.session_id != 0 || req.session_epoch > 0 {
        return FetchResponse::default().with_error_code(ErrorCode::FETCH_SESSION_ID_NOT_FOUND.0);
    }
    let wait = Duration::from_millis(u64::try_from(req.max_wait_ms).unwrap_or(0)).min(MAX_WAIT_CAP);
    let deadline = Instant::now() + wait;
    let min_bytes = usize::try_from(req.min_bytes).unwrap_or(0);
    loop {
        // Register for wake-ups before looking, so an append in between is not missed.
        let appended = state.appended();
        let (response, bytes, any_error) = read(state, version, &req);
        if bytes >= min_bytes.max(1) || any_error || Instant::now() >= deadline {
            return response;
        }
        if tokio::time::timeout_at(deadline, appended).await.is_err() {
            return read(state, version, &req).0;
        }
    }
}

/// Builds the response from what the logs hold now: `(response, record bytes, any error)`.
fn read(state: &BrokerState, version: i16, req: &FetchRequest) -> (FetchResponse, usize, bool) {
    let topics = state.topics();
    let max_bytes = if req.max_bytes > 0 {
        req.max_bytes as usize
    } else {
        usize::MAX
    };
    let read_committed = req.isolation_level == 1;
    let mut total = 0usize;
    let mut any_error = false;
    let responses = req
        .topics
        .iter()
        .map(|t| {
            let found = find_topic(&topics, version, t);
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    let result = PartitionData::default()
                        .with_partition_index(p.partition)
                        .with_aborted_transactions(read_committed.then(Vec::new));
                    let Some(log) = found.and_then(|topic| topic.partition(p.partition)) else {
                        any_error = true;
                        let code = if version >= 13 {
                            ErrorCode::UNKNOWN_TOPIC_ID
                        } else {
                            ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
                        };
                        return result.with_error_code(code.0).with_high_watermark(-1);
                    };
                    let stable = log.last_stable_offset();
                    let result = result
                        .with_high_watermark(log.next_offset())
                        .with_last_stable_offset(stable)
                        .with_log_start_offset(log.log_start_offset());
                    // read_committed readers stop at the LSO.
                    let end = if read_committed { stable } else { i64::MAX };
                    match log.locate(p.fetch_offset) {
                        ReadStart::OutOfRange => {
                            any_error = true;
                            result.with_error_code(ErrorCode::OFFSET_OUT_OF_RANGE.0)
                        }
                        ReadStart::End => result,
                        ReadStart::Batch(from) => {
                            let partition_max = usize::try_from(p.partition_max_bytes).unwrap_or(0);
                            let budget = partition_max.min(max_bytes.saturating_sub(total));
                            let (batches, upper) = if total > 0 && budget == 0 {
                                (Vec::new(), p.fetch_offset)
                            } else if total > 0 {
                                // Only the first data in a response may exceed the limits.
                                let (mut b, upper) = log.read_below(from, budget, end);
                                if b.first().is_some_and(|x| x.len() > budget) {
                                    b.clear();
                                }
                                (b, upper)
                            } else {
                                log.read_below(from, budget, end)
                            };
                            let aborted = if read_committed && !batches.is_empty() {
                                log.aborted_transactions(p.fetch_offset, upper)
                                    .into_iter()
                                    .map(|a| {
                                        AbortedTransaction::default()
                                            .with_producer_id(ProducerId(a.producer_id))
                                            .with_first_offset(a.first_offset)
                                    })
                                    .collect()
                            } else {
                                Vec::new()
                            };
                            let records = concat(&batches);
                            total += records.len();
                            let result = result.with_records(Some(records));
                            if read_committed {
                                result.with_aborted_transactions(Some(aborted))
                            } else {
                                result
                            }
                        }
                    }
                })
                .collect();
            let resp = FetchableTopicResponse::default().with_partitions(partitions);
            if version >= 13 {
                resp.with_topic_id(t.topic_id)
            } else {
                resp.with_topic(t.topic.clone())
            }
        })
        .collect();
    (
        FetchResponse::default().with_responses(responses),
        total,
        any_error,
    )
}

fn find_topic<'a>(
    topics: &'a std::collections::BTreeMap<String, Topic>,
    version: i16,
    t: &FetchTopic,
) -> Option<&'a Topic> {
    if version >= 13 {
        topics.values().find(|topic| topic.id == t.topic_id)
    } else {
        topics.get(t.topic.0.as_str())
    }
}

fn concat(batches: &[Bytes]) -> Bytes {
    match batches {
        [] => Bytes::new(),
        [one] => one.clone(),
        many => {
            let mut out = BytesMut::with_capacity(many.iter().map(Bytes::len).sum());
            for b in many {
                out.extend_from_slice(b);
            }
            out.freeze()
        }
    }
}
