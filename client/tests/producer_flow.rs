//! Flow control and acknowledgements, seen from the wire through a proxy: `buffer.memory`
//! makes `send` wait while the broker's answers are held back and loses nothing; `acks=0`
//! gets no answers at all, yet the broker has the records; `delivery.timeout.ms` fails a
//! record that is never answered and says it may have been written.

mod producer_support;

use std::future::Future;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use ferrokafka::producer::{Acks, DeliveryFuture, Producer, ProducerRecord};
use ferrokafka::Error;
use producer_support::proxy::{broker_behind_proxy, Proxy};
use producer_support::{client, config, fetch_all, producer, within, DEADLINE};

fn poll_once<F: Future>(fut: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(Waker::noop()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_buffer_makes_send_wait_and_nothing_is_lost() {
    let (broker, proxy) = broker_behind_proxy(1).await;
    let p = producer(
        config(&proxy.bootstrap)
            .acks(Acks::Leader)
            .buffer_memory(8 * 1024)
            .batch_size(1024)
            .linger(Duration::ZERO),
    )
    .await;
    // Learn the topic first, so that what follows only waits for memory.
    within("first record", async {
        p.send(ProducerRecord::new("pressure").value("warm-up"))
            .await
            .expect("send")
            .await
            .expect("delivered")
    })
    .await;
    proxy.hold_responses(true);
    let value = |i: usize| format!("{i:05}-{}", "p".repeat(500));
    let mut deliveries = Vec::new();
    let mut i = 0;
    // With answers held back no batch completes, so memory runs out within 8 KiB of records.
    let blocked = loop {
        let mut send = Box::pin(p.send(ProducerRecord::new("pressure").value(value(i))));
        match poll_once(send.as_mut()) {
            Poll::Ready(result) => deliveries.push(result.expect("send")),
            Poll::Pending => break send,
        }
        i += 1;
        assert!(i < 20, "send never waited for buffer.memory");
    };
    assert!(i >= 8, "only {i} records fit in 8 KiB?");
    // Still waiting: nothing can free memory while the answers are held.
    tokio::task::yield_now().await;
    let mut blocked = blocked;
    assert!(poll_once(blocked.as_mut()).is_pending());
    proxy.hold_responses(false);
    deliveries.push(within("send after room", blocked).await.expect("send"));
    i += 1;
    for j in i..200 {
        deliveries.push(
            p.send(ProducerRecord::new("pressure").value(value(j)))
                .await
                .expect("send"),
        );
    }
    for (j, d) in deliveries.into_iter().enumerate() {
        let m = within("delivery", d).await.expect("delivered");
        assert_eq!(m.offset, Some(j as i64 + 1), "record {j}");
    }
    p.close().await.expect("close");
    let reader = client(&proxy.bootstrap).await;
    let got = fetch_all(&reader, "pressure", 0).await;
    assert_eq!(got.len(), 201);
    for (j, r) in got[1..].iter().enumerate() {
        assert_eq!(r.value.as_deref(), Some(value(j).as_bytes()), "record {j}");
    }
    reader.close().await;
    drop(proxy);
    broker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acks_zero_gets_no_answers_and_the_broker_has_the_records() {
    let (broker, proxy) = broker_behind_proxy(3).await;
    let p = producer(config(&proxy.bootstrap).acks(Acks::None)).await;
    let mut deliveries = Vec::new();
    for i in 0..300 {
        let record = ProducerRecord::new("no-acks")
            .key(format!("k{i}"))
            .value(format!("v{i}"));
        deliveries.push(p.send(record).await.expect("send"));
    }
    within("flush", p.flush()).await;
    let mut per_partition = [0usize; 3];
    for d in deliveries {
        let m = within("delivery", d).await.expect("handed to the socket");
        assert_eq!(m.offset, None, "acks=0 learns no offset");
        per_partition[m.partition as usize] += 1;
    }
    p.close().await.expect("close");
    // acks=0: "delivered" means handed to the socket; the proxy and the broker get the
    // requests a moment later.
    let reader = client(&proxy.bootstrap).await;
    let deadline = tokio::time::Instant::now() + DEADLINE;
    for (partition, expected) in per_partition.iter().enumerate() {
        loop {
            let got = fetch_all(&reader, "no-acks", partition as i32).await;
            if got.len() == *expected {
                break;
            }
            assert!(
                got.len() < *expected && tokio::time::Instant::now() < deadline,
                "partition {partition}: {} records, {expected} sent",
                got.len()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    let produce: Vec<_> = proxy
        .requests()
        .into_iter()
        .filter(|r| r.api_key == 0)
        .collect();
    assert!(!produce.is_empty());
    let responses = proxy.responses();
    for r in &produce {
        assert!(
            !responses
                .iter()
                .any(|a| a.connection == r.connection && a.correlation_id == r.correlation_id),
            "the broker answered an acks=0 Produce: {r:?}"
        );
    }
    reader.close().await;
    drop(proxy);
    broker.shutdown().await;
}

/// Delivers one record to `topic` (so metadata and the connection are up), then holds the
/// broker's answers back and sends one more: the record whose delivery is returned reaches
/// the broker but is never answered.
async fn unanswered_record(p: &Producer, proxy: &Proxy, topic: &str) -> DeliveryFuture {
    within("first record", async {
        p.send(ProducerRecord::new(topic).value("ok"))
            .await
            .expect("send")
            .await
            .expect("delivered")
    })
    .await;
    proxy.hold_responses(true);
    p.send(ProducerRecord::new(topic).value("unanswered"))
        .await
        .expect("send")
}

fn assert_failed_by_a_timeout(err: &Error) {
    match err {
        Error::NotDelivered { cause, .. } => {
            assert!(matches!(**cause, Error::Timeout { .. }), "{cause}")
        }
        other => panic!("{other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unanswered_record_times_out_saying_it_may_have_been_written() {
    let (broker, proxy) = broker_behind_proxy(1).await;
    let p = producer(
        config(&proxy.bootstrap)
            .acks(Acks::All)
            .request_timeout(Duration::from_secs(5))
            .linger(Duration::ZERO)
            .delivery_timeout(Duration::from_millis(5_000)),
    )
    .await;
    let d = unanswered_record(&p, &proxy, "silent").await;
    let err = within("timeout", d).await.unwrap_err();
    assert!(err.may_be_written(), "{err}");
    assert_failed_by_a_timeout(&err);
    proxy.hold_responses(false);
    // It was written: the broker got it, only the answer was held.
    let reader = client(&proxy.bootstrap).await;
    let got = fetch_all(&reader, "silent", 0).await;
    assert_eq!(got.len(), 2);
    reader.close().await;
    p.close().await.expect("close");
    drop(proxy);
    broker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_timeout_fails_what_is_not_delivered_and_says_so() {
    let (broker, proxy) = broker_behind_proxy(1).await;
    let p = producer(
        config(&proxy.bootstrap)
            .acks(Acks::All)
            .linger(Duration::ZERO),
    )
    .await;
    let d = unanswered_record(&p, &proxy, "closing").await;
    // Far below delivery.timeout.ms (120 s): only the close's own deadline can end this.
    let err = within("close", p.close_timeout(Duration::from_millis(300)))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err}");
    assert_failed_by_a_timeout(&within("delivery", d).await.unwrap_err());
    let late = p.send(ProducerRecord::new("closing").value("late")).await;
    assert!(matches!(late, Err(Error::Closed)));
    // Closing again reports how the producer ended.
    assert!(within("close again", p.close()).await.is_err());
    proxy.hold_responses(false);
    drop(proxy);
    broker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_timeout_in_time_is_ok_and_delivers_everything() {
    let (broker, proxy) = broker_behind_proxy(1).await;
    let p = producer(config(&proxy.bootstrap).acks(Acks::All)).await;
    let d = p
        .send(ProducerRecord::new("calm").value("v"))
        .await
        .expect("send");
    within("close", p.close_timeout(Duration::from_secs(20)))
        .await
        .expect("closed in time");
    assert_eq!(
        within("delivery", d).await.expect("delivered").offset,
        Some(0)
    );
    // Nothing left to deliver: even a zero timeout is not a failure.
    within("close again", p.close_timeout(Duration::ZERO))
        .await
        .expect("nothing to fail");
    drop(proxy);
    broker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_that_never_left_times_out_saying_it_was_not_written() {
    // The broker answers at the bootstrap address but advertises one where nothing listens:
    // metadata works, the leader is unreachable, and the record never leaves its queue.
    let broker = ferrokafka_mini_broker::MiniBroker::builder()
        .advertised_host("127.0.0.3")
        .start()
        .await
        .expect("broker");
    let bootstrap = broker.local_addr().to_string();
    // Create the topic over a direct connection (the advertised address leads nowhere).
    let conn = ferrokafka::Connection::connect(
        &bootstrap,
        &ferrokafka::ClientConfig::new(&bootstrap).expect("config"),
    )
    .await
    .expect("connect");
    conn.send(
        kafka_protocol::messages::MetadataRequest::default().with_topics(Some(vec![
            kafka_protocol::messages::metadata_request::MetadataRequestTopic::default().with_name(
                Some(kafka_protocol::messages::TopicName(
                    kafka_protocol::protocol::StrBytes::from_static_str("unreachable"),
                )),
            ),
        ])),
    )
    .await
    .expect("auto-create");
    conn.close().await;
    let p = producer(
        config(&bootstrap)
            .request_timeout(Duration::from_millis(1_000))
            .delivery_timeout(Duration::from_millis(1_500)),
    )
    .await;
    let d = p
        .send(ProducerRecord::new("unreachable").value("never"))
        .await
        .expect("send");
    let err = within("timeout", d).await.unwrap_err();
    assert!(!err.may_be_written(), "{err}");
    assert!(err.to_string().contains("it was not written"), "{err}");
    // A record that timed out is not a fatal failure: the close itself is fine.
    within("close", p.close()).await.expect("close");
    broker.shutdown().await;
}
