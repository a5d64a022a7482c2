//! librdkafka through the `rdkafka` crate: a `BaseProducer` and a `BaseConsumer` with manual
//! assignment (no group), both blocking with bounded waits.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{BorrowedMessage, Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use std::sync::{Arc, Mutex};

use super::{Delivered, Settings};
use crate::record::{Consumed, TestRecord};

/// One delivery report: the record's index and where it landed, or librdkafka's error.
type Report = (usize, Result<Delivered, String>);

/// Collects delivery reports, in the order they arrive.
#[derive(Default, Clone)]
struct Reports(Arc<Mutex<Vec<Report>>>);

impl ClientContext for Reports {}

impl ProducerContext for Reports {
    type DeliveryOpaque = Box<usize>;

    fn delivery(&self, result: &DeliveryResult<'_>, index: Self::DeliveryOpaque) {
        let outcome = match result {
            Ok(m) => Ok((m.partition(), m.offset())),
            Err((e, _)) => Err(e.to_string()),
        };
        self.0.lock().expect("reports").push((*index, outcome));
    }
}

fn config(bootstrap: &str, settings: Settings) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", bootstrap).set("log_level", "4");
    for (k, v) in settings {
        c.set(*k, *v);
    }
    c
}

/// Produces `records` and returns where each landed, in input order.
pub fn produce(
    bootstrap: &str,
    topic: &str,
    records: &[TestRecord],
    settings: Settings,
) -> Vec<Delivered> {
    try_produce(bootstrap, topic, records, settings)
        .into_iter()
        .enumerate()
        .map(|(i, r)| r.unwrap_or_else(|e| panic!("rdkafka delivery of record {i} failed: {e}")))
        .collect()
}

/// Like [`produce`], but a failed delivery is returned (librdkafka's error text) rather than
/// failing the test.
pub fn try_produce(
    bootstrap: &str,
    topic: &str,
    records: &[TestRecord],
    settings: Settings,
) -> Vec<Result<Delivered, String>> {
    let reports = Reports::default();
    let producer: BaseProducer<Reports> = config(bootstrap, settings)
        .create_with_context(reports.clone())
        .expect("rdkafka producer");
    for (i, r) in records.iter().enumerate() {
        let mut headers = OwnedHeaders::new();
        for (k, v) in &r.headers {
            headers = headers.insert(Header {
                key: k,
                value: v.as_deref(),
            });
        }
        let mut rec: BaseRecord<'_, [u8], [u8], Box<usize>> =
            BaseRecord::with_opaque_to(topic, Box::new(i))
                .partition(r.partition)
                .headers(headers);
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
        producer.poll(Duration::ZERO);
    }
    producer
        .flush(Duration::from_secs(30))
        .expect("rdkafka flush");
    let mut out = reports.0.lock().expect("reports").clone();
    assert_eq!(out.len(), records.len(), "missing delivery reports");
    out.sort_by_key(|(i, _)| *i);
    out.into_iter().map(|(_, r)| r).collect()
}

/// Produces `per_partition` records with `acks=all` to each of `partitions` partitions, values
/// `round-p-i`; returns the values by `(partition, offset)`.
pub fn produce_round(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
    round: &str,
    per_partition: usize,
) -> BTreeMap<(i32, i64), Vec<u8>> {
    let records: Vec<TestRecord> = (0..partitions)
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
    let delivered = produce(bootstrap, topic, &records, &[("acks", "all")]);
    delivered
        .into_iter()
        .zip(records)
        .map(|(at, r)| (at, r.value.unwrap_or_default()))
        .collect()
}

/// Reads `count` records from `partition` starting at `offset`, within `timeout`.
pub fn consume(
    bootstrap: &str,
    topic: &str,
    partition: i32,
    offset: i64,
    count: usize,
    timeout: Duration,
    settings: Settings,
) -> Vec<Consumed> {
    let consumer: BaseConsumer = config(bootstrap, settings)
        // librdkafka wants a group id even for manual assignment; nothing is committed.
        .set("group.id", "ferrokafka-interop-assign")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false")
        .create()
        .expect("rdkafka consumer");
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, partition, Offset::Offset(offset))
        .expect("tpl");
    consumer.assign(&tpl).expect("assign");
    let deadline = Instant::now() + timeout;
    let mut out = Vec::new();
    while out.len() < count {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(
            !left.is_zero(),
            "rdkafka read {} of {count} records before the timeout",
            out.len()
        );
        match consumer.poll(left.min(Duration::from_millis(500))) {
            Some(Ok(m)) => out.push(convert(&m)),
            Some(Err(e)) => panic!("rdkafka consume error: {e}"),
            None => {}
        }
    }
    out
}

/// Reads `partition` from its earliest offset up to the end (librdkafka's partition EOF),
/// within `timeout`: everything the log holds, gaps (compaction) and all. `settings` go to
/// the consumer (`isolation.level`, ...).
pub fn read_all(
    bootstrap: &str,
    topic: &str,
    partition: i32,
    timeout: Duration,
    settings: Settings,
) -> Vec<Consumed> {
    let consumer: BaseConsumer = config(bootstrap, settings)
        .set("group.id", "ferrokafka-interop-assign")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true")
        .create()
        .expect("rdkafka consumer");
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, partition, Offset::Beginning)
        .expect("tpl");
    consumer.assign(&tpl).expect("assign");
    let deadline = Instant::now() + timeout;
    let mut out = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(
            !left.is_zero(),
            "rdkafka did not reach the end of {topic}-{partition} in {timeout:?}"
        );
        match consumer.poll(left.min(Duration::from_millis(500))) {
            Some(Ok(m)) => out.push(convert(&m)),
            Some(Err(rdkafka::error::KafkaError::PartitionEOF(_))) => return out,
            Some(Err(e)) => panic!("rdkafka consume error: {e}"),
            None => {}
        }
    }
}

fn convert(m: &BorrowedMessage<'_>) -> Consumed {
    let headers = m
        .headers()
        .map(|h| {
            h.iter()
                .map(|h| (h.key.to_owned(), h.value.map(<[u8]>::to_vec)))
                .collect()
        })
        .unwrap_or_default();
    Consumed {
        offset: m.offset(),
        record: TestRecord {
            partition: m.partition(),
            timestamp: m.timestamp().to_millis(),
            key: m.key().map(<[u8]>::to_vec),
            value: m.payload().map(<[u8]>::to_vec),
            headers,
        },
    }
}

/// The earliest and latest offsets of a partition.
pub fn watermarks(bootstrap: &str, topic: &str, partition: i32) -> (i64, i64) {
    let consumer: BaseConsumer = config(bootstrap, &[]).create().expect("rdkafka consumer");
    consumer
        .fetch_watermarks(topic, partition, Duration::from_secs(10))
        .expect("watermarks")
}

/// Admin operations through librdkafka's admin client.
pub mod admin {
    use std::time::{Duration, Instant};

    use rdkafka::admin::{
        AdminClient, AdminOptions, NewPartitions, NewTopic, ResourceSpecifier, TopicReplication,
    };
    use rdkafka::client::DefaultClientContext;
    use rdkafka::config::ClientConfig;
    use rdkafka::consumer::{BaseConsumer, Consumer};

    fn client(bootstrap: &str) -> AdminClient<DefaultClientContext> {
        ClientConfig::new()
            .set("bootstrap.servers", bootstrap)
            .create()
            .expect("admin client")
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("rt")
            .block_on(f)
    }

    fn opts() -> AdminOptions {
        AdminOptions::new().operation_timeout(Some(Duration::from_secs(20)))
    }

    /// Creates a topic and waits until every partition answers on its leader (a real broker
    /// acknowledges creation before the partitions are loaded); `Err` holds librdkafka's text.
    pub fn create_topic(
        bootstrap: &str,
        name: &str,
        partitions: i32,
        configs: &[(&str, &str)],
    ) -> Result<(), String> {
        let mut topic = NewTopic::new(name, partitions, TopicReplication::Fixed(1));
        for (k, v) in configs {
            topic = topic.set(k, v);
        }
        let res =
            block_on(client(bootstrap).create_topics([&topic], &opts())).expect("create_topics");
        res.into_iter()
            .next()
            .expect("one result")
            .map(drop)
            .map_err(|(_, e)| format!("{e:?}"))?;
        let consumer: BaseConsumer = super::config(bootstrap, &[]).create().expect("consumer");
        let deadline = Instant::now() + Duration::from_secs(30);
        for p in 0..partitions {
            while consumer
                .fetch_watermarks(name, p, Duration::from_secs(5))
                .is_err()
            {
                assert!(
                    Instant::now() < deadline,
                    "partition {p} of {name} never became ready"
                );
            }
        }
        Ok(())
    }

    /// Grows a topic to `total` partitions.
    pub fn create_partitions(bootstrap: &str, name: &str, total: usize) -> Result<(), String> {
        let np = NewPartitions::new(name, total);
        let res = block_on(client(bootstrap).create_partitions([&np], &opts()))
            .expect("create_partitions");
        res.into_iter()
            .next()
            .expect("one result")
            .map(drop)
            .map_err(|(_, e)| format!("{e:?}"))
    }

    /// Deletes a topic.
    pub fn delete_topic(bootstrap: &str, name: &str) -> Result<(), String> {
        let res =
            block_on(client(bootstrap).delete_topics(&[name], &opts())).expect("delete_topics");
        res.into_iter()
            .next()
            .expect("one result")
            .map(drop)
            .map_err(|(_, e)| format!("{e:?}"))
    }

    /// librdkafka's DeleteRecords: for each `(partition, offset)` of `topic` (offset `None`:
    /// up to the high watermark), the new low watermark or the error's text; `Err` when the
    /// request as a whole failed (librdkafka finds no leader for an unknown partition).
    #[allow(clippy::type_complexity)]
    pub fn delete_records(
        bootstrap: &str,
        topic: &str,
        offsets: &[(i32, Option<i64>)],
    ) -> Result<Vec<(i32, Result<i64, String>)>, String> {
        let mut tpl = rdkafka::TopicPartitionList::new();
        for (p, offset) in offsets {
            let offset = offset.map_or(rdkafka::Offset::End, rdkafka::Offset::Offset);
            tpl.add_partition_offset(topic, *p, offset).expect("tpl");
        }
        let out = block_on(client(bootstrap).delete_records(&tpl, &opts()))
            .map_err(|e| format!("{e:?}"))?;
        Ok(offsets
            .iter()
            .map(|(p, _)| {
                let e = out.find_partition(topic, *p).expect("partition in answer");
                let result = match e.error() {
                    Ok(()) => match e.offset() {
                        rdkafka::Offset::Offset(o) => Ok(o),
                        other => Err(format!("no low watermark: {other:?}")),
                    },
                    Err(err) => Err(format!("{err:?}")),
                };
                (*p, result)
            })
            .collect())
    }

    /// librdkafka's AlterConfigs (the legacy API: the given keys replace every key set on
    /// the topic); `Err` holds the error code's name.
    pub fn alter_topic_configs(
        bootstrap: &str,
        name: &str,
        configs: &[(&str, &str)],
    ) -> Result<(), String> {
        let mut change = rdkafka::admin::AlterConfig::new(ResourceSpecifier::Topic(name));
        for (k, v) in configs {
            change = change.set(k, v);
        }
        let res =
            block_on(client(bootstrap).alter_configs([&change], &opts())).expect("alter_configs");
        res.into_iter()
            .next()
            .expect("one result")
            .map(drop)
            .map_err(|(_, e)| format!("{e:?}"))
    }

    /// librdkafka's DeleteGroups for one group; `Err` holds the error code's name.
    pub fn delete_group(bootstrap: &str, group: &str) -> Result<(), String> {
        let res =
            block_on(client(bootstrap).delete_groups(&[group], &opts())).expect("delete_groups");
        res.into_iter()
            .next()
            .expect("one result")
            .map(drop)
            .map_err(|(_, e)| format!("{e:?}"))
    }

    /// A topic's configs as `(name, value, is_default)`.
    pub fn describe_topic_configs(
        bootstrap: &str,
        name: &str,
    ) -> Vec<(String, Option<String>, bool)> {
        let spec = ResourceSpecifier::Topic(name);
        let res = block_on(client(bootstrap).describe_configs([&spec], &opts()))
            .expect("describe_configs");
        let resource = res
            .into_iter()
            .next()
            .expect("one result")
            .expect("describe ok");
        resource
            .entries
            .into_iter()
            .map(|e| (e.name, e.value, e.is_default))
            .collect()
    }
}

/// The number of partitions librdkafka sees for `topic` (`None` if the topic is unknown).
pub fn partition_count(bootstrap: &str, topic: &str) -> Option<usize> {
    let consumer: BaseConsumer = config(bootstrap, &[]).create().expect("rdkafka consumer");
    let md = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .ok()?;
    let t = md.topics().iter().find(|t| t.name() == topic)?;
    (t.error().is_none()).then(|| t.partitions().len())
}

/// librdkafka's `offsets_for_times` for one partition: the first offset at or after `ts`.
pub fn offset_for_time(bootstrap: &str, topic: &str, partition: i32, ts: i64) -> Offset {
    let consumer: BaseConsumer = config(bootstrap, &[]).create().expect("rdkafka consumer");
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, partition, Offset::Offset(ts))
        .expect("tpl");
    let out = consumer
        .offsets_for_times(tpl, Duration::from_secs(10))
        .expect("offsets_for_times");
    out.find_partition(topic, partition)
        .expect("partition in answer")
        .offset()
}

/// Reads one record and returns librdkafka's view of its timestamp (type and value).
pub fn first_timestamp(bootstrap: &str, topic: &str) -> rdkafka::Timestamp {
    let consumer: BaseConsumer = config(bootstrap, &[])
        .set("group.id", "ferrokafka-interop-assign")
        .set("enable.auto.commit", "false")
        .create()
        .expect("rdkafka consumer");
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, Offset::Beginning)
        .expect("tpl");
    consumer.assign(&tpl).expect("assign");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        assert!(Instant::now() < deadline, "no record within 30 s");
        match consumer.poll(Duration::from_millis(500)) {
            Some(Ok(m)) => return m.timestamp(),
            Some(Err(e)) => panic!("rdkafka consume error: {e}"),
            None => {}
        }
    }
}
