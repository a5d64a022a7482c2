//! The log cleaner's rewrite of one batch: some of its records dropped, the rest kept as they
//! were.
//!
//! As Kafka's cleaner writes them, the kept records keep their offset and timestamp deltas (so
//! their offsets and timestamps), and the header keeps its base offset, `lastOffsetDelta`
//! (so the batch still ends where it ended), timestamps, producer fields, attributes and codec;
//! only the record count, the length and the CRC change.

use bytes::Bytes;

use super::builder::put_existing_record;
use super::layout::{self, BATCH_LENGTH, LOG_OVERHEAD, RECORDS_COUNT, RECORD_BATCH_OVERHEAD};
use super::{compression, Record, RecordBatch, RecordError};

impl RecordBatch {
    /// This batch with only the records `keep` says yes to: `None` if it keeps none, the batch
    /// itself (not copied) if it keeps all.
    pub fn retain(
        &self,
        mut keep: impl FnMut(&Record) -> bool,
    ) -> Result<Option<RecordBatch>, RecordError> {
        let mut kept = Vec::new();
        let mut total = 0usize;
        for record in self.records()? {
            let record = record?;
            total += 1;
            if keep(&record) {
                kept.push(record);
            }
        }
        if kept.is_empty() {
            return Ok(None);
        }
        if kept.len() == total {
            return Ok(Some(self.clone()));
        }
        let mut records = Vec::new();
        for record in &kept {
            put_existing_record(&mut records, record)?;
        }
        let header =
            self.as_bytes()
                .get(..RECORD_BATCH_OVERHEAD)
                .ok_or(RecordError::Truncated {
                    needed: RECORD_BATCH_OVERHEAD,
                    available: self.size(),
                })?;
        let mut out = Vec::with_capacity(RECORD_BATCH_OVERHEAD + records.len());
        out.extend_from_slice(header);
        compression::compress(self.compression()?, &records, &mut out)?;
        let too_large = || RecordError::TooLarge("batch");
        let batch_length = out
            .len()
            .checked_sub(LOG_OVERHEAD)
            .and_then(|n| i32::try_from(n).ok())
            .ok_or_else(too_large)?;
        let count = i32::try_from(kept.len()).map_err(|_| too_large())?;
        layout::patch(&mut out, BATCH_LENGTH, &batch_length.to_be_bytes())?;
        layout::patch(&mut out, RECORDS_COUNT, &count.to_be_bytes())?;
        let crc = layout::batch_crc(&out)?;
        layout::patch(&mut out, layout::CRC, &crc.to_be_bytes())?;
        RecordBatch::new(Bytes::from(out)).map(Some)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use crate::record::{BatchBuilder, Compression, RecordInput};

    fn batch(codec: Compression) -> RecordBatch {
        let mut builder = BatchBuilder::new()
            .base_offset(100)
            .producer(7, 1)
            .base_sequence(3)
            .compression(codec);
        for (i, key) in ["a", "b", "a", "c"].iter().enumerate() {
            builder
                .push(RecordInput {
                    timestamp: 1_000 + i as i64 * 10,
                    key: Some(Bytes::from(*key)),
                    value: (i != 3).then(|| Bytes::from(format!("v{i}"))),
                    headers: Vec::new(),
                })
                .unwrap();
        }
        RecordBatch::new(builder.build().unwrap()).unwrap()
    }

    #[test]
    fn kept_records_keep_their_offsets_timestamps_and_the_batch_its_end() {
        for codec in [Compression::None, Compression::Gzip, Compression::Zstd] {
            let original = batch(codec);
            let kept = original
                .retain(|r| r.key.as_deref() != Some(b"a".as_slice()) || r.offset_delta == 2)
                .unwrap()
                .unwrap();
            kept.verify_crc().unwrap();
            assert_eq!(kept.records_count(), 3);
            assert_eq!(kept.base_offset(), 100);
            assert_eq!(kept.last_offset(), original.last_offset());
            assert_eq!(kept.max_timestamp(), original.max_timestamp());
            assert_eq!(kept.producer_id(), 7);
            assert_eq!(kept.base_sequence(), 3);
            assert_eq!(kept.compression().unwrap(), codec);
            let seen: Vec<(i64, i64, Option<Bytes>)> = kept
                .records()
                .unwrap()
                .map(|r| {
                    let r = r.unwrap();
                    (r.offset(&kept), r.timestamp(&kept), r.value)
                })
                .collect();
            assert_eq!(
                seen,
                vec![
                    (101, 1_010, Some(Bytes::from("v1"))),
                    (102, 1_020, Some(Bytes::from("v2"))),
                    (103, 1_030, None),
                ]
            );
        }
    }

    #[test]
    fn keeping_all_or_none() {
        let original = batch(Compression::None);
        assert_eq!(original.retain(|_| true).unwrap(), Some(original.clone()));
        assert_eq!(original.retain(|_| false).unwrap(), None);
    }
}
