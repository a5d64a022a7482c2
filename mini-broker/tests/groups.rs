//! The group coordinator over raw kafka-protocol requests: membership and rebalances,
//! session expiry, static membership, committed offsets and group administration.
//!
//! The scenarios that describe Kafka run twice (`on_both!`): on the mini-broker and on the
//! real Kafka broker (`KAFKA_BOOTSTRAP` or the state file of scripts/real-kafka.sh; skipped
//! with a note when there is none), so the expected answers are Kafka's own. Those about held
//! requests, short timeouts and the timer run on the mini-broker only.
//!
//! Held requests run in their own tasks; tests wait for the broker to report them parked (or,
//! on Kafka, for a member to be told to rejoin), or for an answer, each bounded by a deadline.
//! No sleep stands in for a condition.

mod common;
mod groups_common;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::{RawConn, STEP};
use ferrokafka_mini_broker::MiniBroker;
use groups_common::*;
use kafka_protocol::messages::leave_group_request::MemberIdentity;
use kafka_protocol::messages::offset_delete_request::{
    OffsetDeleteRequestPartition, OffsetDeleteRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchRequestTopics,
};
use kafka_protocol::messages::{
    DeleteGroupsRequest, DescribeGroupsRequest, FindCoordinatorRequest, HeartbeatRequest,
    LeaveGroupRequest, ListGroupsRequest, OffsetCommitResponse, OffsetDeleteRequest,
    OffsetFetchRequest,
};

async fn broker() -> MiniBroker {
    MiniBroker::start().await.expect("start broker")
}

/// A broker that accepts short session timeouts, for eviction tests.
async fn quick_broker() -> MiniBroker {
    MiniBroker::builder()
        .group_min_session_timeout(Duration::from_millis(100))
        .start()
        .await
        .expect("start broker")
}

on_both!(
    find_coordinator_single_and_batched,
    two_members_join_sync_heartbeat_and_leave,
    member_id_required_only_from_v4,
    join_errors,
    illegal_generation_everywhere,
    static_member_rejoins_without_rebalance_and_fences_the_old_id,
    static_member_with_new_protocol_triggers_a_rebalance,
    offsets_round_trip_with_metadata,
    describe_list_and_delete_groups,
    offset_delete_respects_subscriptions,
    empty_and_unknown_group_ids,
);

async fn find_coordinator_single_and_batched(at: Broker<'_>) {
    let addr = at.addr();
    let port: i32 = addr
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port");
    let mut conn = RawConn::connect(&addr).await;
    let node = conn
        .request(0, &FindCoordinatorRequest::default().with_key(s("g")))
        .await
        .node_id
        .0;
    if at.is_mini() {
        assert_eq!(node, 1);
    }
    for version in 0..=3 {
        let resp = conn
            .request(version, &FindCoordinatorRequest::default().with_key(s("g")))
            .await;
        assert_eq!(
            (resp.error_code, resp.node_id.0, resp.port),
            (0, node, port),
            "v{version}"
        );
    }
    // Kafka answers COORDINATOR_NOT_AVAILABLE while it creates its transaction log on first
    // use; we answer at once.
    let deadline = tokio::time::Instant::now() + STEP;
    loop {
        let resp = conn
            .request(
                3,
                &FindCoordinatorRequest::default()
                    .with_key(s("txn"))
                    .with_key_type(1),
            )
            .await;
        if resp.error_code == 0 {
            assert_eq!((resp.node_id.0, resp.port), (node, port));
            break;
        }
        assert!(
            !at.is_mini() && resp.error_code == 15 && tokio::time::Instant::now() < deadline,
            "transaction coordinator: {}",
            resp.error_code
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let resp = conn
        .request(
            3,
            &FindCoordinatorRequest::default()
                .with_key(s("x"))
                .with_key_type(2),
        )
        .await;
    assert_eq!(resp.error_code, INVALID_REQUEST);
    for version in 4..=6 {
        let resp = conn
            .request(
                version,
                &FindCoordinatorRequest::default().with_coordinator_keys(vec![s("a"), s("b")]),
            )
            .await;
        let keys: Vec<_> = resp
            .coordinators
            .iter()
            .map(|c| (c.key.to_string(), c.error_code, c.node_id.0, c.port))
            .collect();
        assert_eq!(
            keys,
            vec![("a".into(), 0, node, port), ("b".into(), 0, node, port)]
        );
    }
}

async fn two_members_join_sync_heartbeat_and_leave(at: Broker<'_>) {
    let group = unique("g2");
    let spec = JoinSpec::new(&group);
    let mut a = Member::connect(at, spec.clone()).await;
    // Alone in an empty group, the first member's join completes at once: it leads gen 1.
    let ja = a.join().await;
    assert_eq!(ja.error_code, 0);
    assert_eq!((ja.generation_id, ja.leader.to_string()), (1, a.id.clone()));
    assert!(
        a.id.starts_with("raw-"),
        "member id {} from the client id",
        a.id
    );
    assert_eq!(ja.protocol_name.as_deref(), Some("range"));
    assert_eq!(ja.members.len(), 1);
    let a_id = a.id.clone();
    // From v5 the protocol type and name are mandatory.
    let bare = sync_request(&group, a.generation, &a_id, &[]);
    let refused = a.conn.request(5, &bare).await;
    assert_eq!(refused.error_code, INCONSISTENT_GROUP_PROTOCOL);
    let sa = a.sync(&[(&a_id, "a-gen1")]).await;
    assert_eq!((sa.error_code, &sa.assignment[..]), (0, &b"a-gen1"[..]));
    assert_eq!(a.heartbeat().await, 0);

    // A second member's join is held until the first rejoins.
    let b = Member::connect(at, spec.clone()).await;
    let b_join = b.spawn_join();
    at.wait_held(&group, |h| h.joins == 1).await;
    wait_rebalance(&mut a).await;
    let ja = a.join().await;
    let (b, jb) = finish(b_join).await;
    assert_eq!((ja.error_code, jb.error_code), (0, 0));
    assert_eq!((ja.generation_id, jb.generation_id), (2, 2));
    assert_eq!(ja.leader, jb.leader);
    assert_eq!(
        ja.leader.to_string(),
        a.id,
        "the first member stays the leader"
    );
    assert_eq!(ja.members.len(), 2, "the leader sees every member");
    assert!(jb.members.is_empty(), "followers see no members");

    // The follower's SyncGroup waits for the leader's assignment.
    let b_sync = b.spawn_sync();
    at.wait_held(&group, |h| h.syncs == 1).await;
    let b_id = jb.member_id.to_string();
    let sa = a.sync(&[(&a_id, "for-a"), (&b_id, "for-b")]).await;
    let (mut b, sb) = finish(b_sync).await;
    assert_eq!((sa.error_code, &sa.assignment[..]), (0, &b"for-a"[..]));
    assert_eq!((sb.error_code, &sb.assignment[..]), (0, &b"for-b"[..]));
    assert_eq!(sb.protocol_name.as_deref(), Some("range"));
    assert_eq!((a.heartbeat().await, b.heartbeat().await), (0, 0));

    // B leaves: A is told to rejoin and becomes a group of one again.
    let left = b.leave().await;
    assert_eq!((left.error_code, left.members[0].error_code), (0, 0));
    assert_eq!(b.heartbeat().await, UNKNOWN_MEMBER_ID);
    assert_eq!(a.heartbeat().await, REBALANCE_IN_PROGRESS);
    let ja = a.join().await;
    assert_eq!(
        (ja.error_code, ja.generation_id, ja.members.len()),
        (0, 3, 1)
    );

    // LeaveGroup v0 (a single member id) empties the group.
    let resp = a
        .conn
        .request(
            0,
            &LeaveGroupRequest::default()
                .with_group_id(gid(&group))
                .with_member_id(s(&a.id)),
        )
        .await;
    assert_eq!(resp.error_code, 0);
    let described = a
        .conn
        .request(
            5,
            &DescribeGroupsRequest::default().with_groups(vec![gid(&group)]),
        )
        .await;
    assert_eq!(described.groups[0].group_state.as_str(), "Empty");
}

async fn member_id_required_only_from_v4(at: Broker<'_>) {
    let group = unique("mid");
    let spec = JoinSpec::new(&group);
    let mut conn = RawConn::connect(&at.addr()).await;
    let first = conn.request(4, &spec.request("")).await;
    assert_eq!(first.error_code, MEMBER_ID_REQUIRED);
    assert!(first.member_id.starts_with("raw-"));
    assert_eq!(first.generation_id, -1);
    // The handed-out id is accepted...
    let second = conn.request(4, &spec.request(&first.member_id)).await;
    assert_eq!(
        (second.error_code, second.member_id.clone()),
        (0, first.member_id)
    );
    // ...an id we never handed out is not.
    let other = JoinSpec::new(&group);
    let made_up = conn.request(4, &other.request("raw-made-up")).await;
    assert_eq!(made_up.error_code, UNKNOWN_MEMBER_ID);
    // Before v4 a new member joins in one step (this starts a rebalance, so run it aside).
    let mut old = Member::connect(at, JoinSpec::new(&unique("mid-v3"))).await;
    old.version = 3;
    let joined = old.join().await;
    assert_eq!((joined.error_code, joined.generation_id), (0, 1));
    assert!(!joined.member_id.is_empty());
}

async fn join_errors(at: Broker<'_>) {
    let group = unique("e");
    let mut conn = RawConn::connect(&at.addr()).await;
    let resp = conn
        .request(5, &JoinSpec::new(&group).timeouts(1000, 1000).request(""))
        .await;
    assert_eq!(resp.error_code, INVALID_SESSION_TIMEOUT);
    let resp = conn
        .request(
            5,
            &JoinSpec::new(&group).timeouts(1_800_001, 1000).request(""),
        )
        .await;
    assert_eq!(resp.error_code, INVALID_SESSION_TIMEOUT);
    let resp = conn.request(5, &JoinSpec::new("").request("")).await;
    assert_eq!(resp.error_code, INVALID_GROUP_ID);
    let resp = conn
        .request(5, &JoinSpec::new(&group).protocol_type("").request(""))
        .await;
    assert_eq!(resp.error_code, INCONSISTENT_GROUP_PROTOCOL);
    // A member joins with "range"; one offering only "roundrobin", or another protocol type,
    // cannot join the same group.
    let mut a = Member::connect(at, JoinSpec::new(&group)).await;
    assert_eq!(a.join().await.error_code, 0);
    let rr = JoinSpec::new(&group).protocols(&[("roundrobin", Bytes::new())]);
    let resp = conn.request(5, &rr.request("")).await;
    assert_eq!(resp.error_code, INCONSISTENT_GROUP_PROTOCOL);
    let resp = conn
        .request(
            5,
            &JoinSpec::new(&group).protocol_type("connect").request(""),
        )
        .await;
    assert_eq!(resp.error_code, INCONSISTENT_GROUP_PROTOCOL);
    // JoinGroup v6 and lower answer an error with an empty (not null) protocol name.
    let resp = conn.request(6, &JoinSpec::new("").request("")).await;
    assert_eq!(resp.protocol_name.as_deref(), Some(""));
}

#[tokio::test]
async fn protocol_chosen_by_votes_among_common_ones() {
    let broker = broker().await;
    let both = JoinSpec::new("votes").protocols(&[
        ("range", subscription(&["t"])),
        ("roundrobin", subscription(&["t"])),
    ]);
    let rr_first = JoinSpec::new("votes").protocols(&[
        ("roundrobin", subscription(&["t"])),
        ("range", subscription(&["t"])),
    ]);
    let mut a = Member::connect(Broker::Mini(&broker), both).await;
    assert_eq!(a.join().await.protocol_name.as_deref(), Some("range"));
    let b = Member::connect(Broker::Mini(&broker), rr_first.clone()).await;
    let c = Member::connect(Broker::Mini(&broker), rr_first).await;
    let (b, c) = (b.spawn_join(), c.spawn_join());
    wait_held(&broker, "votes", |h| h.joins == 2).await;
    let ja = a.join().await;
    let ((_, jb), (_, jc)) = (finish(b).await, finish(c).await);
    for j in [&ja, &jb, &jc] {
        assert_eq!(
            (j.error_code, j.protocol_name.as_deref()),
            (0, Some("roundrobin"))
        );
    }
    broker.shutdown().await;
}

#[tokio::test]
async fn rebalance_while_followers_wait_for_sync() {
    let broker = broker().await;
    let spec = JoinSpec::new("resync");
    let mut a = Member::connect(Broker::Mini(&broker), spec.clone()).await;
    a.join().await;
    let b = Member::connect(Broker::Mini(&broker), spec.clone()).await;
    let b_join = b.spawn_join();
    wait_held(&broker, "resync", |h| h.joins == 1).await;
    a.join().await;
    let (b, _) = finish(b_join).await;
    // B waits for an assignment; before the leader sends it, a third member joins.
    let b_sync = b.spawn_sync();
    wait_held(&broker, "resync", |h| h.syncs == 1).await;
    let c = Member::connect(Broker::Mini(&broker), spec.clone()).await;
    let c_join = c.spawn_join();
    let (b, sb) = finish(b_sync).await;
    assert_eq!(sb.error_code, REBALANCE_IN_PROGRESS);
    // The leader's late SyncGroup for the old generation is refused too.
    let sa = a.sync(&[]).await;
    assert_eq!(sa.error_code, REBALANCE_IN_PROGRESS);
    // Everyone rejoins: generation 3 with three members.
    let b_join = b.spawn_join();
    let ja = a.join().await;
    let ((_, jb), (_, jc)) = (finish(b_join).await, finish(c_join).await);
    assert_eq!(
        (ja.generation_id, jb.generation_id, jc.generation_id),
        (3, 3, 3)
    );
    assert_eq!(ja.members.len(), 3);
    broker.shutdown().await;
}

async fn illegal_generation_everywhere(at: Broker<'_>) {
    let (group, topic, missing) = (unique("gen"), unique("gen-t"), unique("gen-none"));
    create_topic(at, &topic, 1).await;
    let mut a = Member::connect(at, JoinSpec::new(&group)).await;
    a.join().await;
    assert_eq!(a.sync(&[]).await.error_code, 0);
    a.generation += 7;
    assert_eq!(a.heartbeat().await, ILLEGAL_GENERATION);
    assert_eq!(a.sync(&[]).await.error_code, ILLEGAL_GENERATION);
    assert_eq!(a.commit(&topic, 0, 5).await, ILLEGAL_GENERATION);
    a.generation -= 7;
    assert_eq!(a.commit(&topic, 0, 5).await, 0);
    // An unknown member id, on a group that exists and one that does not.
    let mut conn = RawConn::connect(&at.addr()).await;
    for group in [&group, &missing] {
        let hb = HeartbeatRequest::default()
            .with_group_id(gid(group))
            .with_generation_id(1)
            .with_member_id(s("raw-nobody"));
        assert_eq!(conn.request(4, &hb).await.error_code, UNKNOWN_MEMBER_ID);
    }
    // A commit with a generation for a group that does not exist.
    let req = commit_request(&missing, 3, "raw-nobody", &topic, 0, 1, "");
    let resp: OffsetCommitResponse = conn.request(8, &req).await;
    assert_eq!(resp.topics[0].partitions[0].error_code, ILLEGAL_GENERATION);
    let resp: OffsetCommitResponse = conn.request(9, &req).await;
    assert_eq!(resp.topics[0].partitions[0].error_code, GROUP_ID_NOT_FOUND);
}

#[tokio::test]
async fn session_timeout_evicts_a_silent_member() {
    let broker = quick_broker().await;
    let spec = JoinSpec::new("evict").timeouts(400, 5_000);
    let mut a = Member::connect(Broker::Mini(&broker), spec.clone()).await;
    a.join().await;
    a.sync(&[]).await;
    let b = Member::connect(Broker::Mini(&broker), spec.clone()).await;
    let b_join = b.spawn_join();
    wait_held(&broker, "evict", |h| h.joins == 1).await;
    a.join().await;
    let (b, _) = finish(b_join).await;
    let b_sync = b.spawn_sync();
    wait_held(&broker, "evict", |h| h.syncs == 1).await;
    a.sync(&[]).await;
    let (mut b, _) = finish(b_sync).await;
    // A keeps heartbeating; B goes silent. A learns of the rebalance once B's session ends.
    let deadline = tokio::time::Instant::now() + STEP;
    let code = loop {
        let code = a.heartbeat().await;
        if code != 0 {
            break code;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "B was never evicted"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(code, REBALANCE_IN_PROGRESS);
    let ja = a.join().await;
    assert_eq!((ja.generation_id, ja.members.len()), (3, 1));
    assert_eq!(b.heartbeat().await, UNKNOWN_MEMBER_ID);
    broker.shutdown().await;
}

#[tokio::test]
async fn rebalance_timeout_drops_members_that_do_not_rejoin() {
    let broker = quick_broker().await;
    let spec = JoinSpec::new("slow").timeouts(5_000, 300);
    let mut a = Member::connect(Broker::Mini(&broker), spec.clone()).await;
    a.join().await;
    a.sync(&[]).await;
    // B joins; A heartbeats (alive) but never rejoins. After the rebalance timeout the join
    // completes without A, and A is no longer a member.
    let b = Member::connect(Broker::Mini(&broker), spec.clone()).await;
    let b_join = b.spawn_join();
    wait_held(&broker, "slow", |h| h.joins == 1).await;
    assert_eq!(a.heartbeat().await, REBALANCE_IN_PROGRESS);
    let (_b, jb) = finish(b_join).await;
    assert_eq!((jb.error_code, jb.generation_id), (0, 2));
    assert_eq!(jb.leader, jb.member_id, "the member that rejoined leads");
    assert_eq!(jb.members.len(), 1);
    assert_eq!(a.heartbeat().await, UNKNOWN_MEMBER_ID);
    broker.shutdown().await;
}

async fn static_member_rejoins_without_rebalance_and_fences_the_old_id(at: Broker<'_>) {
    let (group, topic) = (unique("static"), unique("static-t"));
    create_topic(at, &topic, 1).await;
    let mut a = Member::connect(at, JoinSpec::new(&group).instance("i-a")).await;
    a.version = 5;
    let ja = a.join().await;
    assert_eq!(
        ja.error_code, 0,
        "static members need no MEMBER_ID_REQUIRED round"
    );
    assert!(
        a.id.starts_with("i-a-"),
        "static ids start with the instance id: {}",
        a.id
    );
    let b = Member::connect(at, JoinSpec::new(&group).instance("i-b")).await;
    let b_join = {
        let mut b = b;
        b.version = 5;
        b.spawn_join()
    };
    at.wait_held(&group, |h| h.joins == 1).await;
    wait_rebalance(&mut a).await;
    a.join().await;
    let (b, jb) = finish(b_join).await;
    assert_eq!(jb.generation_id, 2);
    let b_sync = b.spawn_sync();
    at.wait_held(&group, |h| h.syncs == 1).await;
    let (a_id, b_id) = (a.id.clone(), jb.member_id.to_string());
    a.sync(&[(&a_id, "A"), (&b_id, "B")]).await;
    let (b, sb) = finish(b_sync).await;
    assert_eq!(&sb.assignment[..], b"B");

    // B restarts: same instance id, no member id, same protocols.
    let old_b = b;
    let mut new_b = Member::connect(at, JoinSpec::new(&group).instance("i-b")).await;
    new_b.version = 5;
    let jb2 = new_b.join().await;
    assert_eq!(jb2.error_code, 0);
    assert_eq!(jb2.generation_id, 2, "no new generation");
    assert_ne!(new_b.id, old_b.id);
    assert_eq!(jb2.leader.to_string(), a.id);
    // Nothing to rebalance: A's heartbeat is fine, B gets its old assignment back.
    assert_eq!(a.heartbeat().await, 0);
    let sb2 = new_b.sync(&[]).await;
    assert_eq!((sb2.error_code, &sb2.assignment[..]), (0, &b"B"[..]));
    // The old member id is fenced.
    let mut old_b = old_b;
    assert_eq!(old_b.heartbeat().await, FENCED_INSTANCE_ID);
    assert_eq!(old_b.sync(&[]).await.error_code, FENCED_INSTANCE_ID);
    assert_eq!(old_b.commit(&topic, 0, 1).await, FENCED_INSTANCE_ID);
    assert_eq!(new_b.heartbeat().await, 0);

    // The static leader restarting with JoinGroup v9 is told to skip the assignment.
    let mut new_a = Member::connect(at, JoinSpec::new(&group).instance("i-a")).await;
    let ja2 = new_a.join().await;
    assert_eq!((ja2.error_code, ja2.generation_id), (0, 2));
    assert!(ja2.skip_assignment);
    assert_eq!(ja2.leader.to_string(), new_a.id);
    assert_eq!(ja2.members.len(), 2);
    assert_eq!(a.heartbeat().await, FENCED_INSTANCE_ID);

    // An admin removes the static member B by instance id alone: a rebalance follows.
    let mut conn = RawConn::connect(&at.addr()).await;
    let resp = conn
        .request(
            5,
            &LeaveGroupRequest::default()
                .with_group_id(gid(&group))
                .with_members(vec![MemberIdentity::default()
                    .with_member_id(s(""))
                    .with_group_instance_id(Some(s("i-b")))]),
        )
        .await;
    assert_eq!(resp.members[0].error_code, 0);
    assert_eq!(new_b.heartbeat().await, UNKNOWN_MEMBER_ID);
    assert_eq!(new_a.heartbeat().await, REBALANCE_IN_PROGRESS);
}

async fn static_member_with_new_protocol_triggers_a_rebalance(at: Broker<'_>) {
    let spec = JoinSpec::new(&unique("static-proto")).instance("i-1");
    let mut a = Member::connect(at, spec.clone()).await;
    a.join().await;
    a.sync(&[]).await;
    let mut a2 = Member::connect(
        at,
        // Still offers the group's protocol, but now prefers another one.
        spec.protocols(&[
            ("roundrobin", subscription(&["t"])),
            ("range", subscription(&["t"])),
        ]),
    )
    .await;
    let j = a2.join().await;
    assert_eq!((j.error_code, j.generation_id), (0, 2));
    assert_eq!(j.protocol_name.as_deref(), Some("roundrobin"));
}

async fn offsets_round_trip_with_metadata(at: Broker<'_>) {
    let (group, topic) = (unique("offs"), unique("off-t"));
    create_topic(at, &topic, 3).await;
    let mut conn = RawConn::connect(&at.addr()).await;
    // Outside group management: generation -1, no member id. Creates the group.
    for (p, offset, meta) in [(0, 10, "m0"), (1, 20, ""), (2, 30, "ünïcode")] {
        let req = commit_request(&group, -1, "", &topic, p, offset, meta);
        let resp: OffsetCommitResponse = conn.request(9, &req).await;
        assert_eq!(resp.topics[0].partitions[0].error_code, 0);
    }
    // Unknown partition, unknown topic, oversized metadata: per-partition errors; a partition
    // that does not exist says so even when its metadata is oversized too.
    let oversized = "x".repeat(4097);
    let bad = [
        commit_request(&group, -1, "", &topic, 3, 1, ""),
        commit_request(&group, -1, "", &unique("no-such-topic"), 0, 1, ""),
        commit_request(&group, -1, "", &topic, 0, 1, &oversized),
        commit_request(&group, -1, "", &topic, 3, 1, &oversized),
    ];
    for (req, want) in bad.iter().zip([
        UNKNOWN_TOPIC_OR_PARTITION,
        UNKNOWN_TOPIC_OR_PARTITION,
        OFFSET_METADATA_TOO_LARGE,
        UNKNOWN_TOPIC_OR_PARTITION,
    ]) {
        let resp: OffsetCommitResponse = conn.request(9, req).await;
        assert_eq!(resp.topics[0].partitions[0].error_code, want);
    }
    // Single-group fetch, v1 to v7, for named partitions (one never committed).
    for version in 1..=7 {
        let req = OffsetFetchRequest::default()
            .with_group_id(gid(&group))
            .with_topics(Some(vec![OffsetFetchRequestTopic::default()
                .with_name(tname(&topic))
                .with_partition_indexes(vec![0, 2, 7])]));
        let resp = conn.request(version, &req).await;
        let got: Vec<_> = resp.topics[0]
            .partitions
            .iter()
            .map(|p| {
                (
                    p.partition_index,
                    p.committed_offset,
                    p.metadata.as_deref().unwrap_or_default().to_owned(),
                    p.error_code,
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (0, 10, "m0".to_owned(), 0),
                (2, 30, "ünïcode".to_owned(), 0),
                (7, -1, String::new(), 0)
            ],
            "v{version}"
        );
        if version >= 5 {
            assert_eq!(resp.topics[0].partitions[0].committed_leader_epoch, 3);
        }
    }
    // All committed partitions (null topics), and the batched form with an unknown group.
    let resp = conn
        .request(
            7,
            &OffsetFetchRequest::default()
                .with_group_id(gid(&group))
                .with_topics(None),
        )
        .await;
    let mut all: Vec<_> = resp.topics[0]
        .partitions
        .iter()
        .map(|p| (p.partition_index, p.committed_offset))
        .collect();
    all.sort_unstable();
    assert_eq!(all, vec![(0, 10), (1, 20), (2, 30)]);
    for version in 8..=9 {
        let req = OffsetFetchRequest::default()
            .with_require_stable(true)
            .with_groups(vec![
                OffsetFetchRequestGroup::default()
                    .with_group_id(gid(&group))
                    .with_topics(Some(vec![OffsetFetchRequestTopics::default()
                        .with_name(tname(&topic))
                        .with_partition_indexes(vec![1])])),
                OffsetFetchRequestGroup::default()
                    .with_group_id(gid(&unique("nobody-home")))
                    .with_topics(None),
            ]);
        let resp = conn.request(version, &req).await;
        assert_eq!(resp.groups.len(), 2);
        let p = &resp.groups[0].topics[0].partitions[0];
        assert_eq!((resp.groups[0].error_code, p.committed_offset), (0, 20));
        assert_eq!(
            (resp.groups[1].error_code, resp.groups[1].topics.len()),
            (0, 0)
        );
    }
    // Once the group has members, commits outside group management are refused.
    let mut a = Member::connect(at, JoinSpec::new(&group)).await;
    a.join().await;
    a.sync(&[]).await;
    let req = commit_request(&group, -1, "", &topic, 0, 99, "");
    let resp: OffsetCommitResponse = conn.request(9, &req).await;
    assert_eq!(resp.topics[0].partitions[0].error_code, UNKNOWN_MEMBER_ID);
    assert_eq!(a.commit(&topic, 0, 11).await, 0);
}

async fn describe_list_and_delete_groups(at: Broker<'_>) {
    let group = unique("adm");
    let (simple, missing, topic) = (
        format!("{group}-simple"),
        format!("{group}-missing"),
        unique("adm-t"),
    );
    let ours = |id: &str| id.starts_with(group.as_str());
    create_topic(at, &topic, 1).await;
    let mut a = Member::connect(at, JoinSpec::new(&group)).await;
    a.join().await;
    let a_id = a.id.clone();
    a.sync(&[(&a_id, "assigned")]).await;
    let mut conn = RawConn::connect(&at.addr()).await;
    // An offsets-only group next to it.
    let req = commit_request(&simple, -1, "", &topic, 0, 5, "");
    let _: OffsetCommitResponse = conn.request(9, &req).await;

    let described = conn
        .request(
            6,
            &DescribeGroupsRequest::default()
                .with_groups(vec![gid(&group), gid(&missing)])
                .with_include_authorized_operations(true),
        )
        .await;
    let g = &described.groups[0];
    assert_eq!(
        (
            g.error_code,
            g.group_state.as_str(),
            g.protocol_type.as_str(),
            g.protocol_data.as_str()
        ),
        (0, "Stable", "consumer", "range")
    );
    assert_eq!(g.members.len(), 1);
    assert_eq!(g.members[0].member_id.as_str(), a.id);
    assert_eq!(g.members[0].client_id.as_str(), "raw");
    assert_eq!(&g.members[0].member_assignment[..], b"assigned");
    assert_eq!(g.members[0].member_metadata, subscription(&["t"]));
    // READ, DELETE, DESCRIBE, DESCRIBE_CONFIGS, ALTER_CONFIGS.
    assert_eq!(g.authorized_operations, 3400);
    let not_found = &described.groups[1];
    assert_eq!(
        (not_found.error_code, not_found.group_state.as_str()),
        (GROUP_ID_NOT_FOUND, "Dead")
    );
    let old = conn
        .request(
            5,
            &DescribeGroupsRequest::default().with_groups(vec![gid(&missing)]),
        )
        .await;
    assert_eq!(
        (old.groups[0].error_code, old.groups[0].group_state.as_str()),
        (0, "Dead")
    );

    let listed = conn.request(5, &ListGroupsRequest::default()).await;
    let mut all: Vec<_> = listed
        .groups
        .iter()
        .filter(|g| ours(&g.group_id))
        .map(|g| {
            (
                g.group_id.to_string(),
                g.protocol_type.to_string(),
                g.group_state.to_string(),
                g.group_type.to_string(),
            )
        })
        .collect();
    all.sort();
    assert_eq!(
        all,
        vec![
            (
                group.clone(),
                "consumer".into(),
                "Stable".into(),
                "classic".into()
            ),
            (
                simple.clone(),
                String::new(),
                "Empty".into(),
                "classic".into()
            ),
        ]
    );
    let stable = conn
        .request(
            4,
            &ListGroupsRequest::default().with_states_filter(vec![s("stable")]),
        )
        .await;
    let stable: Vec<_> = stable.groups.iter().filter(|g| ours(&g.group_id)).collect();
    assert_eq!(stable.len(), 1);
    assert_eq!(stable[0].group_id.as_str(), group);
    let none = conn
        .request(
            5,
            &ListGroupsRequest::default().with_types_filter(vec![s("consumer")]),
        )
        .await;
    assert!(!none.groups.iter().any(|g| ours(&g.group_id)));
    let v0 = conn.request(0, &ListGroupsRequest::default()).await;
    assert_eq!(v0.groups.iter().filter(|g| ours(&g.group_id)).count(), 2);

    let deleted = conn
        .request(
            2,
            &DeleteGroupsRequest::default().with_groups_names(vec![
                gid(&group),
                gid(&simple),
                gid(&missing),
            ]),
        )
        .await;
    // Kafka lists the results in no particular order.
    let mut codes: Vec<_> = deleted
        .results
        .iter()
        .map(|r| (r.group_id.to_string(), r.error_code))
        .collect();
    codes.sort();
    let mut want = vec![
        (group.clone(), NON_EMPTY_GROUP),
        (simple.clone(), 0),
        (missing.clone(), GROUP_ID_NOT_FOUND),
    ];
    want.sort();
    assert_eq!(codes, want);
    // Deleting a group drops its offsets.
    let fetched = conn
        .request(
            7,
            &OffsetFetchRequest::default()
                .with_group_id(gid(&simple))
                .with_topics(None),
        )
        .await;
    assert!(fetched.topics.is_empty());
    a.leave().await;
    let deleted = conn
        .request(
            0,
            &DeleteGroupsRequest::default().with_groups_names(vec![gid(&group)]),
        )
        .await;
    assert_eq!(deleted.results[0].error_code, 0);
    let listed = conn.request(3, &ListGroupsRequest::default()).await;
    assert!(!listed.groups.iter().any(|g| ours(&g.group_id)));
}

fn offset_delete(group: &str, topic: &str, partitions: &[i32]) -> OffsetDeleteRequest {
    OffsetDeleteRequest::default()
        .with_group_id(gid(group))
        .with_topics(vec![OffsetDeleteRequestTopic::default()
            .with_name(tname(topic))
            .with_partitions(
                partitions
                    .iter()
                    .map(|p| OffsetDeleteRequestPartition::default().with_partition_index(*p))
                    .collect(),
            )])
}

async fn offset_delete_respects_subscriptions(at: Broker<'_>) {
    let (group, sub, other) = (unique("od"), unique("od-sub"), unique("od-other"));
    create_topic(at, &sub, 1).await;
    create_topic(at, &other, 1).await;
    let spec = JoinSpec::new(&group).protocols(&[("range", subscription(&[&sub]))]);
    let mut a = Member::connect(at, spec).await;
    a.join().await;
    a.sync(&[]).await;
    assert_eq!(a.commit(&sub, 0, 4).await, 0);
    assert_eq!(a.commit(&other, 0, 8).await, 0);
    let mut conn = RawConn::connect(&at.addr()).await;
    let resp = conn.request(0, &offset_delete(&group, &sub, &[0])).await;
    assert_eq!(
        resp.topics[0].partitions[0].error_code,
        GROUP_SUBSCRIBED_TO_TOPIC
    );
    let resp = conn
        .request(0, &offset_delete(&group, &other, &[0, 5]))
        .await;
    // Kafka lists the partitions in no particular order.
    let mut codes: Vec<_> = resp.topics[0]
        .partitions
        .iter()
        .map(|p| (p.partition_index, p.error_code))
        .collect();
    codes.sort_unstable();
    assert_eq!(
        (resp.error_code, codes),
        (0, vec![(0, 0), (5, UNKNOWN_TOPIC_OR_PARTITION)])
    );
    let fetched = conn
        .request(
            7,
            &OffsetFetchRequest::default()
                .with_group_id(gid(&group))
                .with_topics(None),
        )
        .await;
    let topics: Vec<_> = fetched.topics.iter().map(|t| t.name.to_string()).collect();
    assert_eq!(topics, vec![sub.clone()]);
    // Once empty, the group's remaining offsets can go too.
    a.leave().await;
    let resp = conn.request(0, &offset_delete(&group, &sub, &[0])).await;
    assert_eq!(
        (resp.error_code, resp.topics[0].partitions[0].error_code),
        (0, 0)
    );
    // Groups of other protocol types must be empty; unknown groups are not found.
    let connect_group = unique("od-connect");
    let mut c = Member::connect(at, JoinSpec::new(&connect_group).protocol_type("connect")).await;
    c.join().await;
    let resp = conn
        .request(0, &offset_delete(&connect_group, &sub, &[0]))
        .await;
    assert_eq!(resp.error_code, NON_EMPTY_GROUP);
    let resp = conn
        .request(0, &offset_delete(&unique("od-none"), &sub, &[0]))
        .await;
    assert_eq!(resp.error_code, GROUP_ID_NOT_FOUND);
}

#[tokio::test]
async fn unused_member_id_lapses_after_the_session_timeout() {
    let broker = quick_broker().await;
    // A long rebalance timeout: only the lapse of the unused id can end the join phase soon.
    let spec = JoinSpec::new("pend").timeouts(300, 60_000);
    let mut a = Member::connect(Broker::Mini(&broker), spec.clone()).await;
    a.join().await;
    a.sync(&[]).await;
    // B gets an id with MEMBER_ID_REQUIRED but never joins with it.
    let mut conn = RawConn::connect(&broker.bootstrap()).await;
    let first = conn.request(9, &spec.request("")).await;
    assert_eq!(first.error_code, MEMBER_ID_REQUIRED);
    // C joins and A rejoins: the rebalance waits for B's id, until it lapses.
    let c_join = Member::connect(Broker::Mini(&broker), spec.clone())
        .await
        .spawn_join();
    wait_held(&broker, "pend", |h| h.joins == 1).await;
    let ja = a.join().await;
    let (_c, jc) = finish(c_join).await;
    assert_eq!((ja.error_code, jc.error_code), (0, 0));
    assert_eq!((ja.generation_id, ja.members.len()), (2, 2));
    // The lapsed id is no longer accepted.
    let late = conn.request(9, &spec.request(&first.member_id)).await;
    assert_eq!(late.error_code, UNKNOWN_MEMBER_ID);
    broker.shutdown().await;
}

#[tokio::test]
async fn timer_task_stops_with_the_broker() {
    let broker = quick_broker().await;
    let mut a = Member::connect(
        Broker::Mini(&broker),
        JoinSpec::new("timer").timeouts(200, 200),
    )
    .await;
    a.join().await;
    assert!(broker.state().groups.timer_running());
    let state = Arc::downgrade(broker.state());
    broker.shutdown().await;
    drop(a);
    // The state (and with it the coordinator, which aborts its timer) is gone.
    let gone = eventually(
        "the broker state to drop",
        STEP,
        Duration::from_millis(10),
        || {
            let state = state.clone();
            async move { state.upgrade().is_none().then_some(()) }
        },
    )
    .await;
    let () = gone;
}

#[tokio::test]
async fn members_that_never_sync_are_removed_after_the_rebalance_timeout() {
    let broker = quick_broker().await;
    let spec = JoinSpec::new("nosync").timeouts(5_000, 300);
    let mut a = Member::connect(Broker::Mini(&broker), spec.clone()).await;
    a.join().await;
    a.sync(&[]).await;
    let b_join = Member::connect(Broker::Mini(&broker), spec.clone())
        .await
        .spawn_join();
    wait_held(&broker, "nosync", |h| h.joins == 1).await;
    a.join().await;
    let (mut b, jb) = finish(b_join).await;
    assert_eq!(jb.generation_id, 2);
    // The leader syncs, B never does (and its session is far from over).
    assert_eq!(a.sync(&[]).await.error_code, 0);
    let deadline = tokio::time::Instant::now() + STEP;
    loop {
        let code = a.heartbeat().await;
        if code == REBALANCE_IN_PROGRESS {
            break;
        }
        assert_eq!(code, 0);
        assert!(
            tokio::time::Instant::now() < deadline,
            "B was never removed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let ja = a.join().await;
    assert_eq!((ja.generation_id, ja.members.len()), (3, 1));
    assert_eq!(b.heartbeat().await, UNKNOWN_MEMBER_ID);
    broker.shutdown().await;
}

/// What Kafka 4.1 answers for the empty group id and for groups that do not exist.
async fn empty_and_unknown_group_ids(at: Broker<'_>) {
    let topic = unique("empty-id-t");
    create_topic(at, &topic, 1).await;
    let mut conn = RawConn::connect(&at.addr()).await;
    // The empty id is an ordinary group for offsets (and admin calls)...
    let resp: OffsetCommitResponse = conn
        .request(9, &commit_request("", -1, "", &topic, 0, 42, "e"))
        .await;
    assert_eq!(resp.topics[0].partitions[0].error_code, 0);
    let fetched = conn
        .request(
            7,
            &OffsetFetchRequest::default()
                .with_group_id(gid(""))
                .with_topics(Some(vec![OffsetFetchRequestTopic::default()
                    .with_name(tname(&topic))
                    .with_partition_indexes(vec![0])])),
        )
        .await;
    assert_eq!(fetched.topics[0].partitions[0].committed_offset, 42);
    let describe = DescribeGroupsRequest::default().with_groups(vec![gid("")]);
    let g = conn.request(5, &describe).await.groups.remove(0);
    assert_eq!((g.error_code, g.group_state.as_str()), (0, "Empty"));
    let delete = DeleteGroupsRequest::default().with_groups_names(vec![gid("")]);
    assert_eq!(conn.request(2, &delete).await.results[0].error_code, 0);
    let g = conn.request(5, &describe).await.groups.remove(0);
    assert_eq!((g.error_code, g.group_state.as_str()), (0, "Dead"));
    let g = conn.request(6, &describe).await.groups.remove(0);
    assert_eq!(
        (g.error_code, g.group_state.as_str()),
        (GROUP_ID_NOT_FOUND, "Dead")
    );
    assert_eq!(
        conn.request(2, &delete).await.results[0].error_code,
        GROUP_ID_NOT_FOUND
    );
    // ...but not for membership.
    let hb = HeartbeatRequest::default()
        .with_group_id(gid(""))
        .with_generation_id(1)
        .with_member_id(s("raw-x"));
    assert_eq!(conn.request(4, &hb).await.error_code, INVALID_GROUP_ID);
    let sync = sync_request("", 1, "raw-x", &[])
        .with_protocol_type(Some(s("consumer")))
        .with_protocol_name(Some(s("range")));
    assert_eq!(conn.request(5, &sync).await.error_code, INVALID_GROUP_ID);
    let leave = |group: &str| {
        LeaveGroupRequest::default()
            .with_group_id(gid(group))
            .with_members(vec![MemberIdentity::default().with_member_id(s("raw-x"))])
    };
    assert_eq!(
        conn.request(5, &leave("")).await.error_code,
        INVALID_GROUP_ID
    );
    let resp = conn.request(0, &offset_delete("", &topic, &[0])).await;
    assert_eq!(resp.error_code, INVALID_GROUP_ID);

    // A group that does not exist: its members are unknown.
    let missing = unique("missing");
    let resp = conn.request(5, &leave(&missing)).await;
    let codes: Vec<_> = resp.members.iter().map(|m| m.error_code).collect();
    assert_eq!((resp.error_code, codes), (0, vec![UNKNOWN_MEMBER_ID]));
    let v1 = LeaveGroupRequest::default()
        .with_group_id(gid(&missing))
        .with_member_id(s("raw-x"));
    assert_eq!(conn.request(1, &v1).await.error_code, UNKNOWN_MEMBER_ID);
    let sync = sync_request(&missing, 1, "raw-x", &[])
        .with_protocol_type(Some(s("consumer")))
        .with_protocol_name(Some(s("range")));
    assert_eq!(conn.request(5, &sync).await.error_code, UNKNOWN_MEMBER_ID);
}
