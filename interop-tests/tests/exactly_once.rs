//! Exactly-once with other clients, on every target. Our transactional producer's output is
//! read by librdkafka and Java `read_committed` consumers (committed transactions visible,
//! the aborted one not; read_uncommitted readers see all), and librdkafka's and Java's
//! transactional producers are read back by our `read_committed` and `read_uncommitted`
//! consumers with the same records and offsets as librdkafka reads. Then the crash test: an
//! `ExactlyOnce` pipeline SIGKILLed at random moments, at least 20 times, and restarted loses
//! and duplicates nothing (`crash::exactly_once`).

use std::time::{Duration, Instant};

use ferrokafka::consumer::TopicPartition;
use ferrokafka::{
    AutoOffsetReset, ClientConfig, Consumer, ConsumerConfig, IsolationLevel, ProducerConfig,
    ProducerRecord, TransactionalProducer,
};
use ferrokafka_interop_tests::peers::{java, rdkafka as rd};
use ferrokafka_interop_tests::record::{in_partition, records, three_transactions};
use ferrokafka_interop_tests::{scenario, unique_topic, Consumed, Target, TargetKind, TestRecord};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};

const WAIT: Duration = Duration::from_secs(30);
const PARTITIONS: i32 = 2;
const COMMITTED: &[(&str, &str)] = &[("isolation.level", "read_committed")];
const UNCOMMITTED: &[(&str, &str)] = &[("isolation.level", "read_uncommitted")];

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn to_producer_record(topic: &str, r: &TestRecord) -> ProducerRecord {
    let mut out = ProducerRecord::new(topic.to_owned()).partition(r.partition);
    if let Some(k) = &r.key {
        out = out.key(k.clone());
    }
    if let Some(v) = &r.value {
        out = out.value(v.clone());
    }
    if let Some(ts) = r.timestamp {
        out = out.timestamp(ts);
    }
    for (k, v) in &r.headers {
        out = match v {
            Some(v) => out.header(k.clone(), v.clone()),
            None => out.null_header(k.clone()),
        };
    }
    out
}

/// Our transactional producer writes the three transactions, the middle one aborted.
fn ours_write(t: &Target, topic: &str, parts: &[Vec<TestRecord>]) {
    runtime().block_on(async {
        let mut config = ProducerConfig::new(&t.bootstrap).unwrap();
        config
            .set("transactional.id", &unique_topic("ours-txn-id"))
            .unwrap();
        let mut producer = TransactionalProducer::connect(config).await.unwrap();
        producer.init_transactions().await.unwrap();
        // Kafka 4.x and the mini-broker finalize transaction.version 2 (KIP-890): every
        // EndTxn moves the epoch.
        let v2 = producer.transaction_version_2();
        assert!(v2, "{:?} states transaction version 2", t.kind);
        for (i, part) in parts.iter().enumerate() {
            let (_, before) = producer.producer_id_and_epoch().unwrap();
            let mut txn = producer.begin().await.unwrap();
            for r in part {
                txn.send(to_producer_record(topic, r)).await.unwrap();
            }
            if i == 1 {
                // In the log before the abort, for the read_uncommitted readers.
                txn.flush().await.unwrap();
                txn.abort().await.unwrap();
            } else {
                txn.commit().await.unwrap();
            }
            let (_, after) = producer.producer_id_and_epoch().unwrap();
            let expected = if v2 { before + 1 } else { before };
            assert_eq!(
                after, expected,
                "epoch after transaction {i} (version 2: {v2})"
            );
        }
        producer.close().await.unwrap();
    });
}

/// Our consumer reads `count` records of `partition` at `level` (and nothing more shows up
/// within a short look for read_committed, where the aborted records must stay hidden).
fn ours_read(
    t: &Target,
    topic: &str,
    partition: i32,
    count: usize,
    level: IsolationLevel,
) -> Vec<Consumed> {
    runtime().block_on(async {
        let mut c = Consumer::new(
            ConsumerConfig::builder()
                .client(ClientConfig::new(&t.bootstrap).unwrap())
                .isolation_level(level)
                .auto_offset_reset(AutoOffsetReset::Earliest)
                .fetch_max_wait(Duration::from_millis(100))
                .build()
                .unwrap(),
        )
        .await
        .unwrap();
        let tp = TopicPartition::new(topic, partition);
        c.assign([tp.clone()]).unwrap();
        let deadline = Instant::now() + WAIT;
        let mut out = Vec::new();
        while out.len() < count {
            assert!(Instant::now() < deadline, "read {} of {count}", out.len());
            for r in c.poll(Duration::from_millis(200)).await.unwrap() {
                out.push(Consumed {
                    offset: r.offset,
                    record: TestRecord {
                        partition: r.partition,
                        timestamp: Some(r.timestamp),
                        key: r.key.map(|k| k.to_vec()),
                        value: r.value.map(|v| v.to_vec()),
                        headers: r
                            .headers
                            .into_iter()
                            .map(|h| (h.key, h.value.map(|v| v.to_vec())))
                            .collect(),
                    },
                });
            }
        }
        // Past the last commit marker: nothing more, and the position is at the end.
        assert!(c.poll(Duration::from_millis(200)).await.unwrap().is_empty());
        assert_eq!(c.lag(&tp), Some(0), "{level:?} position at the end");
        out
    })
}

/// Every reader, on every partition: read_committed sees `committed`, read_uncommitted `all`;
/// offsets agree between readers.
fn check_reads(t: &Target, topic: &str, committed: &[TestRecord], all: &[TestRecord], who: &str) {
    for p in 0..PARTITIONS {
        let want = in_partition(committed, p);
        let every = in_partition(all, p);
        let rd_got = rd::consume(&t.bootstrap, topic, p, 0, want.len(), WAIT, COMMITTED);
        assert_eq!(records(&rd_got), want, "{who}: rdkafka read_committed p{p}");
        let offsets: Vec<i64> = rd_got.iter().map(|c| c.offset).collect();
        let got = rd::consume(&t.bootstrap, topic, p, 0, every.len(), WAIT, UNCOMMITTED);
        assert_eq!(records(&got), every, "{who}: rdkafka read_uncommitted p{p}");

        let ours = ours_read(t, topic, p, want.len(), IsolationLevel::ReadCommitted);
        assert_eq!(
            records(&ours),
            want,
            "{who}: ferrokafka read_committed p{p}"
        );
        let our_offsets: Vec<i64> = ours.iter().map(|c| c.offset).collect();
        assert_eq!(our_offsets, offsets, "{who}: same offsets as rdkafka p{p}");
        let ours = ours_read(t, topic, p, every.len(), IsolationLevel::ReadUncommitted);
        assert_eq!(
            records(&ours),
            every,
            "{who}: ferrokafka read_uncommitted p{p}"
        );

        if java::available() {
            let got = java::consume(&t.bootstrap, topic, p, 0, want.len(), COMMITTED);
            assert_eq!(records(&got), want, "{who}: java read_committed p{p}");
            let java_offsets: Vec<i64> = got.iter().map(|c| c.offset).collect();
            assert_eq!(java_offsets, offsets, "{who}: java offsets p{p}");
        }
    }
}

scenario!(our_transactions_read_by_every_client, |t: &Target| {
    let topic = unique_topic("ours-txn");
    rd::admin::create_topic(&t.bootstrap, &topic, PARTITIONS, &[]).expect("create topic");
    let (parts, committed, all) = three_transactions(PARTITIONS);
    ours_write(t, &topic, &parts);
    check_reads(t, &topic, &committed, &all, "ferrokafka transactions");
});

scenario!(rdkafka_transactions_read_by_ours, |t: &Target| {
    let topic = unique_topic("rd-txn-ours");
    rd::admin::create_topic(&t.bootstrap, &topic, PARTITIONS, &[]).expect("create topic");
    let (parts, committed, all) = three_transactions(PARTITIONS);
    let producer: BaseProducer = rdkafka::config::ClientConfig::new()
        .set("bootstrap.servers", &t.bootstrap)
        .set("transactional.id", unique_topic("rd-txn-id"))
        .set("linger.ms", "0")
        .set("log_level", "4")
        .create()
        .expect("rdkafka transactional producer");
    producer.init_transactions(WAIT).expect("init_transactions");
    for (i, part) in parts.iter().enumerate() {
        producer.begin_transaction().expect("begin");
        for r in part {
            let mut rec: BaseRecord<'_, [u8], [u8]> = BaseRecord::to(&topic).partition(r.partition);
            let mut headers = rdkafka::message::OwnedHeaders::new();
            for (k, v) in &r.headers {
                headers = headers.insert(rdkafka::message::Header {
                    key: k,
                    value: v.as_deref(),
                });
            }
            rec = rec.headers(headers);
            if let Some(k) = &r.key {
                rec = rec.key(k.as_slice());
            }
            if let Some(v) = &r.value {
                rec = rec.payload(v.as_slice());
            }
            if let Some(ts) = r.timestamp {
                rec = rec.timestamp(ts);
            }
            producer.send(rec).map_err(|(e, _)| e).expect("enqueue");
        }
        producer.flush(WAIT).expect("flush");
        if i == 1 {
            producer.abort_transaction(WAIT).expect("abort");
        } else {
            producer.commit_transaction(WAIT).expect("commit");
        }
    }
    drop(producer);
    check_reads(t, &topic, &committed, &all, "rdkafka transactions");
});

scenario!(java_transactions_read_by_ours, |t: &Target| {
    if !java::available() {
        return;
    }
    let topic = unique_topic("java-txn-ours");
    rd::admin::create_topic(&t.bootstrap, &topic, PARTITIONS, &[]).expect("create topic");
    let (parts, committed, all) = three_transactions(PARTITIONS);
    let id = unique_topic("java-txn-id");
    for (i, part) in parts.iter().enumerate() {
        let mut settings = vec![("transactional.id", id.as_str()), ("linger.ms", "0")];
        if i == 1 {
            settings.push(("peer.abort", "true"));
        }
        java::produce(&t.bootstrap, &topic, part, &settings);
    }
    check_reads(t, &topic, &committed, &all, "java transactions");
});

// The exactly-once pipeline SIGKILLed 20 times at random moments and restarted: a
// read_committed reader of its output sees exactly one output per input.
scenario!(
    sigkilled_exactly_once_pipeline_loses_and_duplicates_nothing,
    |t: &Target| {
        use ferrokafka_interop_tests::crash::exactly_once::{run, Options};
        let real = t.kind == TargetKind::RealKafka;
        let report = run(&Options {
            worker: env!("CARGO_BIN_EXE_eos-pipeline").into(),
            bootstrap: t.bootstrap.clone(),
            name: unique_topic("eos-crash"),
            records: if real { 3_000 } else { 6_000 },
            kills: 20,
            // Kafka takes longer to hand a restarted member its partitions.
            life_ms: if real { (300, 2_000) } else { (50, 800) },
            seed: 21,
            budget: Duration::from_secs(100),
            victim: ferrokafka_interop_tests::crash::Victim::Worker,
        })
        .unwrap_or_else(|e| panic!("{:?}: {e}", t.kind));
        eprintln!("{:?}: {report:?}", t.kind);
        assert_eq!(report.lost, 0, "{report:?}");
        assert_eq!(report.duplicated, 0, "{report:?}");
        assert_eq!(report.outputs, report.records, "{report:?}");
    }
);
