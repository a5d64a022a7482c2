//! Produce (key 0), versions 3–12.
//!
//! Each partition's records must be whole magic-v2 batches with valid CRCs, consistent record
//! counts, and no larger than the topic's `max.message.bytes`; on a compacted topic every
//! record needs a key. A partition that fails any check gets an error (CORRUPT_MESSAGE,
//! MESSAGE_TOO_LARGE, UNSUPPORTED_FOR_MESSAGE_FORMAT, INVALID_RECORD with the keyless records
//! listed in `record_errors` as Kafka lists them) and none of its batches is written, while
//! other partitions of the same request are unaffected. Batches that would take the broker's
//! record data past its memory budget get KAFKA_STORAGE_ERROR, what Kafka answers from a full
//! log directory, with a message naming the budget ([`crate::state::memory`]). The
//! broker assigns offsets by rewriting each batch's base offset, and stamps LogAppendTime
//! topics with the append time. `acks=0` writes and sends nothing back; acks 1 and -1 are the
//! same here, as this broker is the only replica.
//!
//! Batches with a producer id (idempotent producers) are then checked against the partition's
//! producer state ([`crate::state::producers`]), still before anything is written, as Kafka's
//! partition leader does:
//! - a batch whose epoch and sequence range match one of the producer's last five batches is a
//!   retry: it is answered with success and the ORIGINAL base offset, and not written again
//!   (Kafka answers duplicates this way, not with DUPLICATE_SEQUENCE_NUMBER; like Kafka, the
//!   answer's `log_append_time` is the first write's stored max timestamp);
//! - an epoch older than the partition's → INVALID_PRODUCER_EPOCH;
//! - a newer epoch not starting at sequence 0, or a sequence that does not continue the last
//!   one (gaps, and retries older than the window) → OUT_OF_ORDER_SEQUENCE_NUMBER;
//! - a producer the partition has not seen may start at any sequence (Kafka stopped answering
//!   UNKNOWN_PRODUCER_ID for this with KIP-360).
//!
//! Kafka takes one batch per partition per request; this broker takes several, checks each
//! against the ones before it, and answers a partition whose batches are all retries as a
//! retry of the first, while a mix of retries and new batches is refused with INVALID_RECORD
//! (no client sends one).
//!
//! Transactional batches (KIP-98) are checked first against the transaction coordinator, as a
//! Kafka 4.x partition leader verifies them (KIP-890): the request must carry the
//! transactional id (else every partition of the request gets
//! TRANSACTIONAL_ID_AUTHORIZATION_FAILED, as Kafka refuses the whole request); an id unknown
//! or of another producer id is INVALID_PRODUCER_ID_MAPPING; another epoch than the
//! transaction's is INVALID_PRODUCER_EPOCH (what Kafka turns the coordinator's PRODUCER_FENCED
//! into). Then the transaction version decides, per request (KIP-890): up to v11 (version 1)
//! a partition not added to the ongoing transaction is INVALID_TXN_STATE, or
//! TRANSACTION_ABORTABLE for v11, the version whose clients know that error; v12 (version 2,
//! v11 on the wire) adds the partition to the transaction, starting one if none is open, and
//! answers CONCURRENT_TRANSACTIONS while a transaction is being completed. With version 2 the
//! epoch moves on with every transaction, so a partition's first batch of a new epoch must
//! start at sequence 0 (the idempotence checks below). After the idempotence checks, a
//! non-transactional batch from a producer with a transaction open on the partition is
//! INVALID_TXN_STATE. The first transactional batch of a transaction on a partition records
//! its first offset there (see `state/log.rs`: it holds the last stable offset back until the
//! marker). Control batches from clients are INVALID_RECORD. The coordinator's lock is held
//! across the append, so a batch can never land after its transaction's markers.

use bytes::Bytes;
use ferrokafka_protocol::record::{RecordBatch, RecordError, MAGIC_V2};
use ferrokafka_protocol::ErrorCode;
use kafka_protocol::messages::produce_response::{
    BatchIndexAndErrorMessage, PartitionProduceResponse, TopicProduceResponse,
};
use kafka_protocol::messages::{ProduceRequest, ProduceResponse};
use kafka_protocol::protocol::StrBytes;

use crate::state::log::PartitionLog;
use crate::state::log::StoredBatch;
use crate::state::producers::{
    Placement, ProducerBatch, ProducerChanges, ProducerStates, SequenceError, Verdict,
};
use crate::state::topics::{TimestampType, Topic};
use crate::state::transactions::{Transactions, TxnBatchError, TxnVersion};
use crate::state::{now_ms, BrokerState};

/// What the transactional checks of one request need.
struct TxnContext<'a> {
    /// The request's transactional id.
    id: Option<&'a str>,
    /// The coordinator's state, locked for the whole request when it has a transactional id.
    txns: Option<&'a mut Transactions>,
    version: i16,
}

pub(super) async fn handle(
    state: &BrokerState,
    version: i16,
    req: ProduceRequest,
) -> Option<ProduceResponse> {
    let acks_ok = matches!(req.acks, -1..=1);
    let no_transactional_id = req.transactional_id.is_none() && has_transactional_records(&req);
    let mut responses = Vec::with_capacity(req.topic_data.len());
    {
        // Lock order: transactions, then topics (see state/transactions.rs).
        let mut txns = req
            .transactional_id
            .as_ref()
            .map(|_| state.transactions.lock());
        let mut txn = TxnContext {
            id: req.transactional_id.as_ref().map(|id| id.0.as_str()),
            txns: txns.as_deref_mut(),
            version,
        };
        let mut topics = state.topics();
        for topic_data in req.topic_data {
            let name = topic_data.name.0.as_str().to_owned();
            let exists = state.auto_create(&mut topics, &name);
            let topic = topics.get_mut(&name).filter(|_| exists);
            let mut topic = topic;
            let partitions = topic_data
                .partition_data
                .into_iter()
                .map(|p| {
                    let result = PartitionProduceResponse::default().with_index(p.index);
                    let outcome = if !acks_ok {
                        Err((ErrorCode::INVALID_REQUIRED_ACKS, "acks must be -1, 0 or 1".into()).into())
                    } else if no_transactional_id {
                        Err((
                            ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
                            "transactional records need the request's transactional id".into(),
                        ).into())
                    } else {
                        match topic.as_deref_mut() {
                            // Kafka answers this one without a message.
                            Some(t) if t.internal => {
                                Err((ErrorCode::INVALID_TOPIC_EXCEPTION, String::new()).into())
                            }
                            Some(t) => {
                                append(t, &name, p.index, p.records.unwrap_or_default(), &mut txn)
                            }
                            None => Err((
                                ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
                                format!("unknown topic '{name}'"),
                            ).into()),
                        }
                    };
                    match outcome {
                        Ok(done) => {
                            result
                                .with_base_offset(done.base_offset)
                                .with_log_append_time_ms(done.log_append_time)
                                .with_log_start_offset(done.log_start_offset)
                        }
                        Err(Rejection {
                            code,
                            message,
                            record_errors,
                        }) => {
                            tracing::debug!(topic = %name, partition = p.index, %code, %message, "produce rejected");
                            let result = result.with_error_code(code.0).with_base_offset(-1);
                            if version >= 8 {
                                let message = Some(message)
                                    .filter(|m| !m.is_empty())
                                    .map(StrBytes::from_string);
                                let record_errors = record_errors
                                    .into_iter()
                                    .map(|(index, message)| {
                                        BatchIndexAndErrorMessage::default()
                                            .with_batch_index(index)
                                            .with_batch_index_error_message(Some(
                                                StrBytes::from_string(message),
                                            ))
                                    })
                                    .collect();
                                result
                                    .with_error_message(message)
                                    .with_record_errors(record_errors)
                            } else {
                                result
                            }
                        }
                    }
                })
                .collect();
            responses.push(
                TopicProduceResponse::default()
                    .with_name(topic_data.name)
                    .with_partition_responses(partitions),
            );
        }
    }
    (req.acks != 0).then(|| ProduceResponse::default().with_responses(responses))
}

/// Whether any batch of the request is transactional (batches that do not parse are
/// refused later, partition by partition).
fn has_transactional_records(req: &ProduceRequest) -> bool {
    req.topic_data.iter().any(|t| {
        t.partition_data.iter().any(|p| {
            p.records.as_ref().is_some_and(|records| {
                RecordBatch::iter_blob(records.clone())
                    .filter_map(Result::ok)
                    .any(|b| b.is_transactional())
            })
        })
    })
}

/// What a successful append reports.
struct Appended {
    base_offset: i64,
    log_append_time: i64,
    log_start_offset: i64,
}

/// Why a partition's records were refused: Kafka's error, its message, and for a batch
/// refused because of some of its records, each such record's index in the batch with why
/// (Produce v8+ `record_errors`).
struct Rejection {
    code: ErrorCode,
    message: String,
    record_errors: Vec<(i32, String)>,
}

impl From<(ErrorCode, String)> for Rejection {
    fn from((code, message): (ErrorCode, String)) -> Self {
        Rejection {
            code,
            message,
            record_errors: Vec::new(),
        }
    }
}

/// Validates every batch for one partition, then appends them all, or none.
fn append(
    topic: &mut Topic,
    topic_name: &str,
    partition: i32,
    records: Bytes,
    txn: &mut TxnContext<'_>,
) -> Result<Appended, Rejection> {
    let max_bytes = usize::try_from(topic.config.max_message_bytes).unwrap_or(0);
    let append_time = match topic.config.timestamp_type {
        TimestampType::LogAppendTime => Some(now_ms()),
        TimestampType::CreateTime => None,
    };
    // Kafka names the partition in its message about keyless records.
    let keys_required = topic
        .config
        .compacted()
        .then(|| format!("{topic_name}-{partition}"));
    let memory = topic.memory();
    let log = topic.partition_mut(partition).ok_or_else(|| {
        Rejection::from((
            ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
            format!("no partition {partition}"),
        ))
    })?;
    let batches = validate(records, max_bytes, keys_required.as_deref())?;
    let incoming = batches.iter().map(RecordBatch::size).sum();
    memory
        .admit(incoming, topic_name, partition)
        .map_err(|message| Rejection::from((ErrorCode::KAFKA_STORAGE_ERROR, message)))?;
    verify_transactional(txn, topic_name, partition, &batches)?;
    let base_offset = log.next_offset();
    let changes = match check_sequences(log.producers(), &batches, base_offset, append_time)? {
        Checked::Write(changes) => changes,
        Checked::Duplicate(original) => {
            return Ok(Appended {
                base_offset: original.base_offset,
                log_append_time: original.timestamp,
                log_start_offset: log.log_start_offset(),
            })
        }
    };
    check_open_transactions(log, &batches)?;
    let mut next = base_offset;
    for batch in batches {
        if batch.is_transactional() {
            log.begin_transaction(batch.producer_id(), next);
        }
        let count = i64::from(batch.last_offset_delta()) + 1;
        let max_timestamp = append_time.unwrap_or_else(|| batch.max_timestamp());
        let bytes = batch
            .into_stored(next, 0, append_time)
            .map_err(corrupt)?
            .into_bytes();
        log.append(StoredBatch::new(
            next,
            next + count - 1,
            max_timestamp,
            bytes,
        ))
        .map_err(|err| {
            tracing::warn!(topic = topic_name, partition, %err, "produce refused: the data dir refused the write");
            Rejection::from((ErrorCode::KAFKA_STORAGE_ERROR, err.to_string()))
        })?;
        next += count;
    }
    log.producers_mut().apply(changes);
    Ok(Appended {
        base_offset,
        log_append_time: append_time.unwrap_or(-1),
        log_start_offset: log.log_start_offset(),
    })
}

/// The outcome of the idempotence checks for one partition's batches.
enum Checked {
    /// Write the batches, then apply these producer-state changes.
    Write(ProducerChanges),
    /// Every batch is a retry: write nothing, answer with where the first one went.
    Duplicate(Placement),
}

/// Checks the batches of idempotent producers against the partition's producer state, each
/// at the offsets the write loop will give it, before any is written.
fn check_sequences(
    producers: &ProducerStates,
    batches: &[RecordBatch],
    base_offset: i64,
    append_time: Option<i64>,
) -> Result<Checked, Rejection> {
    let mut pending = producers.begin();
    let mut next = base_offset;
    let mut duplicates = Vec::new();
    for batch in batches {
        let count = i64::from(batch.last_offset_delta()) + 1;
        // Kafka's "has a producer id": anything above NO_PRODUCER_ID (-1).
        if batch.producer_id() < 0 {
            next += count;
            continue;
        }
        let identity = ProducerBatch {
            producer_id: batch.producer_id(),
            epoch: batch.producer_epoch(),
            first_seq: batch.base_sequence(),
            last_seq: batch.last_sequence(),
        };
        let placement = Placement {
            base_offset: next,
            last_offset: next + count - 1,
            timestamp: append_time.unwrap_or_else(|| batch.max_timestamp()),
        };
        match pending
            .check(identity, placement)
            .map_err(out_of_sequence)?
        {
            Verdict::Write => next += count,
            Verdict::Duplicate(original) => duplicates.push(original),
        }
    }
    match duplicates.first() {
        None => Ok(Checked::Write(pending.finish())),
        Some(first) if duplicates.len() == batches.len() => Ok(Checked::Duplicate(*first)),
        Some(_) => Err((
            ErrorCode::INVALID_RECORD,
            "the request mixes batches written before with new ones; resend retries as they \
             were first sent"
                .into(),
        )
            .into()),
    }
}

/// The coordinator's checks of transactional batches (Kafka's partition verification), and
/// no control batches from clients.
fn verify_transactional(
    txn: &mut TxnContext<'_>,
    topic: &str,
    partition: i32,
    batches: &[RecordBatch],
) -> Result<(), Rejection> {
    if batches.iter().any(RecordBatch::is_control) {
        return Err((
            ErrorCode::INVALID_RECORD,
            "clients may not write control batches".into(),
        )
            .into());
    }
    let (Some(id), Some(txns)) = (txn.id, txn.txns.as_deref_mut()) else {
        // Without a transactional id the request was refused as a whole (see `handle`).
        return Ok(());
    };
    // Produce v12 is v11 on the wire: its version says "transaction version 2".
    let tv = TxnVersion::from_v2(txn.version > 11);
    for batch in batches.iter().filter(|b| b.is_transactional()) {
        let (producer_id, epoch) = (batch.producer_id(), batch.producer_epoch());
        let verdict = txns.verify_partition(id, producer_id, epoch, (topic, partition), tv);
        let code = match verdict {
            Ok(()) => continue,
            Err(TxnBatchError::ProducerIdMapping) => ErrorCode::INVALID_PRODUCER_ID_MAPPING,
            Err(TxnBatchError::Fenced) => ErrorCode::INVALID_PRODUCER_EPOCH,
            Err(TxnBatchError::Concurrent) => ErrorCode::CONCURRENT_TRANSACTIONS,
            Err(TxnBatchError::NotInTransaction) if txn.version == 11 => {
                ErrorCode::TRANSACTION_ABORTABLE
            }
            Err(TxnBatchError::NotInTransaction) => ErrorCode::INVALID_TXN_STATE,
        };
        return Err((
            code,
            format!(
                "transactional id '{id}' (producer {producer_id}, epoch {epoch}) has no ongoing \
                 transaction holding {topic}-{partition}"
            ),
        )
            .into());
    }
    Ok(())
}

/// A producer with a transaction open on the partition may only write transactional batches
/// there until its marker, as Kafka's producer state requires.
fn check_open_transactions(log: &PartitionLog, batches: &[RecordBatch]) -> Result<(), Rejection> {
    for batch in batches {
        let producer_id = batch.producer_id();
        if producer_id >= 0
            && !batch.is_transactional()
            && log.open_transaction(producer_id).is_some()
        {
            return Err((
                ErrorCode::INVALID_TXN_STATE,
                format!("producer {producer_id} has a transaction open here: expected a transactional write"),
            ).into());
        }
    }
    Ok(())
}

fn out_of_sequence(err: SequenceError) -> Rejection {
    let code = match err {
        SequenceError::StaleEpoch { .. } => ErrorCode::INVALID_PRODUCER_EPOCH,
        SequenceError::NewEpochNotAtZero { .. } | SequenceError::OutOfOrder { .. } => {
            ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER
        }
    };
    (code, err.to_string()).into()
}

/// Checks what Kafka checks before writing: whole v2 batches, sizes, CRCs, records that
/// parse and agree with the batch header, and on a compacted topic (`keys_required` names
/// its partition) a key on every record.
fn validate(
    records: Bytes,
    max_bytes: usize,
    keys_required: Option<&str>,
) -> Result<Vec<RecordBatch>, Rejection> {
    if records.is_empty() {
        return Err((ErrorCode::CORRUPT_MESSAGE, "no record batches".into()).into());
    }
    let mut iter = RecordBatch::iter_blob(records);
    let mut batches = Vec::new();
    for batch in iter.by_ref() {
        let batch = batch.map_err(corrupt)?;
        if batch.magic() != MAGIC_V2 {
            return Err((
                ErrorCode::UNSUPPORTED_FOR_MESSAGE_FORMAT,
                format!("message format v{} is not supported; use v2", batch.magic()),
            )
                .into());
        }
        if batch.size() > max_bytes {
            return Err((
                ErrorCode::MESSAGE_TOO_LARGE,
                format!(
                    "batch of {} bytes exceeds max.message.bytes {max_bytes}",
                    batch.size()
                ),
            )
                .into());
        }
        batch.verify_crc().map_err(corrupt)?;
        let declared = batch.records_count();
        if declared <= 0 || i64::from(declared) != i64::from(batch.last_offset_delta()) + 1 {
            return Err((
                ErrorCode::INVALID_RECORD,
                format!(
                    "batch declares {declared} records but a last offset delta of {}",
                    batch.last_offset_delta()
                ),
            )
                .into());
        }
        let mut seen = 0i32;
        let mut keyless = Vec::new();
        for record in batch.records().map_err(corrupt)? {
            let record = record.map_err(corrupt)?;
            if let (Some(partition), None) = (keys_required, &record.key) {
                keyless.push((
                    seen,
                    format!(
                        "Compacted topic cannot accept message without key in topic partition \
                         {partition}"
                    ),
                ));
            }
            seen += 1;
        }
        if seen != declared {
            return Err((
                ErrorCode::CORRUPT_MESSAGE,
                format!("batch declares {declared} records but holds {seen}"),
            )
                .into());
        }
        if !keyless.is_empty() {
            return Err(invalid_records(keyless));
        }
        batches.push(batch);
    }
    if iter.truncated_tail() {
        return Err((
            ErrorCode::CORRUPT_MESSAGE,
            "the last record batch is truncated".into(),
        )
            .into());
    }
    Ok(batches)
}

/// A batch refused for some of its records, with Kafka's summary as the partition's message.
fn invalid_records(record_errors: Vec<(i32, String)>) -> Rejection {
    let shown: Vec<String> = record_errors
        .iter()
        .take(3)
        .map(|(index, message)| format!("RecordError(batchIndex={index}, message='{message}')"))
        .collect();
    Rejection {
        code: ErrorCode::INVALID_RECORD,
        message: format!(
            "One or more records have been rejected due to {} record errors in total, and only \
             showing the first three errors at most: [{}]",
            record_errors.len(),
            shown.join(", ")
        ),
        record_errors,
    }
}

fn corrupt(err: RecordError) -> Rejection {
    (ErrorCode::CORRUPT_MESSAGE, err.to_string()).into()
}
