//! The consumer without a group, against the in-process mini-broker: assignment, positions,
//! seeks, lag, resets per `auto.offset.reset`, compressed, cut, control and corrupt batches,
//! pause/resume, the three ways to receive, and cancellation.

mod consumer_support;

use std::collections::BTreeSet;
use std::time::Duration;

use consumer_support::*;
use ferrokafka::consumer::TopicPartition;
use ferrokafka::{AutoOffsetReset, Consumer, ConsumerRecord, Error};
use ferrokafka_mini_broker::{ApiKey, When};
use ferrokafka_protocol::record::{control_batch, Compression, ControlRecordType, EndTxnMarker};
use futures::StreamExt;
use tokio::time::timeout;

fn tp(topic: &str, partition: i32) -> TopicPartition {
    TopicPartition::new(topic, partition)
}

fn value(r: &ConsumerRecord) -> String {
    String::from_utf8(r.value.clone().expect("value").to_vec()).expect("utf-8")
}

async fn recv_n(consumer: &mut Consumer, n: usize) -> Vec<ConsumerRecord> {
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let r = timeout(DEADLINE, consumer.recv())
            .await
            .unwrap_or_else(|_| panic!("only {} of {n} records arrived", out.len()))
            .expect("recv");
        out.push(r);
    }
    out
}

#[tokio::test]
async fn assign_seek_position_and_lag() {
    let broker = broker(3).await;
    let client = client(&broker.bootstrap()).await;
    create_topic(&client, "events", 3).await;
    produce_values(&client, "events", 1, &values("a", 10), 4).await;
    produce_values(&client, "events", 2, &values("b", 3), 3).await;

    let config = config(&broker.bootstrap())
        .auto_offset_reset(AutoOffsetReset::Earliest)
        .build()
        .unwrap();
    let mut consumer = Consumer::new(config).await.unwrap();
    consumer.assign([tp("events", 1)]).unwrap();
    assert_eq!(consumer.assignment(), [tp("events", 1)]);
    assert_eq!(consumer.position(&tp("events", 1)).await.unwrap(), 0);

    let got = recv_n(&mut consumer, 10).await;
    assert_eq!(
        got.iter().map(|r| r.offset).collect::<Vec<_>>(),
        (0..10).collect::<Vec<_>>()
    );
    assert_eq!(got.iter().map(value).collect::<Vec<_>>(), values("a", 10));
    assert!(got
        .iter()
        .all(|r| &*r.topic == "events" && r.partition == 1));
    assert_eq!(consumer.position(&tp("events", 1)).await.unwrap(), 10);
    assert_eq!(consumer.lag(&tp("events", 1)), Some(0));
    assert_eq!(consumer.high_watermark(&tp("events", 1)), Some(10));

    // Seek back: the next record is offset 4, and the lag follows the position.
    consumer.seek(&tp("events", 1), 4).unwrap();
    assert_eq!(consumer.position(&tp("events", 1)).await.unwrap(), 4);
    let r = recv_n(&mut consumer, 1).await.remove(0);
    assert_eq!((r.offset, value(&r)), (4, "a-4".to_owned()));
    assert_eq!(consumer.lag(&tp("events", 1)), Some(5));

    // A second partition joins; the first keeps its position.
    consumer.assign([tp("events", 1), tp("events", 2)]).unwrap();
    assert_eq!(consumer.position(&tp("events", 1)).await.unwrap(), 5);
    let got = recv_n(&mut consumer, 8).await;
    let mut by_partition: Vec<(i32, i64)> = got.iter().map(|r| (r.partition, r.offset)).collect();
    by_partition.sort();
    let expected: Vec<(i32, i64)> = (5..10)
        .map(|o| (1, o))
        .chain((0..3).map(|o| (2, o)))
        .collect();
    assert_eq!(by_partition, expected);

    // Calls on partitions not assigned name them.
    let err = consumer.seek(&tp("events", 0), 0).unwrap_err();
    assert!(err.to_string().contains("events-0"), "{err}");
    consumer.close().await.unwrap();
    broker.shutdown().await;
}

#[tokio::test]
async fn offset_out_of_range_follows_each_reset_policy() {
    let broker = broker(1).await;
    let client = client(&broker.bootstrap()).await;
    create_topic(&client, "oor", 1).await;
    produce_values(&client, "oor", 0, &values("v", 5), 5).await;
    let t0 = tp("oor", 0);

    // earliest: back to the start of the log.
    let mut c = Consumer::new(
        config(&broker.bootstrap())
            .auto_offset_reset(AutoOffsetReset::Earliest)
            .build()
            .unwrap(),
    )
    .await
    .unwrap();
    c.assign([t0.clone()]).unwrap();
    c.seek(&t0, 100).unwrap();
    assert_eq!(recv_n(&mut c, 1).await[0].offset, 0);
    c.close().await.unwrap();

    // latest: to the end; the next record written is the next one read.
    let mut c = Consumer::new(
        config(&broker.bootstrap())
            .auto_offset_reset(AutoOffsetReset::Latest)
            .build()
            .unwrap(),
    )
    .await
    .unwrap();
    c.assign([t0.clone()]).unwrap();
    c.seek(&t0, 100).unwrap();
    assert!(c.poll(Duration::from_millis(300)).await.unwrap().is_empty());
    assert_eq!(c.position(&t0).await.unwrap(), 5);
    produce_values(&client, "oor", 0, &values("late", 1), 1).await;
    let r = recv_n(&mut c, 1).await.remove(0);
    assert_eq!((r.offset, value(&r)), (5, "late-0".to_owned()));
    c.close().await.unwrap();

    // none: an error naming the partition and the offset; a seek resumes.
    let mut c = Consumer::new(
        config(&broker.bootstrap())
            .auto_offset_reset(AutoOffsetReset::None)
            .build()
            .unwrap(),
    )
    .await
    .unwrap();
    c.assign([t0.clone()]).unwrap();
    // Without a committed offset (no group) `none` has nowhere to start.
    let err = timeout(DEADLINE, c.recv()).await.unwrap().unwrap_err();
    assert!(
        matches!(&err, Error::NoOffset { topic, partition: 0 } if topic == "oor"),
        "{err}"
    );
    c.seek(&t0, 100).unwrap();
    let err = timeout(DEADLINE, c.recv()).await.unwrap().unwrap_err();
    assert!(
        matches!(&err, Error::OffsetOutOfRange { topic, partition: 0, offset: 100 } if topic == "oor"),
        "{err}"
    );
    assert!(err.to_string().contains("oor partition 0"), "{err}");
    assert!(c.position(&t0).await.is_err(), "stopped until a seek");
    c.seek(&t0, 2).unwrap();
    assert_eq!(recv_n(&mut c, 1).await[0].offset, 2);
    c.close().await.unwrap();

    // A seek straight after assign answers `none`'s missing offset: no error, as in Java.
    let mut c = Consumer::new(
        config(&broker.bootstrap())
            .auto_offset_reset(AutoOffsetReset::None)
            .build()
            .unwrap(),
    )
    .await
    .unwrap();
    c.assign([t0.clone()]).unwrap();
    c.seek(&t0, 3).unwrap();
    assert_eq!(recv_n(&mut c, 1).await[0].offset, 3);
    c.close().await.unwrap();
    broker.shutdown().await;
}

#[tokio::test]
async fn compressed_batches_of_every_codec() {
    let broker = broker(1).await;
    let client = client(&broker.bootstrap()).await;
    create_topic(&client, "codecs", 1).await;
    let codecs = [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ];
    let mut expected = Vec::new();
    for codec in codecs {
        let vals = values(&format!("{codec:?}"), 25);
        produce(&client, "codecs", 0, batch(&vals, codec)).await;
        expected.extend(vals);
    }
    let mut c = Consumer::new(
        config(&broker.bootstrap())
            .auto_offset_reset(AutoOffsetReset::Earliest)
            // Small fetches: one batch per response, and a fetch starting mid-batch after the
            // seek below.
            .max_partition_fetch_bytes(64)
            .build()
            .unwrap(),
    )
    .await
    .unwrap();
    c.assign([tp("codecs", 0)]).unwrap();
    let got = recv_n(&mut c, expected.len()).await;
    assert_eq!(got.iter().map(value).collect::<Vec<_>>(), expected);
    // Into the middle of the zstd batch: earlier records of the batch are not handed out.
    c.seek(&tp("codecs", 0), 110).unwrap();
    let got = recv_n(&mut c, 15).await;
    assert_eq!(got[0].offset, 110);
    assert_eq!(value(&got[0]), "Zstd-10");
    c.close().await.unwrap();
    broker.shutdown().await;
}

#[tokio::test]
async fn a_cut_last_batch_is_fetched_again_and_control_batches_are_skipped() {
    let broker = broker(1).await;
    let client = client(&broker.bootstrap()).await;
    create_topic(&client, "raw", 1).await;
    // Entry 1: a whole batch (0..5) followed by the first 30 bytes of the next one, as a
    // broker cuts a response at its byte limit.
    let first = batch(&values("x", 5), Compression::None);
    let second = rebase(&batch(&values("y", 5), Compression::Lz4), 5);
    let mut cut = first.to_vec();
    cut.extend_from_slice(&second[..30]);
    append_raw(&broker, "raw", 0, cut.into(), 5);
    // Entry 2: the whole second batch (5..10).
    append_raw(&broker, "raw", 0, second, 5);
    // Entry 3: a transaction's data and its COMMIT marker (10..12): only the data shows.
    let txn = {
        let mut b = ferrokafka_protocol::record::BatchBuilder::new()
            .producer(42, 0)
            .base_sequence(0)
            .transactional(true);
        b.push(ferrokafka_protocol::record::RecordInput {
            timestamp: 1,
            value: Some("in-txn".into()),
            ..Default::default()
        })
        .unwrap();
        b.build().unwrap()
    };
    append_raw(&broker, "raw", 0, txn, 1);
    let marker = control_batch(
        EndTxnMarker {
            kind: ControlRecordType::Commit,
            coordinator_epoch: 0,
        },
        42,
        0,
        1,
    )
    .unwrap();
    append_raw(&broker, "raw", 0, marker, 1);
    append_raw(
        &broker,
        "raw",
        0,
        batch(&values("z", 1), Compression::None),
        1,
    );

    // Each fetch returns one stored entry: the first ends in the cut batch.
    let mut c = Consumer::new(
        config(&broker.bootstrap())
            .auto_offset_reset(AutoOffsetReset::Earliest)
            .max_partition_fetch_bytes(1)
            .build()
            .unwrap(),
    )
    .await
    .unwrap();
    c.assign([tp("raw", 0)]).unwrap();
    let got = recv_n(&mut c, 12).await;
    let seen: Vec<(i64, String)> = got.iter().map(|r| (r.offset, value(r))).collect();
    let mut expected: Vec<(i64, String)> = (0..5).map(|i| (i, format!("x-{i}"))).collect();
    expected.extend((0..5).map(|i| (5 + i, format!("y-{i}"))));
    expected.push((10, "in-txn".into()));
    expected.push((12, "z-0".into()));
    assert_eq!(seen, expected);
    assert_eq!(c.position(&tp("raw", 0)).await.unwrap(), 13);

    // A position right after the data, on the marker: it is passed over, not handed out.
    c.seek(&tp("raw", 0), 11).unwrap();
    assert_eq!(recv_n(&mut c, 1).await[0].offset, 12);
    c.close().await.unwrap();
    broker.shutdown().await;
}

#[tokio::test]
async fn a_corrupt_batch_is_reported_once_and_a_seek_skips_it() {
    let broker = broker(1).await;
    let client = client(&broker.bootstrap()).await;
    create_topic(&client, "crc", 1).await;
    produce_values(&client, "crc", 0, &values("ok", 3), 3).await;
    let mut bad = batch(&values("bad", 2), Compression::None).to_vec();
    bad[40] ^= 0x55; // maxTimestamp: covered by the CRC
    append_raw(&broker, "crc", 0, bad.into(), 2);
    produce_values(&client, "crc", 0, &values("after", 2), 2).await;

    let mut c = Consumer::new(
        config(&broker.bootstrap())
            .auto_offset_reset(AutoOffsetReset::Earliest)
            .build()
            .unwrap(),
    )
    .await
    .unwrap();
    c.assign([tp("crc", 0)]).unwrap();
    let good = recv_n(&mut c, 3).await;
    assert_eq!(good.last().unwrap().offset, 2);
    let err = timeout(DEADLINE, c.recv()).await.unwrap().unwrap_err();
    assert!(
        matches!(
            &err,
            Error::CorruptRecord {
                partition: 0,
                offset: 3,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("CRC"), "{err}");
    c.seek(&tp("crc", 0), 5).unwrap();
    let after = recv_n(&mut c, 2).await;
    assert_eq!(
        after.iter().map(value).collect::<Vec<_>>(),
        values("after", 2)
    );

    // check.crcs=false reads the batch as it is.
    let mut unchecked = Consumer::new(
        config(&broker.bootstrap())
            .auto_offset_reset(AutoOffsetReset::Earliest)
            .check_crcs(false)
            .build()
            .unwrap(),
    )
    .await
    .unwrap();
    unchecked.assign([tp("crc", 0)]).unwrap();
    assert_eq!(recv_n(&mut unchecked, 7).await.len(), 7);
    c.close().await.unwrap();
    unchecked.close().await.unwrap();
    broker.shutdown().await;
}

#[tokio::test]
async fn poll_stream_pause_and_resume() {
    let broker = broker(2).await;
    let client = client(&broker.bootstrap()).await;
    create_topic(&client, "flow", 2).await;
    produce_values(&client, "flow", 0, &values("p0", 30), 10).await;
    produce_values(&client, "flow", 1, &values("p1", 30), 10).await;
    let mut c = Consumer::new(
        config(&broker.bootstrap())
            .auto_offset_reset(AutoOffsetReset::Earliest)
            .max_poll_records(7)
            .build()
            .unwrap(),
    )
    .await
    .unwrap();
    c.assign([tp("flow", 0), tp("flow", 1)]).unwrap();
    c.pause(&[tp("flow", 1)]).unwrap();
    assert_eq!(c.paused(), [tp("flow", 1)]);
    let mut seen = Vec::new();
    while seen.len() < 30 {
        let batch = c.poll(DEADLINE).await.unwrap();
        assert!(!batch.is_empty() && batch.len() <= 7, "{}", batch.len());
        seen.extend(batch);
    }
    assert!(
        seen.iter().all(|r| r.partition == 0),
        "paused partition handed out"
    );
    assert!(c.poll(Duration::from_millis(200)).await.unwrap().is_empty());
    assert_eq!(c.position(&tp("flow", 1)).await.unwrap(), 0);
    c.resume(&[tp("flow", 1)]).unwrap();
    let stream = c.stream().take(30);
    let rest: Vec<ConsumerRecord> = timeout(DEADLINE, stream.map(|r| r.unwrap()).collect())
        .await
        .unwrap();
    assert_eq!(rest.iter().map(value).collect::<Vec<_>>(), values("p1", 30));
    c.close().await.unwrap();
    broker.shutdown().await;
}

#[tokio::test]
async fn the_stream_commits_and_seeks_inside_its_loop_and_calling_off_loses_nothing() {
    let broker = broker(1).await;
    let client = client(&broker.bootstrap()).await;
    create_topic(&client, "streamed", 1).await;
    produce_values(&client, "streamed", 0, &values("s", 20), 6).await;
    let config = config(&broker.bootstrap())
        .auto_offset_reset(AutoOffsetReset::Earliest)
        .set("group.id", "streamers")
        .unwrap()
        .set("enable.auto.commit", "false")
        .unwrap()
        .build()
        .unwrap();
    let mut consumer = Consumer::connect(config).await.unwrap();
    let p0 = tp("streamed", 0);
    consumer.assign([p0.clone()]).unwrap();

    let mut stream = consumer.stream();
    let mut offsets = Vec::new();
    while let Some(record) = timeout(DEADLINE, stream.next()).await.unwrap() {
        let record = record.unwrap();
        offsets.push(record.offset);
        // The point of RecordStream: the loop body may use the consumer.
        stream
            .commit_offsets([(record.topic_partition(), record.offset + 1)])
            .await
            .unwrap();
        if record.offset == 9 {
            stream.consumer().unwrap().seek(&p0, 15).unwrap();
        }
        if record.offset == 19 {
            break;
        }
    }
    let expected: Vec<i64> = (0..10).chain(15..20).collect();
    assert_eq!(offsets, expected);

    // A receive left pending (nothing to read yet) is called off by the next commit, and
    // what is produced afterwards still arrives, from the right offset.
    assert!(futures::poll!(stream.next()).is_pending());
    stream.commit().await.unwrap();
    let committed = stream
        .consumer()
        .unwrap()
        .committed(std::slice::from_ref(&p0))
        .await;
    assert_eq!(committed.unwrap()[&p0], Some(20));
    produce_values(&client, "streamed", 0, &values("t", 3), 3).await;
    let rest: Vec<i64> = timeout(
        DEADLINE,
        (&mut stream).take(3).map(|r| r.unwrap().offset).collect(),
    )
    .await
    .unwrap();
    assert_eq!(rest, [20, 21, 22]);
    drop(stream);
    consumer.close().await.unwrap();
    broker.shutdown().await;
}

#[tokio::test]
async fn dropped_recv_futures_lose_and_repeat_nothing() {
    let broker = broker(3).await;
    let client = client(&broker.bootstrap()).await;
    create_topic(&client, "cancel", 3).await;
    for p in 0..3 {
        produce_values(&client, "cancel", p, &values(&format!("p{p}"), 200), 13).await;
    }
    let mut c = Consumer::new(
        config(&broker.bootstrap())
            .auto_offset_reset(AutoOffsetReset::Earliest)
            .max_partition_fetch_bytes(300)
            .build()
            .unwrap(),
    )
    .await
    .unwrap();
    c.assign((0..3).map(|p| tp("cancel", p))).unwrap();
    let mut seen = BTreeSet::new();
    let mut dropped = 0;
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while seen.len() < 600 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {} records",
            seen.len()
        );
        // Most of these are cut off mid-wait.
        match timeout(Duration::from_micros(200), c.recv()).await {
            Ok(r) => {
                let r = r.unwrap();
                assert!(
                    seen.insert((r.partition, r.offset)),
                    "{}-{} twice",
                    r.partition,
                    r.offset
                );
            }
            Err(_) => dropped += 1,
        }
    }
    assert!(
        dropped > 0,
        "no recv was ever cancelled; the test proves nothing"
    );
    assert!(timeout(Duration::from_millis(300), c.recv()).await.is_err());
    c.close().await.unwrap();
    broker.shutdown().await;
}

#[tokio::test]
async fn fetching_survives_dropped_connections() {
    let broker = broker(1).await;
    let client = client(&broker.bootstrap()).await;
    create_topic(&client, "flaky", 1).await;
    produce_values(&client, "flaky", 0, &values("v", 50), 5).await;
    let mut c = Consumer::new(
        config(&broker.bootstrap())
            .auto_offset_reset(AutoOffsetReset::Earliest)
            .max_partition_fetch_bytes(200)
            .build()
            .unwrap(),
    )
    .await
    .unwrap();
    c.assign([tp("flaky", 0)]).unwrap();
    broker
        .faults()
        .drop_connection(ApiKey::Fetch, 2, When::BeforeApplying);
    broker
        .faults()
        .drop_connection(ApiKey::Fetch, 4, When::AfterApplying);
    let got = recv_n(&mut c, 50).await;
    assert_eq!(
        got.iter().map(|r| r.offset).collect::<Vec<_>>(),
        (0..50).collect::<Vec<_>>()
    );
    c.close().await.unwrap();
    broker.shutdown().await;
}

#[tokio::test]
async fn config_mistakes_fail_early() {
    let broker = broker(1).await;
    let mut c = Consumer::new(config(&broker.bootstrap()).build().unwrap())
        .await
        .unwrap();
    // No group: subscribing and committing name group.id.
    let err = c.subscribe(["t"]).unwrap_err();
    assert!(err.to_string().contains("group.id"), "{err}");
    let err = c.commit().await.unwrap_err();
    assert!(err.to_string().contains("group.id"), "{err}");
    c.assign([tp("t", 0)]).unwrap();
    let err = c.seek(&tp("t", 0), -1).unwrap_err();
    assert!(matches!(err, Error::InvalidState(_)), "{err}");
    c.close().await.unwrap();
    broker.shutdown().await;
}

#[tokio::test]
async fn a_recreated_topic_is_found_again_through_metadata() {
    use kafka_protocol::messages::delete_topics_request::DeleteTopicState;
    use kafka_protocol::messages::{DeleteTopicsRequest, TopicName};
    use kafka_protocol::protocol::StrBytes;

    let broker = broker(1).await;
    let client = client(&broker.bootstrap()).await;
    create_topic(&client, "phoenix", 1).await;
    produce_values(&client, "phoenix", 0, &values("old", 5), 5).await;
    let mut c = Consumer::new(
        config(&broker.bootstrap())
            .auto_offset_reset(AutoOffsetReset::Earliest)
            .build()
            .unwrap(),
    )
    .await
    .unwrap();
    c.assign([tp("phoenix", 0)]).unwrap();
    assert_eq!(recv_n(&mut c, 5).await[4].offset, 4);
    let old_id = c.client().cluster().topics["phoenix"].id;

    // Deleted and created again: a new topic id (Fetch v13+ asks by id) and an empty log.
    let conn = client.connection(1).await.unwrap();
    let name = TopicName(StrBytes::from_static_str("phoenix"));
    conn.send_with(|v| {
        let mut req = DeleteTopicsRequest::default().with_timeout_ms(5_000);
        if v >= 6 {
            req.topics = vec![DeleteTopicState::default().with_name(Some(name.clone()))];
        } else {
            req.topic_names = vec![name.clone()];
        }
        req
    })
    .await
    .unwrap();
    create_topic(&client, "phoenix", 1).await;
    produce_values(&client, "phoenix", 0, &values("new", 3), 3).await;

    // The fetch fails (unknown topic id, or out of range), metadata is refreshed, and the
    // position is reset per auto.offset.reset.
    let got = recv_n(&mut c, 3).await;
    assert_eq!(got.iter().map(value).collect::<Vec<_>>(), values("new", 3));
    assert_ne!(c.client().cluster().topics["phoenix"].id, old_id);
    c.close().await.unwrap();
    broker.shutdown().await;
}
