//! Fetch (key 1), versions 4–16.
//!
//! Long poll: the request is answered once `min_bytes` are available, an error is found, or
//! `max_wait_ms` has passed, whichever comes first. A waiting fetch is woken only by changes
//! to the partitions it asked for (an append, a transaction marker, the partition's
//! deletion), never by writes elsewhere. A fetch with no partitions is answered at once, as
//! Kafka does. Byte limits
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
//! Record data is never copied here: each partition's batches stay the log's own buffers, and
//! [`FetchOutput::encode`] hands them to the connection as separate slices for one vectored
//! write (a response assembled in one buffer copied every byte twice and allocated fresh
//! memory per response, which made the broker the bottleneck of large fetches).
//!
//! Not here: fetch sessions (KIP-227; every response has session id 0, which tells clients to
//! send full requests), follower fetching and rack awareness.

mod encode;

pub use encode::Parts;

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use bytes::Bytes;
use ferrokafka_protocol::ErrorCode;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::fetch_response::{
    AbortedTransaction, FetchableTopicResponse, PartitionData,
};
use kafka_protocol::messages::{FetchRequest, FetchResponse, ProducerId};
use tokio::sync::futures::OwnedNotified;
use tokio::time::Instant;

use crate::state::log::ReadStart;
use crate::state::topics::Topic;
use crate::state::BrokerState;

/// The longest a fetch is held, whatever the client asks; clients re-poll.
const MAX_WAIT_CAP: Duration = Duration::from_secs(30);

/// A Fetch response with its record data still in the log's buffers.
#[derive(Debug)]
pub struct FetchOutput {
    /// The response. Every partition's `records` field is left empty (or null); its data is in
    /// `batches`.
    pub response: FetchResponse,
    /// Each partition's batches, in the order the partitions appear in `response`.
    pub batches: Vec<Vec<Bytes>>,
}

impl FetchOutput {
    fn new(response: FetchResponse) -> Self {
        FetchOutput {
            response,
            batches: Vec::new(),
        }
    }
}

pub(super) async fn handle(state: &BrokerState, version: i16, req: FetchRequest) -> FetchOutput {
    if req.session_id != 0 || req.session_epoch > 0 {
        return FetchOutput::new(
            FetchResponse::default().with_error_code(ErrorCode::FETCH_SESSION_ID_NOT_FOUND.0),
        );
    }
    let wait = Duration::from_millis(u64::try_from(req.max_wait_ms).unwrap_or(0)).min(MAX_WAIT_CAP);
    let deadline = Instant::now() + wait;
    let min_bytes = usize::try_from(req.min_bytes).unwrap_or(0);
    if req.topics.iter().all(|t| t.partitions.is_empty()) {
        // Nothing to wait for (Java sends such a fetch when it closes a consumer): Kafka
        // answers at once.
        return read(state, version, &req, None).0;
    }
    let mut waiting = None;
    loop {
        let (response, changed) = read(state, version, &req, Some((min_bytes, deadline)));
        let Some(changed) = changed else {
            return response;
        };
        waiting.get_or_insert_with(|| state.fetch_waiting());
        if tokio::time::timeout_at(deadline, any(changed))
            .await
            .is_err()
        {
            return read(state, version, &req, None).0;
        }
        state.count_fetch_wakeup();
    }
}

/// The futures that resolve when the fetch's partitions change, one per partition.
type Changed = Vec<Pin<Box<OwnedNotified>>>;

/// Builds the response from what the logs hold now. With `wait` (`min_bytes` and the
/// deadline), when the read is not enough to answer, it also returns what to wait on, taken
/// under the same lock as the read so that no change in between is missed.
fn read(
    state: &BrokerState,
    version: i16,
    req: &FetchRequest,
    wait: Option<(usize, Instant)>,
) -> (FetchOutput, Option<Changed>) {
    let topics = state.topics();
    let mut reader = Reader {
        version,
        read_committed: req.isolation_level == 1,
        max_bytes: if req.max_bytes > 0 {
            req.max_bytes as usize
        } else {
            usize::MAX
        },
        total: 0,
        any_error: false,
        batches: Vec::new(),
    };
    let responses = req
        .topics
        .iter()
        .map(|t| {
            let found = find_topic(&topics, version, t);
            let partitions = t
                .partitions
                .iter()
                .map(|p| reader.partition(found, p))
                .collect();
            let resp = FetchableTopicResponse::default().with_partitions(partitions);
            if version >= 13 {
                resp.with_topic_id(t.topic_id)
            } else {
                resp.with_topic(t.topic.clone())
            }
        })
        .collect();
    let output = FetchOutput {
        response: FetchResponse::default().with_responses(responses),
        batches: reader.batches,
    };
    let answer_now = wait.is_none_or(|(min_bytes, deadline)| {
        reader.total >= min_bytes.max(1) || reader.any_error || Instant::now() >= deadline
    });
    if answer_now {
        return (output, None);
    }
    (output, Some(changes(&topics, version, req)))
}

/// What resolves when one of the request's partitions changes (all of them exist: a missing
/// one is an error, answered at once).
fn changes(topics: &BTreeMap<String, Topic>, version: i16, req: &FetchRequest) -> Changed {
    req.topics
        .iter()
        .filter_map(|t| Some((find_topic(topics, version, t)?, t)))
        .flat_map(|(topic, t)| {
            t.partitions
                .iter()
                .filter_map(|p| Some(Box::pin(topic.partition(p.partition)?.changed())))
        })
        .collect()
}

/// Resolves when any of `changed` does.
async fn any(mut changed: Changed) {
    std::future::poll_fn(|cx| {
        if changed.iter_mut().any(|c| c.as_mut().poll(cx).is_ready()) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
}

/// One read of the logs: the limits of the request and what was taken so far.
struct Reader {
    version: i16,
    read_committed: bool,
    max_bytes: usize,
    /// Record bytes taken so far.
    total: usize,
    any_error: bool,
    /// Each partition's batches, in response order.
    batches: Vec<Vec<Bytes>>,
}

impl Reader {
    fn partition(&mut self, found: Option<&Topic>, p: &FetchPartition) -> PartitionData {
        let (result, batches) = self.read_partition(found, p);
        self.batches.push(batches);
        result
    }

    fn read_partition(
        &mut self,
        found: Option<&Topic>,
        p: &FetchPartition,
    ) -> (PartitionData, Vec<Bytes>) {
        let result = PartitionData::default()
            .with_partition_index(p.partition)
            .with_aborted_transactions(self.read_committed.then(Vec::new));
        let Some(log) = found.and_then(|topic| topic.partition(p.partition)) else {
            self.any_error = true;
            let code = if self.version >= 13 {
                ErrorCode::UNKNOWN_TOPIC_ID
            } else {
                ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
            };
            return (
                result.with_error_code(code.0).with_high_watermark(-1),
                Vec::new(),
            );
        };
        let stable = log.last_stable_offset();
        let result = result
            .with_high_watermark(log.next_offset())
            .with_last_stable_offset(stable)
            .with_log_start_offset(log.log_start_offset());
        // read_committed readers stop at the LSO.
        let end = if self.read_committed {
            stable
        } else {
            i64::MAX
        };
        let from = match log.locate(p.fetch_offset) {
            ReadStart::OutOfRange => {
                self.any_error = true;
                let result = result.with_error_code(ErrorCode::OFFSET_OUT_OF_RANGE.0);
                return (result, Vec::new());
            }
            ReadStart::End => return (result, Vec::new()),
            ReadStart::Batch(from) => from,
        };
        let partition_max = usize::try_from(p.partition_max_bytes).unwrap_or(0);
        let budget = partition_max.min(self.max_bytes.saturating_sub(self.total));
        // Only the first data in a response may exceed the limits.
        let read = if self.total > 0 && budget == 0 {
            Ok((Vec::new(), p.fetch_offset))
        } else {
            log.read_below(from, budget, end, self.total == 0)
        };
        let (batches, upper) = match read {
            Ok(read) => read,
            Err(err) => {
                tracing::warn!(partition = p.partition, %err, "fetch: cannot read the partition's log from the data dir");
                self.any_error = true;
                let result = result.with_error_code(ErrorCode::KAFKA_STORAGE_ERROR.0);
                return (result, Vec::new());
            }
        };
        self.total += batches.iter().map(Bytes::len).sum::<usize>();
        if !self.read_committed {
            return (result, batches);
        }
        let aborted = if batches.is_empty() {
            Vec::new()
        } else {
            log.aborted_transactions(p.fetch_offset, upper)
                .into_iter()
                .map(|a| {
                    AbortedTransaction::default()
                        .with_producer_id(ProducerId(a.producer_id))
                        .with_first_offset(a.first_offset)
                })
                .collect()
        };
        (result.with_aborted_transactions(Some(aborted)), batches)
    }
}

fn find_topic<'a>(
    topics: &'a BTreeMap<String, Topic>,
    version: i16,
    t: &FetchTopic,
) -> Option<&'a Topic> {
    if version >= 13 {
        topics.values().find(|topic| topic.id == t.topic_id)
    } else {
        topics.get(t.topic.0.as_str())
    }
}
