//! The record model every peer writes and reads, so results compare field by field.

/// A record as a test writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestRecord {
    /// Target partition.
    pub partition: i32,
    /// Create time; `None` lets the producer stamp it.
    pub timestamp: Option<i64>,
    /// `None` is a null key.
    pub key: Option<Vec<u8>>,
    /// `None` is a null value.
    pub value: Option<Vec<u8>>,
    /// In order, duplicates kept; `None` is a null header value.
    pub headers: Vec<(String, Option<Vec<u8>>)>,
}

/// A record as a peer read it back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consumed {
    /// What was read.
    pub record: TestRecord,
    /// Its offset.
    pub offset: i64,
}

/// A varied set of records: null and empty keys and values, duplicate and null headers,
/// binary bytes (no NUL: kcat prints header values as C strings), explicit timestamps, spread
/// over `partitions`.
pub fn sample(n: usize, partitions: i32) -> Vec<TestRecord> {
    (0..n)
        .map(|i| {
            let key = match i % 4 {
                0 => None,
                1 => Some(Vec::new()),
                _ => Some(format!("key-{i}").into_bytes()),
            };
            let value = match i % 5 {
                3 => None,
                4 => Some(Vec::new()),
                _ => Some(format!("value-{i}-{}", "x".repeat(i % 7)).into_bytes()),
            };
            let headers = match i % 3 {
                0 => Vec::new(),
                1 => vec![
                    ("h".to_owned(), Some(b"one".to_vec())),
                    ("h".to_owned(), Some(b"two".to_vec())),
                ],
                _ => vec![
                    ("trace".to_owned(), Some(vec![1, 2, 127, 255])),
                    ("nil".to_owned(), None),
                ],
            };
            TestRecord {
                partition: (i as i32) % partitions.max(1),
                timestamp: Some(1_700_000_000_000 + i as i64 * 1000),
                key,
                value,
                headers,
            }
        })
        .collect()
}

/// Asserts that `got` holds exactly `sent`, partition by partition in order, with consecutive
/// offsets starting at `base` in each partition.
pub fn assert_same(sent: &[TestRecord], got: &[Consumed], what: &str) {
    assert_eq!(got.len(), sent.len(), "{what}: record count");
    let mut partitions: Vec<i32> = sent.iter().map(|r| r.partition).collect();
    partitions.sort_unstable();
    partitions.dedup();
    for p in partitions {
        let want: Vec<&TestRecord> = sent.iter().filter(|r| r.partition == p).collect();
        let have: Vec<&Consumed> = got.iter().filter(|c| c.record.partition == p).collect();
        assert_eq!(have.len(), want.len(), "{what}: records in partition {p}");
        for (i, (w, h)) in want.iter().zip(&have).enumerate() {
            let mut expected = (*w).clone();
            if expected.timestamp.is_none() {
                expected.timestamp = h.record.timestamp;
                assert!(
                    h.record.timestamp.is_some_and(|t| t > 0),
                    "{what}: producer set no timestamp"
                );
            }
            assert_eq!(h.record, expected, "{what}: partition {p} record {i}");
            if i > 0 {
                assert_eq!(
                    h.offset,
                    have[i - 1].offset + 1,
                    "{what}: offsets in partition {p}"
                );
            }
        }
    }
}

/// Three transactions' worth of the sample (36 records over `partitions`), the middle one to be
/// aborted: `(the three parts, the committed records, all records)`.
pub fn three_transactions(
    partitions: i32,
) -> (Vec<Vec<TestRecord>>, Vec<TestRecord>, Vec<TestRecord>) {
    let all = sample(36, partitions);
    let parts: Vec<Vec<TestRecord>> = all.chunks(12).map(<[TestRecord]>::to_vec).collect();
    let committed = parts.iter().step_by(2).flatten().cloned().collect();
    (parts, committed, all)
}

/// The records of `records` that belong to partition `p`, in order.
pub fn in_partition(records: &[TestRecord], p: i32) -> Vec<TestRecord> {
    records
        .iter()
        .filter(|r| r.partition == p)
        .cloned()
        .collect()
}

/// The records of what was consumed, without offsets.
pub fn records(got: &[Consumed]) -> Vec<TestRecord> {
    got.iter().map(|c| c.record.clone()).collect()
}
