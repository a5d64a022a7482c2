//! From one partition's records blob in a Fetch response to the records the application sees.
//!
//! What: split the blob into batches ([`RecordBatch::iter_blob`]), check each batch's CRC
//! (`check.crcs`), inflate compressed batches, drop records before the fetch offset (a
//! compressed batch comes back whole even when the fetch starts in its middle), skip control
//! batches, and under `read_committed` skip batches of aborted transactions, as the Java
//! consumer does from the response's aborted-transaction list. The result says where the next
//! fetch starts: after the last complete batch, so a batch cut short at the response's byte
//! limit is simply fetched again.
//!
//! Why here, in the fetch task: decoding runs on the task that received the response, in
//! parallel with the application processing the previous chunk.
//!
//! What not: no legacy message formats (v0/v1 message sets fail as corrupt), no interceptors.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use bytes::Bytes;
use ferrokafka_protocol::record::{ControlRecordType, RecordBatch};

use super::record::ConsumerRecord;
use crate::error::Error;

/// One decoded chunk of a partition.
#[derive(Debug)]
pub(crate) struct Decoded {
    /// Records at or after the fetch offset, in offset order.
    pub records: Vec<ConsumerRecord>,
    /// Where the next fetch of this partition starts.
    pub next_offset: i64,
    /// A corrupt batch that stopped decoding: reported once the records before it are
    /// consumed. The position stays at the batch, so the error repeats until the application
    /// seeks past it.
    pub error: Option<Error>,
}

/// Aborted transactions of one fetch response: `(producer id, first offset)`.
pub(crate) type Aborted = Vec<(i64, i64)>;

/// Decodes `blob`, fetched at `fetch_offset`. `aborted` is `Some` under `read_committed`.
pub(crate) fn decode(
    topic: &Arc<str>,
    partition: i32,
    fetch_offset: i64,
    blob: Bytes,
    check_crcs: bool,
    aborted: Option<Aborted>,
) -> Decoded {
    let corrupt = |offset: i64, reason: String| Error::CorruptRecord {
        topic: topic.to_string(),
        partition,
        offset,
        reason,
    };
    let read_committed = aborted.is_some();
    // Aborted transactions by first offset; a producer's transaction becomes "aborted" once
    // the batches reach its first offset, and stops being so at its ABORT marker.
    let mut pending: BTreeMap<(i64, i64), ()> = aborted
        .unwrap_or_default()
        .into_iter()
        .map(|(pid, first)| ((first, pid), ()))
        .collect();
    let mut aborted_pids: HashSet<i64> = HashSet::new();

    let had_bytes = !blob.is_empty();
    let mut batches = RecordBatch::iter_blob(blob);
    let mut out = Decoded {
        records: Vec::new(),
        next_offset: fetch_offset,
        error: None,
    };
    let mut complete = 0usize;
    for batch in batches.by_ref() {
        let batch = match batch {
            Ok(batch) => batch,
            Err(err) => {
                out.error = Some(corrupt(out.next_offset, err.to_string()));
                return out;
            }
        };
        complete += 1;
        if batch.last_offset() < fetch_offset {
            // A batch wholly before the fetch offset: a broker may return it (compaction,
            // or a fetch in the middle of a compressed batch that ended exactly here).
            continue;
        }
        if check_crcs {
            if let Err(err) = batch.verify_crc() {
                out.error = Some(corrupt(batch.base_offset(), err.to_string()));
                return out;
            }
        }
        if read_committed && batch.producer_id() >= 0 {
            while let Some((&(first, pid), ())) = pending.first_key_value() {
                if first > batch.last_offset() {
                    break;
                }
                pending.remove(&(first, pid));
                aborted_pids.insert(pid);
            }
            if batch.is_control() {
                if is_abort_marker(&batch) {
                    aborted_pids.remove(&batch.producer_id());
                }
            } else if batch.is_transactional() && aborted_pids.contains(&batch.producer_id()) {
                out.next_offset = batch.next_offset();
                continue;
            }
        }
        if batch.is_control() {
            out.next_offset = batch.next_offset();
            continue;
        }
        let records = match batch.records() {
            Ok(records) => records,
            Err(err) => {
                out.error = Some(corrupt(batch.base_offset(), err.to_string()));
                return out;
            }
        };
        let timestamp_type = batch.timestamp_type();
        for record in records {
            let record = match record {
                Ok(record) => record,
                Err(err) => {
                    // A batch is delivered whole or not at all: the records of it decoded
                    // so far are dropped, and the position stops at the batch.
                    out.records.retain(|r| r.offset < batch.base_offset());
                    out.error = Some(corrupt(batch.base_offset(), err.to_string()));
                    return out;
                }
            };
            let offset = record.offset(&batch);
            if offset < fetch_offset {
                continue;
            }
            out.records.push(ConsumerRecord {
                topic: Arc::clone(topic),
                partition,
                offset,
                timestamp: record.timestamp(&batch),
                timestamp_type,
                key: record.key,
                value: record.value,
                headers: record.headers,
                leader_epoch: batch.partition_leader_epoch(),
            });
        }
        out.next_offset = batch.next_offset();
    }
    if complete == 0 && had_bytes && batches.truncated_tail() {
        out.error = Some(corrupt(
            fetch_offset,
            "the fetch response holds part of a batch and no complete one: it cannot make \
             progress (is max.partition.fetch.bytes below the broker's batch size on a broker \
             without KIP-74?)"
                .to_owned(),
        ));
    }
    out
}

/// Where the fetch after one of `blob` (fetched at `fetch_offset`) starts, from the batch
/// headers alone: after the last complete batch, as [`decode`] says when nothing is corrupt.
/// Cheap enough to send the next fetch before this one is decoded.
pub(crate) fn next_offset(fetch_offset: i64, blob: &Bytes) -> i64 {
    RecordBatch::iter_blob(blob.clone())
        .map_while(Result::ok)
        .filter(|batch| batch.last_offset() >= fetch_offset)
        .last()
        .map_or(fetch_offset, |batch| batch.next_offset())
}

fn is_abort_marker(batch: &RecordBatch) -> bool {
    let Ok(mut records) = batch.records() else {
        return false;
    };
    matches!(
        records
            .next()
            .and_then(Result::ok)
            .map(|r| r.control_type()),
        Some(Ok(ControlRecordType::Abort))
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrokafka_protocol::record::{
        BatchBuilder, Compression, ControlRecordType, EndTxnMarker, RecordInput,
    };

    fn batch(base: i64, n: usize, codec: Compression) -> Bytes {
        let mut b = BatchBuilder::new().base_offset(base).compression(codec);
        for i in 0..n {
            b.push(RecordInput {
                timestamp: 1_000 + i as i64,
                key: None,
                value: Some(Bytes::from(format!("v{}", base + i as i64))),
                headers: vec![],
            })
            .unwrap();
        }
        b.build().unwrap()
    }

    fn txn_batch(base: i64, pid: i64, n: usize) -> Bytes {
        let mut b = BatchBuilder::new()
            .base_offset(base)
            .producer(pid, 0)
            .base_sequence(0)
            .transactional(true);
        for _ in 0..n {
            b.push(RecordInput {
                timestamp: 1,
                value: Some(Bytes::from_static(b"t")),
                ..RecordInput::default()
            })
            .unwrap();
        }
        b.build().unwrap()
    }

    fn marker(base: i64, pid: i64, kind: ControlRecordType) -> Bytes {
        BatchBuilder::new()
            .base_offset(base)
            .producer(pid, 0)
            .end_txn_marker(
                EndTxnMarker {
                    kind,
                    coordinator_epoch: 0,
                },
                1,
            )
            .unwrap()
    }

    fn cat(parts: &[Bytes]) -> Bytes {
        Bytes::from(parts.concat())
    }

    fn offsets(d: &Decoded) -> Vec<i64> {
        d.records.iter().map(|r| r.offset).collect()
    }

    #[test]
    fn compressed_batch_from_its_middle_and_partial_tail() {
        let topic: Arc<str> = Arc::from("t");
        let first = batch(0, 5, Compression::Lz4);
        let second = batch(5, 5, Compression::None);
        let blob = cat(&[first, second.slice(..second.len() - 3)]);
        let d = decode(&topic, 0, 2, blob, true, None);
        assert!(d.error.is_none());
        assert_eq!(offsets(&d), [2, 3, 4]);
        assert_eq!(d.next_offset, 5, "the cut batch is fetched again");
    }

    #[test]
    fn next_offset_from_headers_agrees_with_decode() {
        let topic: Arc<str> = Arc::from("t");
        let first = batch(0, 5, Compression::Lz4);
        let second = batch(5, 5, Compression::None);
        let blobs = [
            cat(&[first.clone(), second.slice(..second.len() - 3)]),
            cat(&[first.clone(), second.clone()]),
            cat(&[
                txn_batch(10, 7, 2),
                marker(12, 7, ControlRecordType::Commit),
            ]),
            first.slice(..first.len() - 1),
            Bytes::new(),
        ];
        for blob in blobs {
            for from in [0, 2, 5, 7, 12, 13] {
                let d = decode(&topic, 0, from, blob.clone(), true, None);
                assert!(d.error.is_none() || d.next_offset == from);
                if d.error.is_none() {
                    assert_eq!(next_offset(from, &blob), d.next_offset, "from {from}");
                }
            }
        }
    }

    #[test]
    fn control_batches_are_skipped_but_move_the_position() {
        let topic: Arc<str> = Arc::from("t");
        let blob = cat(&[txn_batch(0, 7, 2), marker(2, 7, ControlRecordType::Commit)]);
        let d = decode(&topic, 0, 0, blob.clone(), true, None);
        assert_eq!(offsets(&d), [0, 1]);
        assert_eq!(d.next_offset, 3);
        let only_marker = decode(&topic, 0, 2, blob, true, None);
        assert!(only_marker.records.is_empty());
        assert_eq!(only_marker.next_offset, 3);
    }

    #[test]
    fn read_committed_drops_aborted_transactions() {
        let topic: Arc<str> = Arc::from("t");
        let blob = cat(&[
            txn_batch(0, 1, 2),                      // aborted
            txn_batch(2, 2, 1),                      // committed
            marker(3, 1, ControlRecordType::Abort),  // ends pid 1's
            marker(4, 2, ControlRecordType::Commit), // ends pid 2's
            txn_batch(5, 1, 1),                      // pid 1 again, committed later
        ]);
        let d = decode(&topic, 0, 0, blob.clone(), true, Some(vec![(1, 0)]));
        assert_eq!(offsets(&d), [2, 5]);
        assert_eq!(d.next_offset, 6);
        let all = decode(&topic, 0, 0, blob, true, None);
        assert_eq!(offsets(&all), [0, 1, 2, 5]);
    }

    #[test]
    fn bad_crc_is_an_error_after_the_good_records() {
        let topic: Arc<str> = Arc::from("t");
        let good = batch(0, 2, Compression::None);
        let mut bad = batch(2, 2, Compression::None).to_vec();
        // A byte of maxTimestamp: covered by the CRC, harmless to decoding.
        bad[40] ^= 0xff;
        let blob = cat(&[good, Bytes::from(bad)]);
        let d = decode(&topic, 3, 0, blob.clone(), true, None);
        assert_eq!(offsets(&d), [0, 1]);
        assert_eq!(d.next_offset, 2);
        let err = d.error.expect("crc error");
        assert!(
            matches!(
                &err,
                Error::CorruptRecord {
                    partition: 3,
                    offset: 2,
                    ..
                }
            ),
            "{err}"
        );
        // check.crcs=false reads the (garbled) record.
        assert!(decode(&topic, 3, 0, blob, false, None).error.is_none());
    }

    #[test]
    fn garbage_and_lone_partial_batches_are_errors_not_panics() {
        let topic: Arc<str> = Arc::from("t");
        let b = batch(0, 3, Compression::None);
        let d = decode(&topic, 0, 0, b.slice(..b.len() - 1), true, None);
        assert!(d.error.is_some());
        assert_eq!(d.next_offset, 0);
        let d = decode(&topic, 0, 0, Bytes::from_static(&[0xff; 80]), true, None);
        assert!(d.error.is_some());
        let d = decode(&topic, 0, 9, Bytes::new(), true, None);
        assert!(d.error.is_none() && d.records.is_empty() && d.next_offset == 9);
    }
}
