//! Scenarios on a three-node Kafka cluster (`scripts/kafka-cluster.sh`): nodes SIGKILLed and
//! restarted, leaders moved, through the fault controls of
//! `ferrokafka_interop_tests::cluster`.
//!
//! `scripts/test.sh` runs this file in a step of its own, after the single-broker tests,
//! uncaptured and one test at a time (the tests share one cluster and kill its nodes):
//! `cargo test -p ferrokafka-interop-tests --locked --test cluster -- --nocapture
//! --test-threads 1`. Each scenario holds `cluster.restart_on_drop()`, so one that fails
//! half-way leaves every node up for the next.

use std::time::{Duration, Instant};

use std::sync::atomic::Ordering;

use ferrokafka::consumer::TopicPartition;
use ferrokafka::{
    AutoOffsetReset, Client, ClientConfig, Consumer, ConsumerConfig, CoordinatorType, NewTopic,
    Producer, ProducerConfig, ProducerRecord,
};
use ferrokafka_interop_tests::cluster::{wait_until, Cluster};
use ferrokafka_interop_tests::failover::{
    self, audit, committed_reader, feed, feed_with, ferrokafka_group_reader, key_coordinated_by,
    rdkafka_eos_pipeline, rdkafka_feed, rdkafka_group_reader, rdkafka_rack_reader, read_topic,
    wait_for, Audit, EosPipeline, Seen, Stop, Supervised,
};
use ferrokafka_interop_tests::unique_topic;

/// The client's own warn lines (stalls, coordinator moves) go to the test log, so the CI log
/// shows what a user reading warn-level logs would learn during each fault.
fn log_warnings() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("ferrokafka=warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_test_writer()
        .try_init();
}

fn runtime() -> tokio::runtime::Runtime {
    log_warnings();
    ferrokafka_interop_tests::runtime()
}

// ---------------------------------------------------------------------------------------------
// Smoke: the cluster and its fault controls themselves (scripts/kafka-cluster.sh,
// interop-tests/src/cluster.rs).
// ---------------------------------------------------------------------------------------------

/// Three brokers, RF 3 everywhere; the leader of a partition SIGKILLed, a new one elected,
/// the old one restarted and made leader again by a reassignment plus a preferred election.
#[test]
fn cluster_smoke() {
    use ferrokafka_interop_tests::cluster::wait_until;

    let Some(cluster) = Cluster::find() else {
        return;
    };
    let _up = cluster.restart_on_drop();
    runtime().block_on(async {
        let client = Client::connect(ClientConfig::new(cluster.bootstrap()).expect("config"))
            .await
            .expect("connect");
        let topic = unique_topic("cluster-smoke");
        let created = client
            .create_topics(&[NewTopic::new(&topic).partitions(6).replication_factor(3)])
            .await
            .expect("CreateTopics");
        for (name, result) in created {
            result.unwrap_or_else(|e| panic!("create {name}: {e}"));
        }

        // The client's view: three brokers, six partitions of three replicas each. Brokers
        // learn of a new topic a moment after CreateTopics answers, so wait for it.
        let what = format!("all 6 partitions of {topic} with leaders in the client's metadata");
        let view = wait_until(&what, Duration::from_secs(30), || async {
            let view = client
                .metadata(&[&topic])
                .await
                .map_err(|e| e.to_string())?;
            let led = (0..6).filter(|p| view.leader(&topic, *p).is_ok()).count();
            if led == 6 {
                Ok(view)
            } else {
                Err(format!("{led} partitions with a leader"))
            }
        })
        .await;
        assert_eq!(
            view.brokers.keys().copied().collect::<Vec<_>>(),
            cluster.node_ids(),
            "brokers in metadata"
        );
        for (id, broker) in &view.brokers {
            assert_eq!(broker.address(), cluster.node_addr(*id), "node {id}");
            assert_eq!(broker.rack.as_deref(), Some(format!("rack-{id}").as_str()));
        }
        let partitions = &view
            .topics
            .get(&topic)
            .expect("topic in metadata")
            .partitions;
        assert_eq!(partitions.len(), 6, "{partitions:?}");
        for (index, p) in partitions {
            assert_eq!(p.replicas.len(), 3, "replicas of partition {index}: {p:?}");
        }

        let leader = cluster
            .leader_of(&topic, 0)
            .await
            .expect("a leader of partition 0");
        let replicas = cluster
            .partition(&topic, 0)
            .await
            .expect("partition 0")
            .replicas;
        println!("partition 0: leader {leader}, replicas {replicas:?}");

        let t = Instant::now();
        cluster.kill(leader).await;
        let killed_in = t.elapsed();
        let successor = cluster.wait_for_new_leader(&topic, 0, leader).await;
        let failover = t.elapsed();
        assert_ne!(successor, leader);
        println!(
            "killed node {leader} in {killed_in:?}; node {successor} leads after {failover:?}"
        );

        let t = Instant::now();
        cluster.restart(leader).await;
        let restarted = t.elapsed();
        cluster.wait_for_isr(&topic, 0, leader).await;
        let in_isr = t.elapsed();
        println!("node {leader} answers after {restarted:?}, back in the ISR after {in_isr:?}");

        // Same replicas, order changed (the old leader first, the other two swapped), then a
        // preferred election puts the old leader back in charge.
        let t = Instant::now();
        let mut order = vec![leader];
        order.extend(replicas.iter().rev().filter(|r| **r != leader));
        cluster.reassign(&topic, 0, order.clone()).await;
        cluster.elect_preferred_leaders(&topic, &[0]).await;
        cluster.wait_for_leader(&topic, 0, leader).await;
        println!(
            "reassigned partition 0 to {order:?} and elected node {leader} in {:?}",
            t.elapsed()
        );
        assert_eq!(cluster.leader_of(&topic, 0).await, Some(leader));

        // The client under test follows the move (its own metadata refresh).
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match client
                .metadata(&[&topic])
                .await
                .map(|v| v.leader(&topic, 0))
            {
                Ok(Ok(l)) if l == leader => break,
                other => assert!(
                    Instant::now() < deadline,
                    "the client does not see node {leader} leading partition 0: {other:?}"
                ),
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        client.close().await;
    });
}

// ---------------------------------------------------------------------------------------------
// Coordinators that die: ferrokafka and librdkafka side by side, under the same fault.
// ---------------------------------------------------------------------------------------------

/// How long a coordinator's node stays down.
const DOWN: Duration = Duration::from_secs(45);
/// Partitions of the scenario topics: two led by each node.
const PARTITIONS: i32 = 6;
/// One record every this long from the feeder (200 a second).
const FEED_EVERY: Duration = Duration::from_millis(5);

/// `transaction.timeout.ms` of both exactly-once pipelines.
const EOS_TXN_TIMEOUT_MS: &str = "10000";
/// Records per transaction in the exactly-once pipelines: the `eos-pipeline` worker's
/// `max.poll.records`.
const EOS_BATCH: usize = 10;
/// The exactly-once scenario's feed: one record every 20 ms (50 a second), which both
/// pipelines keep up with at one transaction per 10 records on the test machine.
const EOS_FEED_EVERY: Duration = Duration::from_millis(20);

/// Creates `topic` with two partitions led by each node (replicas rotate over 1, 2, 3), so
/// every topic of a scenario loses the same partitions' leaders when a node dies.
async fn create_spread(client: &Client, topic: &str) {
    let mut new = NewTopic::new(topic);
    for p in 0..PARTITIONS {
        let replicas = (0..3).map(|i| (p + i) % 3 + 1).collect();
        new = new.assignment(p, replicas);
    }
    let created = client.create_topics(&[new]).await.expect("CreateTopics");
    for (name, result) in created {
        result.unwrap_or_else(|e| panic!("create {name}: {e}"));
    }
}

/// Prints one client's line of a scenario's table.
fn report(scenario: &str, client: &str, stall: Duration, seen: &Seen, acked: &[u64]) {
    println!(
        "{scenario}: {client:<10} longest stall {:>5.1} s, ids acknowledged {}, received {}, \
         lost {}, duplicated {}",
        stall.as_secs_f64(),
        acked.len(),
        seen.distinct(),
        seen.lost(acked),
        seen.duplicated()
    );
}

/// SIGKILLs `node`, keeps it down for [`DOWN`] and restarts it; returns when it was killed
/// and when it was restarted, as times since `start`.
fn outage(
    rt: &tokio::runtime::Runtime,
    cluster: &Cluster,
    node: i32,
    start: Instant,
) -> (Duration, Duration) {
    let killed_at = start.elapsed();
    rt.block_on(cluster.kill(node));
    println!("node {node} killed at {killed_at:?}; down for {DOWN:?}");
    std::thread::sleep(DOWN);
    let restart_at = start.elapsed();
    rt.block_on(cluster.restart(node));
    println!(
        "node {node} restarted at {restart_at:?}, answering after {:?}",
        start.elapsed()
    );
    (killed_at, restart_at)
}

/// Prints both clients' lines of a scenario, with the longest stall of each that began
/// during `outage` (from the kill to the restart) and their difference.
fn compare(scenario: &str, outage: (Duration, Duration), ferro: &Seen, rd: &Seen, acked: &[u64]) {
    let ferro_stall = ferro.longest_stall(outage.0, outage.1);
    let rd_stall = rd.longest_stall(outage.0, outage.1);
    report(scenario, "ferrokafka", ferro_stall, ferro, acked);
    report(scenario, "librdkafka", rd_stall, rd, acked);
    println!(
        "{scenario}: ferrokafka stalled {:.1} s, librdkafka {:.1} s (difference {:+.1} s)",
        ferro_stall.as_secs_f64(),
        rd_stall.as_secs_f64(),
        ferro_stall.as_secs_f64() - rd_stall.as_secs_f64()
    );
}

/// An at-least-once group of each client reads a topic fed at 200 records/s while the node
/// that coordinates both groups is SIGKILLed and kept down for 45 s. Each must carry on (the
/// coordinator moves to another node once the controller fences the dead one) and lose
/// nothing; the longest stretch without a record is printed for both.
#[test]
fn groups_survive_their_coordinator_node_down() {
    let Some(cluster) = Cluster::find() else {
        return;
    };
    let _up = cluster.restart_on_drop();
    let rt = runtime();
    let bootstrap = cluster.bootstrap().to_owned();
    let client = rt.block_on(async {
        let client = Client::connect(failover::client_config(&bootstrap))
            .await
            .expect("connect");
        client
    });
    let topic = unique_topic("coordinator-down");
    let (ferro_group, node, rd_group) = rt.block_on(async {
        create_spread(&client, &topic).await;
        let (ferro_group, node) = key_coordinated_by(
            &client,
            CoordinatorType::Group,
            &format!("{topic}-ferro"),
            None,
        )
        .await;
        let (rd_group, _) = key_coordinated_by(
            &client,
            CoordinatorType::Group,
            &format!("{topic}-rd"),
            Some(node),
        )
        .await;
        (ferro_group, node, rd_group)
    });
    println!("groups {ferro_group} and {rd_group} are coordinated by node {node}");

    let start = Instant::now();
    let stop_feed: Stop = Stop::default();
    let stop_read: Stop = Stop::default();
    let ferro_seen = Seen::new(start);
    let rd_seen = Seen::new(start);
    let feeder = rt.spawn(feed(
        bootstrap.clone(),
        topic.clone(),
        PARTITIONS,
        FEED_EVERY,
        stop_feed.clone(),
    ));
    let ferro = rt.spawn(ferrokafka_group_reader(
        bootstrap.clone(),
        topic.clone(),
        ferro_group.clone(),
        ferro_seen.clone(),
        stop_read.clone(),
    ));
    let rd = rdkafka_group_reader(
        &bootstrap,
        &topic,
        &rd_group,
        rd_seen.clone(),
        stop_read.clone(),
    );
    assert!(
        wait_for(Duration::from_secs(60), || ferro_seen.distinct() >= 400
            && rd_seen.distinct() >= 400),
        "both groups read 400 records before the fault (ferrokafka {}, librdkafka {})",
        ferro_seen.distinct(),
        rd_seen.distinct()
    );

    let (killed_at, restart_at) = outage(&rt, &cluster, node, start);
    // Some more traffic with every node up, then stop the feeder and let both drain.
    std::thread::sleep(Duration::from_secs(5));
    stop_feed.store(true, Ordering::SeqCst);
    let acked = rt.block_on(feeder).expect("feeder");
    let drained = wait_for(Duration::from_secs(90), || {
        ferro_seen.covers(&acked) && rd_seen.covers(&acked)
    });
    stop_read.store(true, Ordering::SeqCst);
    let consumer = rt.block_on(ferro).expect("ferrokafka reader");
    rd.join().expect("rdkafka reader");

    compare(
        "coordinator node down 45 s, at-least-once group",
        (killed_at, restart_at),
        &ferro_seen,
        &rd_seen,
        &acked,
    );
    assert!(drained || ferro_seen.covers(&acked), "ferrokafka drained");
    assert_eq!(ferro_seen.lost(&acked), 0, "ferrokafka lost records");
    assert_eq!(rd_seen.lost(&acked), 0, "librdkafka lost records");
    assert!(
        acked.len() > 10_000,
        "the feeder kept writing: {}",
        acked.len()
    );

    // Commits went on through the new coordinator: the group's committed offsets reach the
    // end of every partition.
    rt.block_on(async {
        let partitions: Vec<TopicPartition> = (0..PARTITIONS)
            .map(|p| TopicPartition::new(topic.clone(), p))
            .collect();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let committed = consumer.committed(&partitions).await;
            let total: i64 = committed
                .iter()
                .flat_map(|c| c.values())
                .map(|o| o.unwrap_or(0))
                .sum();
            if usize::try_from(total).unwrap_or(0) >= acked.len() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "ferrokafka's committed offsets stop at {total} of {}: {committed:?}",
                acked.len()
            );
            drop(consumer.commit_async());
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        consumer.close().await.expect("close");
        client.close().await;
    });
}

/// The exactly-once pipeline of each client (ferrokafka's `eos-pipeline` worker, and
/// librdkafka's transactional producer with a consumer, as its own example does it) reads a
/// topic fed at 200 records/s while the node that coordinates both transactional ids is
/// SIGKILLed and kept down for 45 s. Both run with `transaction.timeout.ms` 10 s, so the
/// transaction open when the coordinator dies is aborted by its successor rather than holding
/// `read_committed` readers for a minute, and as an application would be run: restarted after
/// a fatal error (librdkafka's by a new producer instance, ferrokafka's worker process by a
/// supervisor; the counts are printed). A
/// `read_committed` reader of each output must see every acknowledged input exactly once; the
/// longest stretch without a committed output is printed for both.
#[test]
fn exactly_once_pipelines_survive_their_transaction_coordinator_down() {
    let Some(cluster) = Cluster::find() else {
        return;
    };
    let _up = cluster.restart_on_drop();
    let rt = runtime();
    let bootstrap = cluster.bootstrap().to_owned();
    let name = unique_topic("txn-coordinator-down");
    let input = format!("{name}-in");
    let ferro_out = format!("{name}-ferro-out");
    let rd_out = format!("{name}-rd-out");
    let client = rt.block_on(async {
        Client::connect(failover::client_config(&bootstrap))
            .await
            .expect("connect")
    });
    // The eos-pipeline worker's transactional id is `<name>-txn`: pick a name whose id the
    // node we kill coordinates, and a librdkafka id on the same node.
    let (ferro_name, node, rd_txn) = rt.block_on(async {
        for topic in [&input, &ferro_out, &rd_out] {
            create_spread(&client, topic).await;
        }
        let mut n = 0;
        let (ferro_name, node) = loop {
            let candidate = format!("{name}-ferro{n}");
            let broker = client
                .find_coordinator(CoordinatorType::Transaction, &format!("{candidate}-txn"))
                .await;
            match broker {
                Ok(b) => break (candidate, b.node_id),
                Err(err) => {
                    assert!(err.is_retriable(), "FindCoordinator: {err}");
                    n += 1;
                    assert!(n < 100, "no transaction coordinator: {err}");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        };
        let (rd_txn, _) = key_coordinated_by(
            &client,
            CoordinatorType::Transaction,
            &format!("{name}-rd-txn"),
            Some(node),
        )
        .await;
        (ferro_name, node, rd_txn)
    });
    println!("transactional ids {ferro_name}-txn and {rd_txn} are coordinated by node {node}");

    let start = Instant::now();
    let stop_feed: Stop = Stop::default();
    let stop_all: Stop = Stop::default();
    let ferro_seen = Seen::new(start);
    let rd_seen = Seen::new(start);
    let feeder = rt.spawn(feed(
        bootstrap.clone(),
        input.clone(),
        PARTITIONS,
        EOS_FEED_EVERY,
        stop_feed.clone(),
    ));
    let ferro = {
        let (bootstrap, input, output) = (bootstrap.clone(), input.clone(), ferro_out.clone());
        Supervised::start(
            "eos-pipeline",
            move || {
                let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_eos-pipeline"));
                command
                    .args(["--bootstrap", &bootstrap, "--input", &input])
                    .args(["--output", &output, "--name", &ferro_name])
                    .args(["--transaction-timeout-ms", EOS_TXN_TIMEOUT_MS]);
                command
            },
            stop_all.clone(),
        )
    };
    let rd = rdkafka_eos_pipeline(
        EosPipeline {
            bootstrap: &bootstrap,
            input: &input,
            output: &rd_out,
            group: &format!("{name}-rd-group"),
            transactional_id: &rd_txn,
            transaction_timeout_ms: EOS_TXN_TIMEOUT_MS,
            max_batch: EOS_BATCH,
        },
        stop_all.clone(),
    );
    let readers = [(&ferro_out, &ferro_seen), (&rd_out, &rd_seen)].map(|(topic, seen)| {
        rt.spawn(committed_reader(
            bootstrap.clone(),
            topic.clone(),
            PARTITIONS,
            seen.clone(),
            stop_all.clone(),
        ))
    });
    assert!(
        wait_for(Duration::from_secs(90), || ferro_seen.distinct() >= 200
            && rd_seen.distinct() >= 200),
        "both pipelines committed 200 outputs before the fault (ferrokafka {}, librdkafka {})",
        ferro_seen.distinct(),
        rd_seen.distinct()
    );

    let (killed_at, restart_at) = outage(&rt, &cluster, node, start);
    std::thread::sleep(Duration::from_secs(5));
    stop_feed.store(true, Ordering::SeqCst);
    let acked = rt.block_on(feeder).expect("feeder");
    let drained = wait_for(Duration::from_secs(120), || {
        ferro_seen.covers(&acked) && rd_seen.covers(&acked)
    });
    // Outputs of a transaction still open when the pipeline stops would never be
    // committed; the readers have what counts. A last look for late duplicates:
    std::thread::sleep(Duration::from_secs(2));
    let scenario = "transaction coordinator node down 45 s, exactly-once pipeline";
    compare(
        scenario,
        (killed_at, restart_at),
        &ferro_seen,
        &rd_seen,
        &acked,
    );
    stop_all.store(true, Ordering::SeqCst);
    let ferro_restarts = ferro.join();
    let rd_aborts = rd.join().expect("rdkafka pipeline");
    for reader in readers {
        rt.block_on(reader).expect("reader");
    }
    rt.block_on(client.close());
    println!(
        "{scenario}: ferrokafka's pipeline restarted {ferro_restarts} times; librdkafka's \
         aborted {rd_aborts} transactions (counting new producer instances)"
    );
    assert!(
        acked.len() > 2_500,
        "the feeder kept writing: {}",
        acked.len()
    );
    assert!(
        drained || ferro_seen.covers(&acked),
        "ferrokafka's pipeline drained the input"
    );
    assert_eq!(ferro_seen.lost(&acked), 0, "ferrokafka lost inputs");
    assert_eq!(ferro_seen.duplicated(), 0, "ferrokafka duplicated outputs");
    assert_eq!(rd_seen.lost(&acked), 0, "librdkafka lost inputs");
    assert_eq!(rd_seen.duplicated(), 0, "librdkafka duplicated outputs");
}

// ---------------------------------------------------------------------------------------------
// Leaders that die and move: producers of both clients, and group readers, through the same
// kills and elections.
// ---------------------------------------------------------------------------------------------

/// Prints one producer's audit line.
fn print_audit(scenario: &str, who: &str, audit: &Audit) {
    println!(
        "{scenario}: {who:<22} acknowledged {}, lost {}, duplicated {}, reordered {}",
        audit.acked, audit.lost, audit.duplicated, audit.reordered
    );
}

/// Four producers write at 500 records/s each (ferrokafka and librdkafka, each idempotent
/// with acks=all and plain acks=1) while node 1 and then node 2 are SIGKILLed, restarted and
/// made leaders again by preferred elections; a group reader of each client reads the
/// idempotent ferrokafka topic meanwhile. Idempotent producers must lose, duplicate and
/// reorder nothing; acks=1 producers may lose what a dead leader acknowledged but had not
/// replicated yet, which is printed (the difference between acks=1 and acks=all, measured).
#[test]
fn producers_and_readers_through_leader_kills_and_moves() {
    let Some(cluster) = Cluster::find() else {
        return;
    };
    let _up = cluster.restart_on_drop();
    let rt = runtime();
    let bootstrap = cluster.bootstrap().to_owned();
    let name = unique_topic("leader-kills");
    let topics =
        ["ferro-idem", "rd-idem", "ferro-acks1", "rd-acks1"].map(|t| format!("{name}-{t}"));
    let client = rt.block_on(async {
        let client = Client::connect(failover::client_config(&bootstrap))
            .await
            .expect("connect");
        for topic in &topics {
            create_spread(&client, topic).await;
        }
        client
    });
    let every = Duration::from_millis(2);
    let idempotent: &[(&str, &str)] = &[("acks", "all"), ("enable.idempotence", "true")];
    let acks1: &[(&str, &str)] = &[("acks", "1"), ("enable.idempotence", "false")];
    let stop: Stop = Stop::default();
    let stop_read: Stop = Stop::default();
    let start = Instant::now();
    let ferro_idem = rt.spawn(feed_with(
        bootstrap.clone(),
        topics[0].clone(),
        PARTITIONS,
        every,
        idempotent,
        stop.clone(),
    ));
    let rd_idem = rdkafka_feed(
        &bootstrap,
        &topics[1],
        PARTITIONS,
        every,
        idempotent,
        stop.clone(),
    );
    let ferro_acks1 = rt.spawn(feed_with(
        bootstrap.clone(),
        topics[2].clone(),
        PARTITIONS,
        every,
        acks1,
        stop.clone(),
    ));
    let rd_acks1 = rdkafka_feed(
        &bootstrap,
        &topics[3],
        PARTITIONS,
        every,
        acks1,
        stop.clone(),
    );
    let ferro_seen = Seen::new(start);
    let rd_seen = Seen::new(start);
    let ferro_reader = rt.spawn(ferrokafka_group_reader(
        bootstrap.clone(),
        topics[0].clone(),
        format!("{name}-ferro-readers"),
        ferro_seen.clone(),
        stop_read.clone(),
    ));
    let rd_reader = rdkafka_group_reader(
        &bootstrap,
        &topics[0],
        &format!("{name}-rd-readers"),
        rd_seen.clone(),
        stop_read.clone(),
    );

    std::thread::sleep(Duration::from_secs(5));
    let faults_from = start.elapsed();
    for node in [1, 2] {
        let t = Instant::now();
        rt.block_on(cluster.kill(node));
        let successor = rt.block_on(cluster.wait_for_new_leader(&topics[0], node - 1, node));
        println!(
            "node {node} killed; node {successor} leads partition {} after {:?}",
            node - 1,
            t.elapsed()
        );
        std::thread::sleep(Duration::from_secs(5));
        rt.block_on(async {
            cluster.restart(node).await;
            for topic in &topics {
                cluster.wait_for_isr(topic, node - 1, node).await;
            }
        });
        println!("node {node} back in the ISRs after {:?}", t.elapsed());
        // Leaders move back to the preferred replica while everything keeps running.
        rt.block_on(async {
            for topic in &topics {
                let all: Vec<i32> = (0..PARTITIONS).collect();
                cluster.elect_preferred_leaders(topic, &all).await;
            }
            cluster.wait_for_leader(&topics[0], node - 1, node).await;
        });
        println!("node {node} leads again after {:?}", t.elapsed());
    }
    let faults_until = start.elapsed();
    std::thread::sleep(Duration::from_secs(3));
    stop.store(true, Ordering::SeqCst);
    let acked = [
        rt.block_on(ferro_idem).expect("ferrokafka idempotent"),
        rd_idem.join().expect("rdkafka idempotent"),
        rt.block_on(ferro_acks1).expect("ferrokafka acks=1"),
        rd_acks1.join().expect("rdkafka acks=1"),
    ];
    let drained = wait_for(Duration::from_secs(60), || {
        ferro_seen.covers(&acked[0]) && rd_seen.covers(&acked[0])
    });
    stop_read.store(true, Ordering::SeqCst);
    let ferro_consumer = rt.block_on(ferro_reader).expect("ferrokafka reader");
    rd_reader.join().expect("rdkafka reader");

    let scenario = "leaders killed and moved";
    let audits: Vec<Audit> = topics
        .iter()
        .zip(&acked)
        .map(|(topic, acked)| {
            audit(
                &rt.block_on(read_topic(&bootstrap, topic, PARTITIONS)),
                acked,
            )
        })
        .collect();
    let who = [
        "ferrokafka idempotent",
        "librdkafka idempotent",
        "ferrokafka acks=1",
        "librdkafka acks=1",
    ];
    for (who, audit) in who.iter().zip(&audits) {
        print_audit(scenario, who, audit);
    }
    report(
        scenario,
        "ferrokafka reader",
        ferro_seen.longest_stall(faults_from, faults_until),
        &ferro_seen,
        &acked[0],
    );
    report(
        scenario,
        "librdkafka reader",
        rd_seen.longest_stall(faults_from, faults_until),
        &rd_seen,
        &acked[0],
    );
    rt.block_on(async {
        let _ = ferro_consumer.close().await;
        client.close().await;
    });
    for audit in &audits {
        assert!(
            audit.acked > 10_000,
            "every producer kept writing: {audits:?}"
        );
    }
    let clean = |a: &Audit| (a.lost, a.duplicated, a.reordered);
    assert_eq!(
        clean(&audits[0]),
        (0, 0, 0),
        "ferrokafka idempotent producer"
    );
    assert_eq!(
        clean(&audits[1]),
        (0, 0, 0),
        "librdkafka idempotent producer"
    );
    assert!(
        drained || ferro_seen.covers(&acked[0]),
        "ferrokafka reader drained"
    );
    assert_eq!(
        ferro_seen.lost(&acked[0]),
        0,
        "ferrokafka group reader lost records"
    );
    assert_eq!(
        rd_seen.lost(&acked[0]),
        0,
        "librdkafka group reader lost records"
    );
}

// ---------------------------------------------------------------------------------------------
// Fetch from the closest replica (KIP-392): brokers in racks rack-1..3 with the rack-aware
// replica selector (scripts/kafka-cluster.sh).
// ---------------------------------------------------------------------------------------------

/// Writes `count` records with ids from `first` to partition 0 of `topic` (acks=all).
async fn write_ids(bootstrap: &str, topic: &str, first: u64, count: u64) -> Vec<u64> {
    let producer = Producer::connect(ProducerConfig::new(bootstrap).expect("config"))
        .await
        .expect("producer");
    let mut deliveries = Vec::new();
    for id in first..first + count {
        let record = ProducerRecord::new(topic.to_owned())
            .partition(0)
            .value(format!("record-{id}"));
        deliveries.push((id, producer.send(record).await.expect("send")));
    }
    let mut acked = Vec::new();
    for (id, delivery) in deliveries {
        delivery.await.expect("delivered");
        acked.push(id);
    }
    producer.close().await.expect("close");
    acked
}

/// Polls `consumer` until `seen` covers `ids`, with a deadline.
async fn read_ids(consumer: &mut Consumer, seen: &Seen, ids: &[u64], what: &str) {
    let deadline = Instant::now() + Duration::from_secs(90);
    while !seen.covers(ids) {
        assert!(
            Instant::now() < deadline,
            "{what}: {} of {} records read",
            ids.len() - seen.lost(ids),
            ids.len()
        );
        seen.saw_records(
            &consumer
                .poll(Duration::from_millis(200))
                .await
                .expect("poll"),
        );
    }
}

/// A consumer in rack-2 reads a partition led by node 1 from node 2, the replica in its rack,
/// as the leader directs; when node 2 dies it reads from the leader again without losing a
/// record, and returns to node 2 once node 2 is back in sync. librdkafka with the same
/// `client.rack` reads the same partition; its statistics say which broker it fetches from.
#[test]
fn consumers_fetch_from_the_replica_in_their_rack() {
    let Some(cluster) = Cluster::find() else {
        return;
    };
    let _up = cluster.restart_on_drop();
    let rt = runtime();
    let bootstrap = cluster.bootstrap().to_owned();
    let topic = unique_topic("rack-fetch");
    let tp = TopicPartition::new(topic.clone(), 0);
    let start = Instant::now();
    let seen = Seen::new(start);
    let rd_seen = Seen::new(start);
    let stop: Stop = Stop::default();
    let (mut consumer, first) = rt.block_on(async {
        let client = Client::connect(failover::client_config(&bootstrap))
            .await
            .expect("connect");
        let created = client
            .create_topics(&[NewTopic::new(&topic).assignment(0, vec![1, 2, 3])])
            .await
            .expect("CreateTopics");
        for (name, result) in created {
            result.unwrap_or_else(|e| panic!("create {name}: {e}"));
        }
        client.close().await;
        let config = ConsumerConfig::builder()
            .client(failover::client_config(&bootstrap))
            .client_rack("rack-2")
            .auto_offset_reset(AutoOffsetReset::Earliest)
            .build()
            .expect("consumer config");
        let mut consumer = Consumer::new(config).await.expect("consumer");
        consumer.assign([tp.clone()]).expect("assign");
        let first = write_ids(&bootstrap, &topic, 0, 2_000).await;
        read_ids(&mut consumer, &seen, &first, "from the rack-2 replica").await;
        (consumer, first)
    });
    let rd = rdkafka_rack_reader(&bootstrap, &topic, "rack-2", rd_seen.clone(), stop.clone());
    assert!(
        wait_for(Duration::from_secs(60), || rd_seen.covers(&first)),
        "librdkafka read the first records"
    );
    let replica = consumer.preferred_read_replica(&tp);
    println!(
        "rack fetch: ferrokafka in rack-2 reads partition 0 (leader 1) from {replica:?}; \
         librdkafka from broker {}",
        rd.fetching_from()
    );
    assert_eq!(
        replica,
        Some(2),
        "ferrokafka fetches from the replica in its rack"
    );

    // The replica dies: back to the leader, nothing lost.
    rt.block_on(cluster.kill(2));
    let t = Instant::now();
    rt.block_on(async {
        let during = write_ids(&bootstrap, &topic, 2_000, 500).await;
        read_ids(
            &mut consumer,
            &seen,
            &during,
            "with the rack-2 replica down",
        )
        .await;
    });
    println!(
        "rack fetch: node 2 down, ferrokafka read the next 500 records {:?} after the kill \
         (replica now {:?})",
        t.elapsed(),
        consumer.preferred_read_replica(&tp)
    );
    assert_ne!(consumer.preferred_read_replica(&tp), Some(2));

    // It comes back: once in sync, the leader sends the consumer there again.
    rt.block_on(async {
        cluster.restart(2).await;
        cluster.wait_for_isr(&topic, 0, 2).await;
    });
    let t = Instant::now();
    let mut next = 2_500;
    rt.block_on(async {
        while consumer.preferred_read_replica(&tp) != Some(2) {
            assert!(
                t.elapsed() < Duration::from_secs(60),
                "ferrokafka did not return to the rack-2 replica"
            );
            let more = write_ids(&bootstrap, &topic, next, 50).await;
            next += 50;
            read_ids(&mut consumer, &seen, &more, "after node 2 returned").await;
        }
    });
    println!(
        "rack fetch: node 2 back in the ISR; ferrokafka fetches from it again after {:?}",
        t.elapsed()
    );
    let all: Vec<u64> = (0..next).collect();
    assert!(
        wait_for(Duration::from_secs(60), || rd_seen.covers(&all)),
        "librdkafka read everything"
    );
    println!(
        "rack fetch: librdkafka fetches from broker {} at the end; both read {} records, \
         ferrokafka duplicated {}, librdkafka {}",
        rd.fetching_from(),
        all.len(),
        seen.duplicated(),
        rd_seen.duplicated()
    );
    assert_eq!(seen.lost(&all), 0);
    assert_eq!(seen.duplicated(), 0);
    stop.store(true, Ordering::SeqCst);
    rd.join();
    rt.block_on(async {
        let _ = consumer.close().await;
    });
}

// ---------------------------------------------------------------------------------------------
// Leader epochs and truncation (KIP-320): an unclean election loses records a consumer read.
// ---------------------------------------------------------------------------------------------

/// A consumer of `topic` partition 0 from the beginning, with `reset`.
async fn partition_reader(bootstrap: &str, topic: &str, reset: AutoOffsetReset) -> Consumer {
    let config = ConsumerConfig::builder()
        .client(failover::client_config(bootstrap))
        .auto_offset_reset(reset)
        .build()
        .expect("consumer config");
    let mut consumer = Consumer::new(config).await.expect("consumer");
    let tp = TopicPartition::new(topic.to_owned(), 0);
    consumer.assign([tp.clone()]).expect("assign");
    consumer.seek(&tp, 0).expect("seek");
    consumer
}

/// Partition 0 lives on nodes 1 and 2 (`min.insync.replicas=1`,
/// `unclean.leader.election.enable=true`). Node 2 is stopped, node 1 takes 100 more records
/// alone, two consumers read all 200; then node 1 dies and node 2 comes back: the controller
/// makes it leader in an unclean election (the ElectLeaders call only makes sure of it), so
/// offsets 100..199 are gone. The consumers must notice the truncation through
/// the new leader epoch (OffsetForLeaderEpoch) rather than read on from a position past the
/// log's end: with `auto.offset.reset=none` the poll reports `LogTruncation` at the divergent
/// offset 100; with `earliest` the consumer goes on from offset 100 (the records written after
/// the election), not from the beginning. librdkafka (which implements KIP-320 too) reads the
/// same partition with `earliest`, and what it read again is printed.
#[test]
fn consumers_detect_log_truncation_after_an_unclean_election() {
    let Some(cluster) = Cluster::find() else {
        return;
    };
    let _up = cluster.restart_on_drop();
    let rt = runtime();
    let bootstrap = cluster.bootstrap().to_owned();
    let topic = unique_topic("truncation");
    let tp = TopicPartition::new(topic.clone(), 0);
    let start = Instant::now();
    let rd_seen = Seen::new(start);
    let stop: Stop = Stop::default();
    let (mut strict, mut lenient) = rt.block_on(async {
        let client = Client::connect(failover::client_config(&bootstrap))
            .await
            .expect("connect");
        let created = client
            .create_topics(&[NewTopic::new(&topic)
                .assignment(0, vec![1, 2])
                .config("min.insync.replicas", "1")
                .config("unclean.leader.election.enable", "true")])
            .await
            .expect("CreateTopics");
        for (name, result) in created {
            result.unwrap_or_else(|e| panic!("create {name}: {e}"));
        }
        client.close().await;
        write_ids(&bootstrap, &topic, 0, 100).await;
        cluster.kill(2).await;
        wait_until("node 2 out of the ISR", Duration::from_secs(60), || async {
            let p = cluster.partition(&topic, 0).await?;
            if p.isr == [1] {
                Ok(())
            } else {
                Err(format!("{p:?}"))
            }
        })
        .await;
        write_ids(&bootstrap, &topic, 100, 100).await;
        let mut strict = partition_reader(&bootstrap, &topic, AutoOffsetReset::None).await;
        let mut lenient = partition_reader(&bootstrap, &topic, AutoOffsetReset::Earliest).await;
        let all: Vec<u64> = (0..200).collect();
        for consumer in [&mut strict, &mut lenient] {
            let seen = Seen::new(start);
            read_ids(consumer, &seen, &all, "before the election").await;
            assert_eq!(consumer.position(&tp).await.expect("position"), 200);
        }
        (strict, lenient)
    });
    let rd = rdkafka_rack_reader(&bootstrap, &topic, "", rd_seen.clone(), stop.clone());
    let first: Vec<u64> = (0..200).collect();
    assert!(
        wait_for(Duration::from_secs(60), || rd_seen.covers(&first)),
        "librdkafka read the first 200"
    );
    let before = rd_seen.duplicated();

    rt.block_on(async {
        cluster.kill(1).await;
        cluster.restart(2).await;
        cluster.elect_unclean_leaders(&topic, &[0]).await;
        cluster.wait_for_leader(&topic, 0, 2).await;
    });
    let p = rt
        .block_on(cluster.partition(&topic, 0))
        .expect("partition");
    println!("truncation: node 2 leads partition 0 after an unclean election: {p:?}");
    let after: Vec<u64> = (1_000..1_010).collect();
    rt.block_on(write_ids(&bootstrap, &topic, 1_000, 10));

    rt.block_on(async {
        // auto.offset.reset=none: the truncation is the answer.
        let deadline = Instant::now() + Duration::from_secs(60);
        let err = loop {
            assert!(
                Instant::now() < deadline,
                "the strict consumer saw no truncation"
            );
            match strict.poll(Duration::from_millis(200)).await {
                Ok(records) => assert!(
                    records.is_empty(),
                    "records past a truncated position: {:?}",
                    records.iter().map(|r| r.offset).collect::<Vec<_>>()
                ),
                Err(err) => break err,
            }
        };
        println!("truncation: auto.offset.reset=none: {err}");
        match err {
            ferrokafka::Error::LogTruncation {
                offset,
                divergent_offset,
                ..
            } => {
                assert_eq!(offset, 200);
                assert_eq!(divergent_offset, Some(100));
            }
            other => panic!("expected LogTruncation, got {other}"),
        }
        // auto.offset.reset=earliest: on from the divergent offset, not from 0.
        let seen = Seen::new(start);
        read_ids(&mut lenient, &seen, &after, "after the election").await;
        println!(
            "truncation: auto.offset.reset=earliest went on at offset 100 and read {} records \
             (old ones again: {})",
            seen.distinct(),
            seen.distinct() - after.len()
        );
        assert_eq!(seen.distinct(), after.len(), "nothing read twice");
        assert_eq!(lenient.position(&tp).await.expect("position"), 110);
        let _ = strict.close().await;
        let _ = lenient.close().await;
    });
    assert!(
        wait_for(Duration::from_secs(60), || rd_seen.covers(&after)),
        "librdkafka read the records after the election"
    );
    println!(
        "truncation: librdkafka with earliest read {} records again after the election",
        rd_seen.duplicated() - before
    );
    stop.store(true, Ordering::SeqCst);
    rd.join();
    rt.block_on(cluster.restart(1));
}
