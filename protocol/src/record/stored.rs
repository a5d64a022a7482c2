//! The broker's append step: turning a batch from a Produce request into its stored form.
//!
//! `baseOffset` and `partitionLeaderEpoch` sit before the CRC'd region, so assigning them is a
//! patch with no CRC work. For LogAppendTime topics the timestamp-type bit and `maxTimestamp`
//! change, which are covered, so the CRC is recomputed; records are never re-encoded.
//!
//! Like Java's broker, only `maxTimestamp` receives the append time: readers take every record's
//! timestamp from it under LogAppendTime, and `baseTimestamp` keeps the producer's create time
//! (and with it the meaning of the record deltas), so the stored bytes match a real broker's.
//!
//! What not: validating records, sequences or offsets inside the batch (the broker's log layer
//! decides what to accept), and recompression to a topic's configured codec.

use bytes::{Bytes, BytesMut};

use super::layout::TIMESTAMP_TYPE_BIT;
use super::layout::{self, ATTRIBUTES, BASE_OFFSET, MAX_TIMESTAMP, PARTITION_LEADER_EPOCH};
use super::{RecordBatch, RecordError};

impl RecordBatch {
    /// The stored form of this batch: `base_offset` and `partition_leader_epoch` assigned and,
    /// when `log_append_time` is given, the LogAppendTime bit set and `maxTimestamp` replaced
    /// with it (CRC recomputed).
    ///
    /// The incoming CRC is verified first, so a corrupted batch can never come out with a fresh,
    /// valid CRC; callers need not call [`verify_crc`](Self::verify_crc) themselves. The bytes
    /// are patched in place when this view is their only owner, copied once otherwise.
    pub fn into_stored(
        self,
        base_offset: i64,
        partition_leader_epoch: i32,
        log_append_time: Option<i64>,
    ) -> Result<RecordBatch, RecordError> {
        self.verify_crc()?;
        let attributes = self.attributes();
        let mut buf = match self.into_bytes().try_into_mut() {
            Ok(unique) => unique,
            Err(shared) => BytesMut::from(&shared[..]),
        };
        layout::patch(&mut buf, BASE_OFFSET, &base_offset.to_be_bytes())?;
        layout::patch(
            &mut buf,
            PARTITION_LEADER_EPOCH,
            &partition_leader_epoch.to_be_bytes(),
        )?;
        if let Some(now) = log_append_time {
            let stamped = attributes | TIMESTAMP_TYPE_BIT;
            layout::patch(&mut buf, ATTRIBUTES, &stamped.to_be_bytes())?;
            layout::patch(&mut buf, MAX_TIMESTAMP, &now.to_be_bytes())?;
            let crc = layout::batch_crc(&buf)?;
            layout::patch(&mut buf, layout::CRC, &crc.to_be_bytes())?;
        }
        RecordBatch::new(Bytes::from(buf))
    }
}
