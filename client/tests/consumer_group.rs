//! The consumer in a group, against the mini-broker's coordinator: three members share six
//! partitions with each assignor (each partition owned by exactly one member, every record
//! read once), members that leave, die or stop polling hand their partitions over within the
//! session timeout, the cooperative protocol revokes only what moves, static members come
//! back without a rebalance (and a duplicate is fenced), and commits are seen by the next
//! owner.

mod consumer_support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use consumer_support::*;
use ferrokafka::consumer::{FnListener, TopicPartition};
use ferrokafka::{AssignmentStrategy, AutoOffsetReset, Consumer, ConsumerConfig, ErrorCode};
use tokio::task::JoinHandle;
use tokio::time::{timeout, Instant};

const PARTITIONS: i32 = 6;
const SESSION: Duration = Duration::from_millis(2_000);

fn group_config(bootstrap: &str, group: &str, strategy: AssignmentStrategy) -> ConsumerConfig {
    config(bootstrap)
        .group_id(group)
        .enable_auto_commit(false)
        .auto_offset_reset(AutoOffsetReset::Earliest)
        .session_timeout(SESSION)
        .heartbeat_interval(Duration::from_millis(200))
        .assignment_strategies([strategy])
        .build()
        .expect("config")
}

/// One record as a member saw it: `(member, generation, partition, offset)`.
type Seen = (usize, i32, i32, i64);

#[derive(Default)]
struct Board {
    seen: Mutex<Vec<Seen>>,
    /// Per member: generation and assignment, as last published.
    assignments: Mutex<BTreeMap<usize, (i32, Vec<TopicPartition>)>>,
}

impl Board {
    fn records(&self) -> usize {
        self.seen.lock().unwrap().len()
    }

    /// True when the published assignments of `members` are disjoint, cover every partition
    /// and each member has some.
    fn balanced(&self, members: &[usize]) -> bool {
        let a = self.assignments.lock().unwrap();
        let mut all = BTreeSet::new();
        for m in members {
            let Some((_, parts)) = a.get(m) else {
                return false;
            };
            if parts.is_empty() {
                return false;
            }
            for tp in parts {
                if !all.insert(tp.clone()) {
                    return false;
                }
            }
        }
        all.len() == PARTITIONS as usize
    }

    /// Every `(partition, offset)` was read exactly once, and the union is `expected`.
    fn check_once(&self, expected: &BTreeSet<(i32, i64)>) {
        let seen = self.seen.lock().unwrap();
        let mut got = BTreeSet::new();
        for (member, generation, p, o) in seen.iter() {
            assert!(
                got.insert((*p, *o)),
                "{p}@{o} read twice (again by member {member} in generation {generation})"
            );
        }
        assert_eq!(&got, expected);
    }

    /// No partition was read by two members within one generation.
    fn check_generations(&self) {
        let seen = self.seen.lock().unwrap();
        let mut owner: BTreeMap<(i32, i32), usize> = BTreeMap::new();
        for (member, generation, p, _) in seen.iter() {
            let first = *owner.entry((*generation, *p)).or_insert(*member);
            assert_eq!(
                first, *member,
                "partition {p} read by members {first} and {member} in generation {generation}"
            );
        }
    }
}

/// A member that reads, records and commits each record (at least once, no cancellation of
/// handlers), and publishes its assignment, until `stop`.
fn spawn_member(
    id: usize,
    config: ConsumerConfig,
    topic: &str,
    board: Arc<Board>,
    stop: Arc<AtomicBool>,
) -> JoinHandle<Consumer> {
    let topic = topic.to_owned();
    tokio::spawn(async move {
        let mut c = Consumer::new(config).await.expect("consumer");
        c.subscribe([topic]).expect("subscribe");
        while !stop.load(Ordering::SeqCst) {
            // `recv` is cancel-safe: a timeout loses nothing.
            if let Ok(r) = timeout(Duration::from_millis(50), c.recv()).await {
                let r = r.expect("recv");
                let generation = c.generation();
                board
                    .seen
                    .lock()
                    .unwrap()
                    .push((id, generation, r.partition, r.offset));
                c.commit_offsets([(r.topic_partition(), r.offset + 1)])
                    .await
                    .expect("commit");
            }
            board
                .assignments
                .lock()
                .unwrap()
                .insert(id, (c.generation(), c.assignment()));
        }
        c
    })
}

async fn wait_for(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < limit,
            "timed out after {limit:?} waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    start.elapsed()
}

async fn fill(bootstrap: &str, topic: &str, per_partition: usize) -> BTreeSet<(i32, i64)> {
    let client = client(bootstrap).await;
    create_topic(&client, topic, PARTITIONS).await;
    let mut expected = BTreeSet::new();
    for p in 0..PARTITIONS {
        produce_values(
            &client,
            topic,
            p,
            &values(&format!("p{p}"), per_partition),
            10,
        )
        .await;
        expected.extend((0..per_partition as i64).map(|o| (p, o)));
    }
    client.close().await;
    expected
}

async fn three_members_share_six_partitions(strategy: AssignmentStrategy) {
    let broker = broker(1).await;
    let bootstrap = broker.bootstrap();
    let topic = format!("share-{}", strategy.name());
    let expected = fill(&bootstrap, &topic, 40).await;
    let board = Arc::new(Board::default());
    let stop = Arc::new(AtomicBool::new(false));
    let group = format!("g-{}", strategy.name());
    let members: Vec<_> = (0..3)
        .map(|id| {
            spawn_member(
                id,
                group_config(&bootstrap, &group, strategy),
                &topic,
                Arc::clone(&board),
                Arc::clone(&stop),
            )
        })
        .collect();
    wait_for(
        "three members own disjoint shares of all six partitions",
        DEADLINE,
        || board.balanced(&[0, 1, 2]),
    )
    .await;
    wait_for("every record is read", DEADLINE, || {
        board.records() >= expected.len()
    })
    .await;
    stop.store(true, Ordering::SeqCst);
    for m in members {
        m.await.unwrap().close().await.unwrap();
    }
    board.check_once(&expected);
    board.check_generations();
    // Balanced shares: two partitions each.
    for (_, parts) in board.assignments.lock().unwrap().values() {
        assert_eq!(parts.len(), 2, "{strategy}: {parts:?}");
    }
    broker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn range_three_members_share_six_partitions() {
    three_members_share_six_partitions(AssignmentStrategy::Range).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roundrobin_three_members_share_six_partitions() {
    three_members_share_six_partitions(AssignmentStrategy::RoundRobin).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cooperative_sticky_three_members_share_six_partitions() {
    three_members_share_six_partitions(AssignmentStrategy::CooperativeSticky).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leaving_member_hands_over_at_once_and_a_dead_one_within_the_session_timeout() {
    let broker = broker(1).await;
    let bootstrap = broker.bootstrap();
    let expected = fill(&bootstrap, "handover", 20).await;
    let board = Arc::new(Board::default());
    let stops: Vec<Arc<AtomicBool>> = (0..2).map(|_| Arc::new(AtomicBool::new(false))).collect();
    let cfg = || group_config(&bootstrap, "handover", AssignmentStrategy::Range);
    let survivors: Vec<_> = (0..2)
        .map(|id| {
            spawn_member(
                id,
                cfg(),
                "handover",
                Arc::clone(&board),
                Arc::clone(&stops[id]),
            )
        })
        .collect();

    // Member 2 lives on its own runtime, so it can die without a word (no LeaveGroup).
    let dying_board = Arc::clone(&board);
    let (kill, killed) = std::sync::mpsc::channel::<()>();
    let dying_cfg = cfg();
    let dying = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let member = {
            let _runtime = rt.enter();
            spawn_member(2, dying_cfg, "handover", dying_board, Arc::clone(&stop))
        };
        let _ = killed.recv();
        // Dropping the runtime cancels every task of the member mid-flight: no LeaveGroup,
        // no more heartbeats.
        rt.shutdown_background();
        drop(member);
    });
    wait_for("three members share the topic", DEADLINE, || {
        board.balanced(&[0, 1, 2])
    })
    .await;
    wait_for("every record is read", DEADLINE, || {
        board.records() >= expected.len()
    })
    .await;

    kill.send(()).unwrap();
    dying.join().unwrap();
    let took = wait_for(
        "the two survivors own everything",
        SESSION + DEADLINE,
        || board.balanced(&[0, 1]),
    )
    .await;
    assert!(
        took < SESSION + Duration::from_secs(2),
        "the dead member's partitions moved after {took:?} (session timeout {SESSION:?})"
    );

    // Member 1 leaves cleanly: member 0 gets everything well before a session timeout.
    stops[1].store(true, Ordering::SeqCst);
    let mut survivors = survivors.into_iter();
    let first = survivors.next().unwrap();
    let second = survivors.next().unwrap();
    let started = Instant::now();
    second.await.unwrap().close().await.unwrap();
    board.assignments.lock().unwrap().remove(&1);
    wait_for("member 0 owns everything", DEADLINE, || {
        board.balanced(&[0])
    })
    .await;
    assert!(
        started.elapsed() < SESSION,
        "a clean leave took {:?}",
        started.elapsed()
    );
    stops[0].store(true, Ordering::SeqCst);
    first.await.unwrap().close().await.unwrap();
    board.check_once(&expected);
    board.check_generations();
    broker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cooperative_rebalances_revoke_only_what_moves() {
    let broker = broker(1).await;
    let bootstrap = broker.bootstrap();
    fill(&bootstrap, "coop", 5).await;
    let revoked: Arc<Mutex<Vec<Vec<TopicPartition>>>> = Arc::default();
    let assigned: Arc<Mutex<Vec<Vec<TopicPartition>>>> = Arc::default();
    let cfg = || group_config(&bootstrap, "coop", AssignmentStrategy::CooperativeSticky);
    let mut a = Consumer::new(cfg()).await.unwrap();
    let (r, s) = (Arc::clone(&revoked), Arc::clone(&assigned));
    a.subscribe_with_listener(
        ["coop"],
        FnListener::new()
            .on_revoked(move |rb, parts| {
                rb.commit();
                r.lock().unwrap().push(parts.to_vec());
            })
            .on_assigned(move |_, parts| s.lock().unwrap().push(parts.to_vec())),
    )
    .unwrap();
    let deadline = Instant::now() + DEADLINE;
    while a.assignment().len() < PARTITIONS as usize {
        assert!(Instant::now() < deadline);
        let _ = a.poll(Duration::from_millis(50)).await.unwrap();
    }
    let before = a.assignment();
    assert!(revoked.lock().unwrap().is_empty());

    // A second member joins: `a` gives up three partitions and keeps three without ever
    // having them revoked; `b` gets the three in the second round.
    let mut b = Consumer::new(cfg()).await.unwrap();
    b.subscribe(["coop"]).unwrap();
    while a.assignment().len() != 3 || b.assignment().len() != 3 {
        assert!(
            Instant::now() < deadline,
            "a {:?} b {:?}",
            a.assignment(),
            b.assignment()
        );
        let _ = a.poll(Duration::from_millis(20)).await.unwrap();
        let _ = b.poll(Duration::from_millis(20)).await.unwrap();
    }
    let kept: BTreeSet<_> = a.assignment().into_iter().collect();
    let gave: BTreeSet<_> = before
        .iter()
        .filter(|tp| !kept.contains(*tp))
        .cloned()
        .collect();
    let revoked = revoked.lock().unwrap().clone();
    assert_eq!(revoked.len(), 1, "one revocation: {revoked:?}");
    assert_eq!(revoked[0].iter().cloned().collect::<BTreeSet<_>>(), gave);
    assert_eq!(b.assignment().into_iter().collect::<BTreeSet<_>>(), gave);
    // The revocation committed the positions of what moved.
    let committed = a.committed(&b.assignment()).await.unwrap();
    assert!(committed.values().all(Option::is_some), "{committed:?}");
    a.close().await.unwrap();
    b.close().await.unwrap();
    broker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn static_members_come_back_without_a_rebalance_and_duplicates_are_fenced() {
    let broker = broker(1).await;
    let bootstrap = broker.bootstrap();
    fill(&bootstrap, "static", 1).await;
    let cfg = |instance: &str| {
        let mut c = group_config(&bootstrap, "static", AssignmentStrategy::Range);
        c.group_instance_id = Some(instance.to_owned());
        c
    };
    let mut a = Consumer::new(cfg("a")).await.unwrap();
    let mut b = Consumer::new(cfg("b")).await.unwrap();
    a.subscribe(["static"]).unwrap();
    b.subscribe(["static"]).unwrap();
    let deadline = Instant::now() + DEADLINE;
    while a.assignment().len() + b.assignment().len() != PARTITIONS as usize
        || a.assignment().is_empty()
        || b.assignment().is_empty()
        || a.generation() != b.generation()
    {
        assert!(Instant::now() < deadline);
        let _ = a.poll(Duration::from_millis(20)).await.unwrap();
        let _ = b.poll(Duration::from_millis(20)).await.unwrap();
    }
    let generation = b.generation();
    let b_share = b.assignment();

    // `b` restarts: a static member sends no LeaveGroup, and its successor with the same
    // instance id takes its place and partitions; `a` sees no rebalance.
    b.close().await.unwrap();
    let mut b2 = Consumer::new(cfg("b")).await.unwrap();
    b2.subscribe(["static"]).unwrap();
    while b2.assignment().is_empty() {
        assert!(Instant::now() < deadline);
        let _ = a.poll(Duration::from_millis(20)).await.unwrap();
        let _ = b2.poll(Duration::from_millis(20)).await.unwrap();
    }
    assert_eq!(b2.assignment(), b_share);
    for _ in 0..10 {
        let _ = a.poll(Duration::from_millis(50)).await.unwrap();
    }
    assert_eq!(
        a.generation(),
        generation,
        "the other member saw a rebalance"
    );

    // A second process with the same instance id fences the first: its next heartbeat fails
    // with FENCED_INSTANCE_ID, which `recv` reports, and the consumer is done.
    let mut b3 = Consumer::new(cfg("b")).await.unwrap();
    b3.subscribe(["static"]).unwrap();
    let err = loop {
        assert!(Instant::now() < deadline, "b2 was never fenced");
        let _ = b3.poll(Duration::from_millis(20)).await;
        match b2.poll(Duration::from_millis(20)).await {
            Ok(_) => continue,
            Err(err) => break err,
        }
    };
    assert_eq!(err.code(), Some(ErrorCode::FENCED_INSTANCE_ID), "{err}");
    assert!(
        b2.poll(Duration::ZERO).await.is_err(),
        "a fenced consumer stays failed"
    );
    a.close().await.unwrap();
    b3.close().await.unwrap();
    drop(b2);
    broker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_that_stops_polling_loses_its_partitions_and_rejoins() {
    let broker = broker(1).await;
    let bootstrap = broker.bootstrap();
    fill(&bootstrap, "slow", 1).await;
    let mut cfg = group_config(&bootstrap, "slow", AssignmentStrategy::RoundRobin);
    cfg.max_poll_interval = Duration::from_millis(1_000);
    let lost: Arc<Mutex<Vec<TopicPartition>>> = Arc::default();
    let mut slow = Consumer::new(cfg.clone()).await.unwrap();
    let l = Arc::clone(&lost);
    slow.subscribe_with_listener(
        ["slow"],
        FnListener::new().on_lost(move |_, parts| l.lock().unwrap().extend_from_slice(parts)),
    )
    .unwrap();
    let mut fast = Consumer::new(cfg).await.unwrap();
    fast.subscribe(["slow"]).unwrap();
    let deadline = Instant::now() + DEADLINE;
    while slow.assignment().len() != 3 || fast.assignment().len() != 3 {
        assert!(Instant::now() < deadline);
        let _ = slow.poll(Duration::from_millis(20)).await.unwrap();
        let _ = fast.poll(Duration::from_millis(20)).await.unwrap();
    }
    // `slow` stops polling for longer than max.poll.interval.ms: it leaves, `fast` takes all.
    let started = Instant::now();
    while fast.assignment().len() != PARTITIONS as usize {
        assert!(Instant::now() < deadline);
        let _ = fast.poll(Duration::from_millis(50)).await.unwrap();
    }
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    // Polling again: its partitions are reported lost, and it rejoins for a share.
    while slow.assignment().len() != 3 || fast.assignment().len() != 3 {
        assert!(Instant::now() < deadline);
        let _ = slow.poll(Duration::from_millis(20)).await.unwrap();
        let _ = fast.poll(Duration::from_millis(20)).await.unwrap();
    }
    assert_eq!(lost.lock().unwrap().len(), 3, "{:?}", lost.lock().unwrap());
    slow.close().await.unwrap();
    fast.close().await.unwrap();
    broker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commits_are_seen_by_the_next_member_and_by_committed() {
    let broker = broker(1).await;
    let bootstrap = broker.bootstrap();
    fill(&bootstrap, "commits", 10).await;
    let cfg = || group_config(&bootstrap, "commits", AssignmentStrategy::Range);
    let all: Vec<TopicPartition> = (0..PARTITIONS)
        .map(|p| TopicPartition::new("commits", p))
        .collect();
    let mut first = Consumer::new(cfg()).await.unwrap();
    first.subscribe(["commits"]).unwrap();
    let mut read = 0;
    while read < 30 {
        read += timeout(DEADLINE, first.poll(Duration::from_millis(100)))
            .await
            .unwrap()
            .unwrap()
            .len();
    }
    let positions: BTreeMap<TopicPartition, i64> = {
        let mut m = BTreeMap::new();
        for tp in &all {
            m.insert(tp.clone(), first.position(tp).await.unwrap());
        }
        m
    };
    first.commit().await.unwrap();
    let committed = first.committed(&all).await.unwrap();
    for tp in &all {
        assert_eq!(committed[tp], Some(positions[tp]), "{tp}");
    }
    // Async commit of explicit offsets, awaited.
    first
        .commit_offsets_async([(all[0].clone(), positions[&all[0]])])
        .await
        .unwrap();
    first.close().await.unwrap();

    // The next member starts where the first left off.
    let mut second = Consumer::new(cfg()).await.unwrap();
    second.subscribe(["commits"]).unwrap();
    let mut got = Vec::new();
    while got.len() < 60 - read {
        got.extend(
            timeout(DEADLINE, second.poll(Duration::from_millis(100)))
                .await
                .unwrap()
                .unwrap(),
        );
    }
    for r in &got {
        assert!(
            r.offset >= positions[&r.topic_partition()],
            "{r:?} was committed"
        );
    }
    assert_eq!(got.len(), 60 - read);
    second.close().await.unwrap();
    broker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_inside_a_long_poll_counts_as_polling() {
    let broker = broker(1).await;
    let bootstrap = broker.bootstrap();
    fill(&bootstrap, "patient", 1).await;
    let mut cfg = group_config(&bootstrap, "patient", AssignmentStrategy::Range);
    cfg.max_poll_interval = Duration::from_millis(1_000);
    let lost: Arc<Mutex<Vec<TopicPartition>>> = Arc::default();
    let l = Arc::clone(&lost);
    let mut c = Consumer::new(cfg).await.unwrap();
    c.subscribe_with_listener(
        ["patient"],
        FnListener::new().on_lost(move |_, parts| l.lock().unwrap().extend_from_slice(parts)),
    )
    .unwrap();
    let mut read = 0;
    while read < PARTITIONS as usize {
        read += c.poll(DEADLINE).await.unwrap().len();
    }
    let generation = c.generation();
    // Nothing more to read: this poll waits three max.poll.interval.ms.
    assert!(c.poll(Duration::from_secs(3)).await.unwrap().is_empty());
    assert_eq!(c.generation(), generation);
    assert!(
        lost.lock().unwrap().is_empty(),
        "{:?}",
        lost.lock().unwrap()
    );
    c.close().await.unwrap();
    broker.shutdown().await;
}
