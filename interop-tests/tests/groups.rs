//! Consumer groups with real clients, against every broker target: librdkafka members share a
//! topic's partitions, take over from a member that leaves, and commit offsets that a later
//! member of the group starts from.

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use ferrokafka_interop_tests::peers::rdkafka as rd;
use ferrokafka_interop_tests::peers::rdkafka_group::{
    assignments_cover, poll_until, GroupConsumer, Received,
};
use ferrokafka_interop_tests::{scenario, unique_topic, Target, TestRecord};

const PARTITIONS: i32 = 6;
const WAIT: Duration = Duration::from_secs(60);

/// Produces `per_partition` records to every partition, values `round-p-i`; returns them by
/// `(partition, offset)`.
fn produce_round(
    t: &Target,
    topic: &str,
    round: &str,
    per_partition: usize,
) -> BTreeMap<(i32, i64), Vec<u8>> {
    let records: Vec<TestRecord> = (0..PARTITIONS)
        .flat_map(|p| {
            (0..per_partition).map(move |i| TestRecord {
                partition: p,
                timestamp: None,
                key: None,
                value: Some(format!("{round}-{p}-{i}").into_bytes()),
                headers: Vec::new(),
            })
        })
        .collect();
    let delivered = rd::produce(&t.bootstrap, topic, &records, &[("acks", "all")]);
    delivered
        .into_iter()
        .zip(records)
        .map(|(at, r)| (at, r.value.unwrap_or_default()))
        .collect()
}

/// Consumes until every record of `want` was read; fails on any record read twice or not
/// wanted. Returns who read which partition.
fn consume_exactly_once(
    members: &[&GroupConsumer],
    want: &BTreeMap<(i32, i64), Vec<u8>>,
    what: &str,
) -> BTreeMap<i32, BTreeSet<usize>> {
    let mut got: BTreeMap<(i32, i64), Received> = BTreeMap::new();
    let count = Cell::new(0);
    poll_until(
        members,
        what,
        WAIT,
        |r| {
            let key = (r.partition, r.offset);
            assert_eq!(
                want.get(&key),
                Some(&r.value),
                "{what}: unexpected record {r:?}"
            );
            if let Some(first) = got.insert(key, r.clone()) {
                panic!(
                    "{what}: {key:?} read twice, by members {} and {}",
                    first.member, r.member
                );
            }
            count.set(got.len());
        },
        |_| count.get() == want.len(),
    );
    let mut readers: BTreeMap<i32, BTreeSet<usize>> = BTreeMap::new();
    for r in got.values() {
        readers.entry(r.partition).or_default().insert(r.member);
    }
    readers
}

scenario!(
    rdkafka_group_shares_partitions_and_takes_over,
    |t: &Target| {
        let topic = unique_topic("grp");
        let group = unique_topic("grp-g");
        rd::admin::create_topic(&t.bootstrap, &topic, PARTITIONS, &[]).expect("create topic");
        let members: Vec<GroupConsumer> = (0..3)
            .map(|_| GroupConsumer::subscribe(&t.bootstrap, &group, &topic, &[]))
            .collect();
        let all: Vec<&GroupConsumer> = members.iter().collect();
        poll_until(
            &all,
            "three disjoint assignments",
            WAIT,
            |r| panic!("nothing was produced yet, read {r:?}"),
            |m| assignments_cover(m, PARTITIONS),
        );
        let sizes: Vec<usize> = all.iter().map(|m| m.assigned().len()).collect();
        assert_eq!(
            sizes,
            vec![2, 2, 2],
            "{:?}: range assignment of 6 over 3",
            t.kind
        );

        let first = produce_round(t, &topic, "one", 5);
        let readers = consume_exactly_once(&all, &first, "first round");
        for (p, who) in &readers {
            assert_eq!(who.len(), 1, "partition {p} read by one member only");
        }
        for m in &all {
            m.commit();
        }

        // The third member leaves; the other two take over its partitions from the committed
        // offsets.
        let mut members = members;
        let gone = members.pop().expect("three members");
        let gone_partitions = gone.assigned();
        drop(gone);
        let rest: Vec<&GroupConsumer> = members.iter().collect();
        poll_until(
            &rest,
            "two members covering all partitions",
            WAIT,
            |r| panic!("nothing new was produced, yet read {r:?}"),
            |m| assignments_cover(m, PARTITIONS),
        );
        let second = produce_round(t, &topic, "two", 3);
        let readers = consume_exactly_once(&rest, &second, "after one member left");
        for p in &gone_partitions {
            assert!(
                readers.contains_key(p),
                "partition {p} of the member that left was taken over"
            );
        }
        for m in &rest {
            m.commit();
        }
        let committed = rest[0].committed(PARTITIONS);
        let expected: BTreeMap<i32, i64> = (0..PARTITIONS).map(|p| (p, 8)).collect();
        assert_eq!(committed, expected, "{:?}: committed offsets", t.kind);
        drop(rest);
        drop(members);

        // A new member of the group starts where the group left off.
        let late = GroupConsumer::subscribe(&t.bootstrap, &group, &topic, &[]);
        assert_eq!(
            late.committed(PARTITIONS),
            expected,
            "committed offsets seen by a new member"
        );
        poll_until(
            &[&late],
            "the new member's assignment",
            WAIT,
            |r| panic!("nothing new was produced, yet read {r:?}"),
            |m| assignments_cover(m, PARTITIONS),
        );
        let third = produce_round(t, &topic, "three", 1);
        assert!(third.keys().all(|(_, offset)| *offset == 8));
        consume_exactly_once(&[&late], &third, "new member after commits");
    }
);
