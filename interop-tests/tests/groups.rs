//! Consumer groups with real clients, against every broker target: librdkafka members share a
//! topic's partitions, take over from a member that leaves, and commit offsets that a later
//! member of the group starts from; the same with cooperative-sticky (incremental) rebalances;
//! a static member restarts without a rebalance; a Java consumer and librdkafka consumers
//! share one group.

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use ferrokafka_interop_tests::peers::java_group::JavaGroupMember;
use ferrokafka_interop_tests::peers::rdkafka_group::{
    assignments_cover, poll_until, GroupConsumer, Received,
};
use ferrokafka_interop_tests::peers::{java, rdkafka as rd};
use ferrokafka_interop_tests::{scenario, unique_topic, Target};

const PARTITIONS: i32 = 6;
const WAIT: Duration = Duration::from_secs(60);

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

        let first = rd::produce_round(&t.bootstrap, &topic, PARTITIONS, "one", 5);
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
        let second = rd::produce_round(&t.bootstrap, &topic, PARTITIONS, "two", 3);
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
        let third = rd::produce_round(&t.bootstrap, &topic, PARTITIONS, "three", 1);
        assert!(third.keys().all(|(_, offset)| *offset == 8));
        consume_exactly_once(&[&late], &third, "new member after commits");
    }
);

scenario!(rdkafka_cooperative_sticky_group, |t: &Target| {
    let topic = unique_topic("grp-coop");
    let group = unique_topic("grp-coop-g");
    rd::admin::create_topic(&t.bootstrap, &topic, PARTITIONS, &[]).expect("create topic");
    let settings = [("partition.assignment.strategy", "cooperative-sticky")];
    let mut members: Vec<GroupConsumer> = (0..3)
        .map(|_| GroupConsumer::subscribe(&t.bootstrap, &group, &topic, &settings))
        .collect();
    let all: Vec<&GroupConsumer> = members.iter().collect();
    poll_until(
        &all,
        "three cooperative assignments",
        WAIT,
        |r| panic!("nothing was produced yet, read {r:?}"),
        |m| assignments_cover(m, PARTITIONS) && m.iter().all(|c| c.assigned().len() == 2),
    );
    let first = rd::produce_round(&t.bootstrap, &topic, PARTITIONS, "coop", 3);
    consume_exactly_once(&all, &first, "cooperative round");
    for m in &all {
        m.commit();
    }
    // The survivors keep what they had and gain the leaver's partitions.
    let kept: Vec<Vec<i32>> = all[..2].iter().map(|m| m.assigned()).collect();
    drop(all);
    drop(members.pop());
    let rest: Vec<&GroupConsumer> = members.iter().collect();
    poll_until(
        &rest,
        "two members covering all partitions",
        WAIT,
        |r| panic!("nothing new was produced, yet read {r:?}"),
        |m| assignments_cover(m, PARTITIONS),
    );
    for (m, before) in rest.iter().zip(&kept) {
        let now = m.assigned();
        assert!(
            before.iter().all(|p| now.contains(p)),
            "{:?}: sticky member lost partitions: {before:?} -> {now:?}",
            t.kind
        );
    }
    let second = rd::produce_round(&t.bootstrap, &topic, PARTITIONS, "coop-after", 2);
    consume_exactly_once(&rest, &second, "after a cooperative take-over");
});

scenario!(
    rdkafka_static_member_restarts_without_rebalance,
    |t: &Target| {
        let topic = unique_topic("grp-static");
        let group = unique_topic("grp-static-g");
        rd::admin::create_topic(&t.bootstrap, &topic, PARTITIONS, &[]).expect("create topic");
        let instance = |name: &str| format!("{group}-{name}");
        let (ia, ib) = (instance("a"), instance("b"));
        let a =
            GroupConsumer::subscribe(&t.bootstrap, &group, &topic, &[("group.instance.id", &ia)]);
        let b =
            GroupConsumer::subscribe(&t.bootstrap, &group, &topic, &[("group.instance.id", &ib)]);
        poll_until(
            &[&a, &b],
            "two static members",
            WAIT,
            |r| panic!("nothing was produced yet, read {r:?}"),
            |m| assignments_cover(m, PARTITIONS),
        );
        let (a_parts, b_parts) = (a.assigned(), b.assigned());
        let first = rd::produce_round(&t.bootstrap, &topic, PARTITIONS, "static", 2);
        consume_exactly_once(&[&a, &b], &first, "static members");
        a.commit();
        b.commit();
        let a_rebalances = a.rebalances();
        // B restarts: a static member sends no LeaveGroup, and its replacement with the same
        // instance id takes over its place and partitions without a rebalance.
        drop(b);
        let b2 =
            GroupConsumer::subscribe(&t.bootstrap, &group, &topic, &[("group.instance.id", &ib)]);
        poll_until(
            &[&a, &b2],
            "the restarted static member's assignment",
            WAIT,
            |r| panic!("nothing new was produced, yet read {r:?}"),
            |_| !b2.assigned().is_empty(),
        );
        assert_eq!(
            b2.assigned(),
            b_parts,
            "{:?}: same partitions after restart",
            t.kind
        );
        assert_eq!(a.assigned(), a_parts);
        assert_eq!(
            a.rebalances(),
            a_rebalances,
            "{:?}: A saw no rebalance",
            t.kind
        );
        let second = rd::produce_round(&t.bootstrap, &topic, PARTITIONS, "static-after", 2);
        consume_exactly_once(&[&a, &b2], &second, "after the static restart");
    }
);

/// True when the rdkafka members and the Java member hold non-empty, disjoint assignments
/// that together are every partition.
fn mixed_cover(rd_members: &[&GroupConsumer], java: &JavaGroupMember) -> bool {
    if java.assigned().is_empty() || !assignments_cover_with(rd_members, java.assigned()) {
        return false;
    }
    true
}

fn assignments_cover_with(rd_members: &[&GroupConsumer], extra: &[i32]) -> bool {
    let mut all: Vec<i32> = extra.to_vec();
    for m in rd_members {
        let mine = m.assigned();
        if mine.is_empty() {
            return false;
        }
        all.extend(mine);
    }
    all.sort_unstable();
    all == (0..PARTITIONS).collect::<Vec<_>>()
}

scenario!(java_and_rdkafka_consumers_share_a_group, |t: &Target| {
    if !java::available() {
        return;
    }
    let topic = unique_topic("grp-mixed");
    let group = unique_topic("grp-mixed-g");
    rd::admin::create_topic(&t.bootstrap, &topic, PARTITIONS, &[]).expect("create topic");
    // The Java client offers range and cooperative-sticky, librdkafka range and roundrobin:
    // the group must settle on range, the one protocol they share.
    let mut java = JavaGroupMember::start(
        &t.bootstrap,
        &topic,
        &group,
        2,
        &[
            ("session.timeout.ms", "6000"),
            ("heartbeat.interval.ms", "100"),
        ],
    );
    let rd_members: Vec<GroupConsumer> = (0..2)
        .map(|_| GroupConsumer::subscribe(&t.bootstrap, &group, &topic, &[]))
        .collect();
    let rd_refs: Vec<&GroupConsumer> = rd_members.iter().collect();
    let deadline = std::time::Instant::now() + WAIT;
    while !mixed_cover(&rd_refs, &java) {
        assert!(
            std::time::Instant::now() < deadline,
            "{:?}: java + rdkafka never shared the partitions",
            t.kind
        );
        for (i, m) in rd_refs.iter().enumerate() {
            if let Some(r) = m.poll(i, Duration::from_millis(20)) {
                panic!("nothing was produced yet, read {r:?}");
            }
        }
        assert!(java.drain().is_empty(), "nothing was produced yet");
    }
    let java_partitions = java.assigned().to_vec();
    assert_eq!(
        java_partitions.len(),
        2,
        "range gives the Java member 2 of 6"
    );

    let first = rd::produce_round(&t.bootstrap, &topic, PARTITIONS, "mixed", 4);
    let mut got: BTreeMap<(i32, i64), usize> = BTreeMap::new();
    let deadline = std::time::Instant::now() + WAIT;
    while got.len() < first.len() {
        assert!(
            std::time::Instant::now() < deadline,
            "{:?}: read {} of {} records",
            t.kind,
            got.len(),
            first.len()
        );
        let mut batch = java.drain();
        for (i, m) in rd_refs.iter().enumerate() {
            while let Some(r) = m.poll(i, Duration::from_millis(20)) {
                batch.push(r);
            }
        }
        for r in batch {
            let key = (r.partition, r.offset);
            assert_eq!(first.get(&key), Some(&r.value), "unexpected {r:?}");
            if let Some(before) = got.insert(key, r.member) {
                panic!("{key:?} read twice, by members {before} and {}", r.member);
            }
        }
    }
    for ((p, _), member) in &got {
        assert_eq!(
            *member == 2,
            java_partitions.contains(p),
            "partition {p} read by member {member}"
        );
    }
    for m in &rd_refs {
        m.commit();
    }

    // The Java member commits and leaves; librdkafka takes over its partitions from there.
    let late = java.stop(WAIT);
    assert!(
        late.is_empty(),
        "the java member read {late:?} after everything was read"
    );
    poll_until(
        &rd_refs,
        "rdkafka taking over from java",
        WAIT,
        |r| panic!("nothing new was produced, yet read {r:?}"),
        |m| assignments_cover(m, PARTITIONS),
    );
    let second = rd::produce_round(&t.bootstrap, &topic, PARTITIONS, "after-java", 2);
    let readers = consume_exactly_once(&rd_refs, &second, "after the java member left");
    for p in &java_partitions {
        assert!(
            readers.contains_key(p),
            "partition {p} taken over from java"
        );
    }
    let expected: BTreeMap<i32, i64> = (0..PARTITIONS).map(|p| (p, 4)).collect();
    assert_eq!(
        rd_refs[0].committed(PARTITIONS),
        expected,
        "the java member's commits are there"
    );
});
