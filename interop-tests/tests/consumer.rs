//! The ferrokafka consumer against every broker target and with other clients in its group.
//!
//! Mixed groups: a ferrokafka member leads a group with two librdkafka members (same
//! assignor: range, roundrobin, cooperative-sticky), the assignments are disjoint and cover
//! every partition, every record is read once; the ferrokafka member leaves and librdkafka
//! takes over from its commits; a second ferrokafka member joins a group that librdkafka now
//! leads (so librdkafka reads our subscription and we read its assignment) and starts from the
//! commits librdkafka made. The same with a Java `KafkaConsumer` in the group. And the
//! assign-mode basics (every codec written by librdkafka, positions, lag, resets, real
//! Kafka's cut batches) on every target.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ferrokafka::consumer::TopicPartition;
use ferrokafka::{AssignmentStrategy, AutoOffsetReset, ClientConfig, Consumer, ConsumerConfig};
use ferrokafka_interop_tests::peers::java_group::JavaGroupMember;
use ferrokafka_interop_tests::peers::rdkafka_group::{GroupConsumer, Received};
use ferrokafka_interop_tests::peers::{java, rdkafka as rd};
use ferrokafka_interop_tests::{scenario, unique_topic, Target, TestRecord};

const PARTITIONS: i32 = 6;
const WAIT: Duration = Duration::from_secs(60);

fn consumer_config(t: &Target, group: Option<&str>) -> ConsumerConfig {
    let client = ClientConfig::builder()
        .bootstrap_servers([t.bootstrap.as_str()])
        .client_id("ferrokafka-interop")
        .build()
        .expect("client config");
    let mut b = ConsumerConfig::builder()
        .client(client)
        .auto_offset_reset(AutoOffsetReset::Earliest)
        .fetch_max_wait(Duration::from_millis(100))
        // Real Kafka's minimum session timeout; heartbeats as often as the peers send them.
        .session_timeout(Duration::from_millis(6_000))
        .heartbeat_interval(Duration::from_millis(100));
    if let Some(group) = group {
        b = b.group_id(group).enable_auto_commit(false);
    }
    b.build().expect("consumer config")
}

#[derive(Default)]
struct Shared {
    records: Vec<Received>,
    assigned: Vec<i32>,
    failure: Option<String>,
}

/// A ferrokafka group member on its own runtime: it reads, reports each record and commits
/// it (`offset + 1`) before the next, and publishes its assignment.
struct OurMember {
    runtime: tokio::runtime::Runtime,
    shared: Arc<Mutex<Shared>>,
    stop: Arc<AtomicBool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl OurMember {
    fn start(config: ConsumerConfig, topic: &str, member: usize) -> OurMember {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let shared = Arc::new(Mutex::new(Shared::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (s, st, topic) = (Arc::clone(&shared), Arc::clone(&stop), topic.to_owned());
        let task = runtime.spawn(async move {
            let run = async {
                let mut c = Consumer::new(config).await?;
                c.subscribe([topic.as_str()])?;
                while !st.load(Ordering::SeqCst) {
                    if let Ok(r) = tokio::time::timeout(Duration::from_millis(20), c.recv()).await {
                        let r = r?;
                        s.lock().unwrap().records.push(Received {
                            member,
                            partition: r.partition,
                            offset: r.offset,
                            value: r.value.as_deref().unwrap_or_default().to_vec(),
                        });
                        c.commit_offsets([(r.topic_partition(), r.offset + 1)])
                            .await?;
                    }
                    let mut assigned: Vec<i32> =
                        c.assignment().iter().map(|tp| tp.partition).collect();
                    assigned.sort_unstable();
                    s.lock().unwrap().assigned = assigned;
                }
                c.close().await
            };
            if let Err(err) = run.await {
                s.lock().unwrap().failure = Some(err.to_string());
            }
        });
        OurMember {
            runtime,
            shared,
            stop,
            task: Some(task),
        }
    }

    fn check(&self) {
        if let Some(failure) = &self.shared.lock().unwrap().failure {
            panic!("ferrokafka member failed: {failure}");
        }
    }

    fn assigned(&self) -> Vec<i32> {
        self.check();
        self.shared.lock().unwrap().assigned.clone()
    }

    fn drain(&self) -> Vec<Received> {
        self.check();
        std::mem::take(&mut self.shared.lock().unwrap().records)
    }

    /// Closes the consumer (LeaveGroup) and waits for it.
    fn stop(mut self) -> Vec<Received> {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(task) = self.task.take() {
            self.runtime
                .block_on(async { tokio::time::timeout(WAIT, task).await })
                .expect("ferrokafka member closes in time")
                .expect("member task");
        }
        self.drain()
    }
}

/// Something in the group: ours, librdkafka's or Java's.
enum Member<'a> {
    Ours(&'a OurMember),
    Rd(usize, &'a GroupConsumer),
    Java(&'a mut JavaGroupMember),
}

impl Member<'_> {
    fn assigned(&self) -> Vec<i32> {
        match self {
            Member::Ours(m) => m.assigned(),
            Member::Rd(_, m) => m.assigned(),
            Member::Java(m) => m.assigned().to_vec(),
        }
    }

    fn read(&mut self) -> Vec<Received> {
        match self {
            Member::Ours(m) => m.drain(),
            Member::Rd(i, m) => {
                let mut out = Vec::new();
                while let Some(r) = m.poll(*i, Duration::from_millis(20)) {
                    out.push(r);
                }
                out
            }
            Member::Java(m) => m.drain(),
        }
    }
}

/// True when every member has partitions, and together they hold each partition once.
fn cover(members: &[Member<'_>]) -> bool {
    let mut all = Vec::new();
    for m in members {
        let mine = m.assigned();
        if mine.is_empty() {
            return false;
        }
        all.extend(mine);
    }
    all.sort_unstable();
    all == (0..PARTITIONS).collect::<Vec<_>>()
}

/// Drives every member until they cover the topic; nothing may be read meanwhile.
fn settle(members: &mut [Member<'_>], what: &str) {
    let deadline = Instant::now() + WAIT;
    while !cover(members) {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        for m in members.iter_mut() {
            let read = m.read();
            assert!(
                read.is_empty(),
                "{what}: nothing was produced, yet read {read:?}"
            );
        }
    }
}

/// Reads until `want` is read, each record exactly once, and by the member that owns its
/// partition; returns the readers of each partition.
fn read_once(
    members: &mut [Member<'_>],
    want: &BTreeMap<(i32, i64), Vec<u8>>,
    what: &str,
) -> BTreeMap<i32, BTreeSet<usize>> {
    let mut got: BTreeMap<(i32, i64), usize> = BTreeMap::new();
    let deadline = Instant::now() + WAIT;
    while got.len() < want.len() {
        assert!(
            Instant::now() < deadline,
            "{what}: read {} of {} records",
            got.len(),
            want.len()
        );
        for m in members.iter_mut() {
            for r in m.read() {
                let key = (r.partition, r.offset);
                assert_eq!(want.get(&key), Some(&r.value), "{what}: unexpected {r:?}");
                if let Some(first) = got.insert(key, r.member) {
                    panic!("{what}: {key:?} read by {first} and again by {}", r.member);
                }
            }
        }
    }
    let mut readers: BTreeMap<i32, BTreeSet<usize>> = BTreeMap::new();
    for ((p, _), member) in got {
        readers.entry(p).or_default().insert(member);
    }
    for (p, who) in &readers {
        assert_eq!(who.len(), 1, "{what}: partition {p} read by {who:?}");
    }
    readers
}

fn mixed_group_with_rdkafka(t: &Target, strategy: AssignmentStrategy) {
    let topic = unique_topic("fk-mixed");
    let group = unique_topic("fk-mixed-g");
    rd::admin::create_topic(&t.bootstrap, &topic, PARTITIONS, &[]).expect("create topic");
    let mut config = consumer_config(t, Some(&group));
    config.assignment_strategies = vec![strategy];
    let rd_settings = [("partition.assignment.strategy", strategy.name())];

    // Ours joins first and leads; two librdkafka members follow.
    let ours = OurMember::start(config.clone(), &topic, 0);
    let deadline = Instant::now() + WAIT;
    while ours.assigned().len() != PARTITIONS as usize {
        assert!(
            Instant::now() < deadline,
            "{:?}: the first member's assignment",
            t.kind
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let rd1 = GroupConsumer::subscribe(&t.bootstrap, &group, &topic, &rd_settings);
    let rd2 = GroupConsumer::subscribe(&t.bootstrap, &group, &topic, &rd_settings);
    {
        let mut members = [
            Member::Ours(&ours),
            Member::Rd(1, &rd1),
            Member::Rd(2, &rd2),
        ];
        settle(&mut members, "ferrokafka leading two librdkafka members");
        let sizes: Vec<usize> = members.iter().map(|m| m.assigned().len()).collect();
        assert_eq!(sizes, [2, 2, 2], "{:?} {strategy}: balanced", t.kind);
        let first = rd::produce_round(&t.bootstrap, &topic, PARTITIONS, "one", 4);
        let readers = read_once(&mut members, &first, "ferrokafka-led group");
        assert!(
            readers.values().any(|who| who.contains(&0)),
            "ours read its share"
        );
    }
    rd1.commit();
    rd2.commit();

    // Ours leaves; librdkafka takes over its partitions from its commits and now leads.
    let ours_had = ours.assigned();
    assert!(ours.stop().is_empty());
    {
        let mut members = [Member::Rd(1, &rd1), Member::Rd(2, &rd2)];
        settle(&mut members, "librdkafka taking over");
        let second = rd::produce_round(&t.bootstrap, &topic, PARTITIONS, "two", 2);
        let readers = read_once(&mut members, &second, "after ferrokafka left");
        for p in &ours_had {
            assert!(readers.contains_key(p), "partition {p} taken over");
        }
    }
    rd1.commit();
    rd2.commit();
    let expected: BTreeMap<i32, i64> = (0..PARTITIONS).map(|p| (p, 6)).collect();
    assert_eq!(rd1.committed(PARTITIONS), expected, "{:?}: commits", t.kind);

    // A new ferrokafka member joins the librdkafka-led group and starts from its commits.
    let late = OurMember::start(config, &topic, 3);
    {
        let mut members = [
            Member::Rd(1, &rd1),
            Member::Rd(2, &rd2),
            Member::Ours(&late),
        ];
        settle(&mut members, "ferrokafka joining a librdkafka-led group");
        let third = rd::produce_round(&t.bootstrap, &topic, PARTITIONS, "three", 2);
        assert!(third.keys().all(|(_, o)| *o >= 6));
        read_once(&mut members, &third, "librdkafka-led group with ferrokafka");
    }
    let late_had = late.assigned();
    assert!(late.stop().is_empty());
    // What ours committed is what librdkafka sees.
    let committed = rd1.committed(PARTITIONS);
    for p in late_had {
        assert_eq!(committed[&p], 8, "{:?}: ferrokafka's commit of {p}", t.kind);
    }
}

scenario!(mixed_group_range, |t: &Target| {
    mixed_group_with_rdkafka(t, AssignmentStrategy::Range)
});

scenario!(mixed_group_roundrobin, |t: &Target| {
    mixed_group_with_rdkafka(t, AssignmentStrategy::RoundRobin)
});

scenario!(mixed_group_cooperative_sticky, |t: &Target| {
    mixed_group_with_rdkafka(t, AssignmentStrategy::CooperativeSticky)
});

scenario!(mixed_group_with_java_and_rdkafka, |t: &Target| {
    if !java::available() {
        return;
    }
    let topic = unique_topic("fk-java");
    let group = unique_topic("fk-java-g");
    rd::admin::create_topic(&t.bootstrap, &topic, PARTITIONS, &[]).expect("create topic");
    // Our default assignors are Java's ([range, cooperative-sticky]); librdkafka's default
    // is [range, roundrobin]: the group settles on range.
    let ours = OurMember::start(consumer_config(t, Some(&group)), &topic, 0);
    let mut java = JavaGroupMember::start(
        &t.bootstrap,
        &topic,
        &group,
        1,
        &[
            ("session.timeout.ms", "6000"),
            ("heartbeat.interval.ms", "100"),
        ],
    );
    let rd = GroupConsumer::subscribe(&t.bootstrap, &group, &topic, &[]);
    {
        let mut members = [
            Member::Ours(&ours),
            Member::Java(&mut java),
            Member::Rd(2, &rd),
        ];
        settle(
            &mut members,
            "ferrokafka, Java and librdkafka sharing a group",
        );
        let first = rd::produce_round(&t.bootstrap, &topic, PARTITIONS, "three-way", 3);
        read_once(&mut members, &first, "three clients, one group");
    }
    rd.commit();
    let java_had = java.assigned().to_vec();
    let late = java.stop(WAIT);
    assert!(late.is_empty(), "java read {late:?} late");
    {
        let mut members = [Member::Ours(&ours), Member::Rd(2, &rd)];
        settle(&mut members, "taking over from Java");
        let second = rd::produce_round(&t.bootstrap, &topic, PARTITIONS, "after-java", 2);
        let readers = read_once(&mut members, &second, "after the Java member left");
        for p in &java_had {
            assert!(
                readers.contains_key(p),
                "partition {p} taken over from Java"
            );
        }
    }
    rd.commit();
    assert!(ours.stop().is_empty());
    let expected: BTreeMap<i32, i64> = (0..PARTITIONS).map(|p| (p, 5)).collect();
    assert_eq!(
        rd.committed(PARTITIONS),
        expected,
        "{:?}: every commit",
        t.kind
    );
});

// Assign mode on every target: what librdkafka wrote in each codec, read back with
// positions, lag and a reset; small fetches so real Kafka cuts batches mid-way.
scenario!(
    assign_mode_reads_every_codec_with_positions,
    |t: &Target| {
        let topic = unique_topic("fk-assign");
        rd::admin::create_topic(&t.bootstrap, &topic, 1, &[]).expect("create topic");
        let mut expected = Vec::new();
        for codec in ["none", "gzip", "snappy", "lz4", "zstd"] {
            let records: Vec<TestRecord> = (0..40)
                .map(|i| TestRecord {
                    partition: 0,
                    timestamp: Some(1_700_000_000_000 + i),
                    key: Some(format!("k{i}").into_bytes()),
                    value: Some(format!("{codec}-{i}-{}", "x".repeat(40)).into_bytes()),
                    headers: vec![("h".into(), Some(codec.as_bytes().to_vec()))],
                })
                .collect();
            rd::produce(
                &t.bootstrap,
                &topic,
                &records,
                &[("compression.codec", codec), ("linger.ms", "20")],
            );
            expected.extend(records.into_iter().map(|r| r.value.unwrap_or_default()));
        }
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        runtime.block_on(async {
            let mut config = consumer_config(t, None);
            config.max_partition_fetch_bytes = 700;
            let mut c = Consumer::new(config).await.expect("consumer");
            let tp = TopicPartition::new(topic.as_str(), 0);
            c.assign([tp.clone()]).unwrap();
            let mut got = Vec::new();
            while got.len() < expected.len() {
                let batch = tokio::time::timeout(WAIT, c.poll(WAIT))
                    .await
                    .unwrap()
                    .unwrap();
                got.extend(batch);
            }
            let values: Vec<Vec<u8>> = got
                .iter()
                .map(|r| r.value.as_deref().unwrap_or_default().to_vec())
                .collect();
            assert_eq!(values, expected, "{:?}: every codec in order", t.kind);
            assert!(got.windows(2).all(|w| w[1].offset == w[0].offset + 1));
            assert_eq!(c.position(&tp).await.unwrap(), 200);
            assert_eq!(c.lag(&tp), Some(0));
            c.seek(&tp, 150).unwrap();
            let r = c.recv().await.unwrap();
            assert_eq!(r.offset, 150);
            assert_eq!(c.lag(&tp), Some(49));
            // Past the end: reset to earliest.
            c.seek(&tp, 10_000).unwrap();
            assert_eq!(c.recv().await.unwrap().offset, 0);
            c.close().await.unwrap();
        });
    }
);

// Crash test with real processes (see `ferrokafka_interop_tests::crash`): SIGKILLs at random
// moments never lose a record under AtLeastOnce and never process one twice under
// AtMostOnce, per record and per batch, on every target. (`crash-harness` runs the same with more kills and prints the
// counts.)
scenario!(sigkilled_consumers_keep_their_semantics, |t: &Target| {
    use ferrokafka_interop_tests::crash::{run, Options};
    use ferrokafka_interop_tests::TargetKind;
    let real = t.kind == TargetKind::RealKafka;
    for (semantics, seed) in [
        ("at-least-once", 11),
        ("at-most-once", 12),
        ("at-least-once-batch", 13),
        ("at-most-once-batch", 14),
    ] {
        let started = Instant::now();
        let report = run(&Options {
            seed,
            bootstrap: Some(t.bootstrap.clone()),
            // Kafka takes longer to hand a restarted member its partitions.
            life_ms: if real { (200, 1_200) } else { (20, 400) },
            // Kafka's longer lives need longer batches to be cut short in.
            batch_work_ms: if real { 150 } else { 40 },
            ..Options::new(
                env!("CARGO_BIN_EXE_crash-consumer"),
                semantics,
                if real { 1_500 } else { 3_000 },
                if real { 10 } else { 15 },
            )
        })
        .unwrap_or_else(|e| panic!("{:?} {semantics}: {e}", t.kind));
        eprintln!(
            "crash {:?} {}: {} kills ({} before any processing), {} records, {} processed, \
             {} lost, {} duplicated, {:.1} s",
            t.kind,
            report.semantics,
            report.kills,
            report.early_kills,
            report.records,
            report.processed,
            report.lost,
            report.duplicated,
            started.elapsed().as_secs_f64()
        );
        if semantics.starts_with("at-least-once") {
            assert_eq!(report.lost, 0, "{report:?}");
        } else {
            assert_eq!(report.duplicated, 0, "{report:?}");
        }
        assert_eq!(report.processed + report.lost, report.records, "{report:?}");
    }
});

// read_committed on every target: librdkafka's transactional producer commits, aborts and
// commits again; our read_committed consumer sees only the committed records (aborted batches
// dropped using the fetch response's aborted-transaction list), read_uncommitted sees them all,
// and neither ever hands out a transaction marker.
scenario!(read_committed_skips_aborted_transactions, |t: &Target| {
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer};

    let topic = unique_topic("fk-txn");
    rd::admin::create_topic(&t.bootstrap, &topic, 1, &[]).expect("create topic");
    let producer: BaseProducer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", &t.bootstrap)
        .set("transactional.id", unique_topic("fk-txn-id"))
        .set("log_level", "4")
        .create()
        .expect("transactional producer");
    let timeout = Duration::from_secs(30);
    producer
        .init_transactions(timeout)
        .expect("init_transactions");
    let mut committed = Vec::new();
    let mut all = Vec::new();
    for (round, commit) in [("one", true), ("two", false), ("three", true)] {
        producer.begin_transaction().expect("begin");
        for i in 0..5 {
            let value = format!("{round}-{i}");
            producer
                .send(
                    BaseRecord::<(), str>::to(&topic)
                        .partition(0)
                        .payload(&value),
                )
                .map_err(|(e, _)| e)
                .expect("send");
            all.push(value.clone());
            if commit {
                committed.push(value);
            }
        }
        producer.flush(timeout).expect("flush");
        if commit {
            producer.commit_transaction(timeout).expect("commit");
        } else {
            producer.abort_transaction(timeout).expect("abort");
        }
    }
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    for (level, want) in [
        (ferrokafka::IsolationLevel::ReadCommitted, &committed),
        (ferrokafka::IsolationLevel::ReadUncommitted, &all),
    ] {
        runtime.block_on(async {
            let mut config = consumer_config(t, None);
            config.isolation_level = level;
            let mut c = Consumer::new(config).await.expect("consumer");
            let tp = TopicPartition::new(topic.as_str(), 0);
            c.assign([tp.clone()]).unwrap();
            let mut got = Vec::new();
            while got.len() < want.len() {
                let r = tokio::time::timeout(WAIT, c.recv()).await.unwrap().unwrap();
                got.push(String::from_utf8(r.value.unwrap_or_default().to_vec()).unwrap());
            }
            assert_eq!(&got, want, "{:?} {level:?}", t.kind);
            // Nothing more: the markers are never handed out, and the position passes them.
            assert!(c.poll(Duration::from_millis(300)).await.unwrap().is_empty());
            let end = c.position(&tp).await.unwrap();
            assert_eq!(end, 18, "{:?} {level:?}: 15 records and 3 markers", t.kind);
            c.close().await.unwrap();
        });
    }
});
