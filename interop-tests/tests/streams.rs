//! Kafka Streams against every target: a word count (repartition topic, changelog-backed
//! store, `processing.guarantee=exactly_once_v2`; interop-tests/java/KafkaPeer.java, mode
//! `streams`) must count right, its repartition topic must get purged (DeleteRecords), and
//! a restarted instance must restore its store from the changelog and go on counting.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use ferrokafka_interop_tests::peers::java_streams::StreamsApp;
use ferrokafka_interop_tests::peers::{java, rdkafka as rd};
use ferrokafka_interop_tests::{scenario, unique_topic, Target, TestRecord};

const WORDS: [&str; 7] = [
    "kafka", "streams", "rust", "broker", "log", "offset", "topic",
];
const PARTITIONS: i32 = 2;

/// `count` lines of words from [`WORDS`] (line `i` of round `round`), and how often each
/// word occurs in them, added to `counts`.
fn lines(round: usize, count: usize, counts: &mut BTreeMap<String, i64>) -> Vec<TestRecord> {
    (0..count)
        .map(|i| {
            let n = round * count + i;
            let words: Vec<&str> = (0..1 + n % 4).map(|j| WORDS[(n + 3 * j) % 7]).collect();
            for w in &words {
                *counts.entry((*w).to_owned()).or_default() += 1;
            }
            TestRecord {
                partition: (n % 2) as i32,
                timestamp: None,
                key: None,
                value: Some(words.join(" ").to_uppercase().into_bytes()),
                headers: Vec::new(),
            }
        })
        .collect()
}

/// Every committed record of `topic` by key, in offset order per partition.
fn committed_by_key(t: &Target, topic: &str) -> BTreeMap<String, Vec<Vec<u8>>> {
    let mut out: BTreeMap<String, Vec<Vec<u8>>> = BTreeMap::new();
    for p in 0..PARTITIONS {
        let records = rd::read_all(
            &t.bootstrap,
            topic,
            p,
            Duration::from_secs(30),
            &[("isolation.level", "read_committed")],
        );
        for c in records {
            let key = String::from_utf8(c.record.key.expect("keyed")).expect("utf-8 key");
            out.entry(key)
                .or_default()
                .push(c.record.value.expect("a value"));
        }
    }
    out
}

/// Waits (up to 180 s) until the output's latest count of every word is `expected`; returns
/// every count each word went through.
fn wait_for_counts(
    t: &Target,
    app: &mut StreamsApp,
    output: &str,
    expected: &BTreeMap<String, i64>,
) -> BTreeMap<String, Vec<i64>> {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let counts: BTreeMap<String, Vec<i64>> = committed_by_key(t, output)
            .into_iter()
            .map(|(word, values)| {
                let counts = values
                    .iter()
                    .map(|v| String::from_utf8_lossy(v).parse().expect("a decimal count"))
                    .collect();
                (word, counts)
            })
            .collect();
        let latest: BTreeMap<String, i64> = counts
            .iter()
            .filter_map(|(w, c)| Some((w.clone(), *c.last()?)))
            .collect();
        if &latest == expected {
            return counts;
        }
        assert!(
            Instant::now() < deadline,
            "{:?}: counts {latest:?}, expected {expected:?}; states {:?}",
            t.kind,
            app.states()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

scenario!(word_count_exactly_once_v2, |t: &Target| {
    if !java::available() {
        return;
    }
    let app_id = unique_topic("wordcount");
    let (input, output) = (format!("{app_id}-in"), format!("{app_id}-out"));
    for topic in [&input, &output] {
        rd::admin::create_topic(&t.bootstrap, topic, PARTITIONS, &[]).expect("create");
    }
    let mut expected = BTreeMap::new();
    rd::produce(&t.bootstrap, &input, &lines(0, 300, &mut expected), &[]);

    let mut app = StreamsApp::start(&t.bootstrap, &app_id, &input, &output, &[]);
    let counts = wait_for_counts(t, &mut app, &output, &expected);
    // Exactly once: each word's counts only ever go up, never repeat.
    for (word, c) in &counts {
        assert!(
            c.windows(2).all(|w| w[0] < w[1]),
            "{:?}: {word} counted {c:?}",
            t.kind
        );
    }

    // The repartition topic is purged up to what the application committed: everything but,
    // at most, the last transaction marker.
    let repartition = format!("{app_id}-words-repartition");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let marks: Vec<(i64, i64)> = (0..PARTITIONS)
            .map(|p| rd::watermarks(&t.bootstrap, &repartition, p))
            .collect();
        if marks.iter().all(|(lo, hi)| *lo > 0 && hi - lo <= 1) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{:?}: repartition topic not purged: {marks:?}",
            t.kind
        );
        std::thread::sleep(Duration::from_millis(500));
    }

    // The store's changelog is compacted and holds every word's count.
    let changelog = format!("{app_id}-counts-changelog");
    let configs = rd::admin::describe_topic_configs(&t.bootstrap, &changelog);
    let policy = configs
        .iter()
        .find(|(name, _, _)| name == "cleanup.policy")
        .and_then(|(_, value, _)| value.clone());
    assert_eq!(policy.as_deref(), Some("compact"));
    let stored: BTreeMap<String, i64> = committed_by_key(t, &changelog)
        .into_iter()
        .map(|(word, values)| {
            let last = values.last().expect("a value");
            let bytes: [u8; 8] = last.as_slice().try_into().expect("a long");
            (word, i64::from_be_bytes(bytes))
        })
        .collect();
    assert_eq!(stored, expected);
    let states = app.stop(Duration::from_secs(60));
    assert!(states.iter().any(|s| s == "RUNNING"), "{states:?}");

    // A new instance restores the counts from the changelog and goes on from them.
    rd::produce(&t.bootstrap, &input, &lines(1, 100, &mut expected), &[]);
    let mut again = StreamsApp::start(&t.bootstrap, &app_id, &input, &output, &[]);
    wait_for_counts(t, &mut again, &output, &expected);
    again.stop(Duration::from_secs(60));
});
