//! `Client` against the in-process mini-broker: bootstrap, metadata, routing, the admin helper,
//! reconnects, the refresh timer, and close.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{config, wait_until, within};
use ferrokafka::{Client, ClientConfig, CoordinatorType, Error, ErrorCode, NewTopic};
use ferrokafka_mini_broker::MiniBroker;
use kafka_protocol::messages::{ApiKey, DescribeClusterRequest};

fn closed_port() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    format!("127.0.0.1:{}", listener.local_addr().unwrap().port())
}

#[tokio::test]
async fn metadata_after_topic_creation_lists_partitions_and_leader() {
    let broker = MiniBroker::start().await.unwrap();
    let client = Client::connect(config(&broker.bootstrap())).await.unwrap();
    let node = *client.cluster().brokers.keys().next().unwrap();
    assert_eq!(
        client.cluster().broker(node).unwrap().address(),
        broker.bootstrap()
    );

    let results = client
        .create_topics(&[NewTopic::new("orders").partitions(3).replication_factor(1)])
        .await
        .unwrap();
    assert_eq!(results.len(), 1);
    assert_eq!(results[0].0, "orders");
    results[0].1.as_ref().unwrap();

    let cluster = client.metadata(&["orders"]).await.unwrap();
    let topic = &cluster.topics["orders"];
    assert!(topic.error.is_ok());
    assert_eq!(
        topic.partitions.keys().copied().collect::<Vec<_>>(),
        [0, 1, 2]
    );
    for p in topic.partitions.values() {
        assert_eq!(p.leader, Some(node));
        assert_eq!(cluster.leader("orders", p.partition).unwrap(), node);
    }
    assert_eq!(client.leader_for("orders", 2).await.unwrap(), node);

    // Creating it again is a per-topic error with the topic's name.
    let again = client
        .create_topics(&[NewTopic::new("orders").partitions(3)])
        .await
        .unwrap();
    let err = again[0].1.as_ref().unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::TOPIC_ALREADY_EXISTS));
    assert!(err.to_string().contains("orders"), "{err}");

    client.close().await;
    broker.shutdown().await;
}

#[tokio::test]
async fn leader_for_refreshes_once_and_names_what_is_missing() {
    let broker = MiniBroker::start().await.unwrap();
    let client = Client::connect(config(&broker.bootstrap())).await.unwrap();
    // Not in the cached view yet: leader_for fetches it.
    client
        .create_topics(&[NewTopic::new("late").partitions(2)])
        .await
        .unwrap();
    assert!(!client.cluster().topics.contains_key("late"));
    assert!(client.leader_for("late", 1).await.is_ok());

    let err = client.leader_for("late", 7).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION));
    assert!(err.to_string().contains("topic late partition 7"), "{err}");

    // The core client never asks the broker to auto-create.
    let err = client.leader_for("nonexistent", 0).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION));
    assert!(err.is_retriable());
    assert!(!broker.state().topics().contains_key("nonexistent"));

    client.close().await;
    broker.shutdown().await;
}

#[tokio::test]
async fn send_to_routes_typed_requests_by_node_id() {
    let broker = MiniBroker::start().await.unwrap();
    let client = Client::connect(config(&broker.bootstrap())).await.unwrap();
    let node = *client.cluster().brokers.keys().next().unwrap();
    let response = client
        .send_to(node, DescribeClusterRequest::default())
        .await
        .unwrap();
    assert!(Error::check(response.error_code, None).is_ok());
    assert_eq!(
        response
            .brokers
            .iter()
            .map(|b| b.broker_id.0)
            .collect::<Vec<_>>(),
        [node]
    );
    let conn = client.connection(node).await.unwrap();
    assert!(conn.api_version(ApiKey::DescribeCluster).is_some());

    let err = client
        .send_to(4242, DescribeClusterRequest::default())
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::UnknownBroker { node_id: 4242 }),
        "{err}"
    );
    client.close().await;
    broker.shutdown().await;
}

#[tokio::test]
async fn bootstrap_tries_each_server_in_turn() {
    let broker = MiniBroker::start().await.unwrap();
    let dead = closed_port();
    let cfg = ClientConfig::new(&format!("{dead},{}", broker.bootstrap())).unwrap();
    let client = within("bootstrap", Client::connect(cfg)).await.unwrap();
    assert_eq!(client.cluster().brokers.len(), 1);
    client.close().await;
    broker.shutdown().await;

    let other = closed_port();
    let cfg = ClientConfig::new(&format!("{dead},{other}")).unwrap();
    let err = within("bootstrap", Client::connect(cfg)).await.unwrap_err();
    let Error::NoBrokerReachable { tried } = &err else {
        panic!("expected NoBrokerReachable, got {err}");
    };
    assert_eq!(tried.len(), 2, "{tried:?}");
    assert!(
        tried[0].contains(&dead) && tried[1].contains(&other),
        "{tried:?}"
    );
    assert!(err.is_retriable());
}

#[tokio::test]
async fn a_dead_connection_is_replaced_on_next_use() {
    let broker = MiniBroker::start().await.unwrap();
    let mut cfg = config(&broker.bootstrap());
    cfg.reconnect_backoff = Duration::from_millis(10);
    cfg.reconnect_backoff_max = Duration::from_millis(100);
    let client = Client::connect(cfg).await.unwrap();
    let node = *client.cluster().brokers.keys().next().unwrap();
    let first = client.connection(node).await.unwrap();
    assert!(Arc::ptr_eq(&first, &client.connection(node).await.unwrap()));
    first.close().await;
    assert!(first.is_dead());
    let second = client.connection(node).await.unwrap();
    assert!(!Arc::ptr_eq(&first, &second));
    client
        .send_to(node, DescribeClusterRequest::default())
        .await
        .unwrap();
    client.close().await;
    broker.shutdown().await;
}

#[tokio::test]
async fn a_broker_going_away_gives_retriable_errors() {
    let broker = MiniBroker::start().await.unwrap();
    let mut cfg = config(&broker.bootstrap());
    cfg.reconnect_backoff = Duration::from_millis(10);
    cfg.reconnect_backoff_max = Duration::from_millis(50);
    cfg.request_timeout = Duration::from_secs(2);
    let client = Client::connect(cfg).await.unwrap();
    let node = *client.cluster().brokers.keys().next().unwrap();
    let conn = client.connection(node).await.unwrap();
    broker.shutdown().await;
    within("the connection to notice", conn.closed()).await;
    for _ in 0..3 {
        let err = within(
            "a failing request",
            client.send_to(node, DescribeClusterRequest::default()),
        )
        .await
        .unwrap_err();
        assert!(err.is_retriable(), "{err}");
    }
    let err = within("a failing refresh", client.metadata(&[]))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NoBrokerReachable { .. }), "{err}");
    client.close().await;
}

#[tokio::test]
async fn metadata_is_refreshed_on_a_timer() {
    let broker = MiniBroker::start().await.unwrap();
    let mut cfg = config(&broker.bootstrap());
    cfg.set("metadata.max.age.ms", "50").unwrap();
    let client = Client::connect(cfg).await.unwrap();
    client.metadata(&["timed"]).await.unwrap();
    let first = client.cluster().fetched_at;
    // The timer picks up a topic created behind the client's back.
    let other = Client::connect(config(&broker.bootstrap())).await.unwrap();
    other
        .create_topics(&[NewTopic::new("timed").partitions(4)])
        .await
        .unwrap()[0]
        .1
        .as_ref()
        .unwrap();
    other.close().await;
    wait_until("a timed refresh", || {
        let c = client.cluster();
        c.fetched_at > first
            && c.topics
                .get("timed")
                .is_some_and(|t| t.partitions.len() == 4)
    })
    .await;
    client.close().await;
    broker.shutdown().await;
}

#[tokio::test]
async fn close_stops_everything() {
    let broker = MiniBroker::start().await.unwrap();
    let client = Client::connect(config(&broker.bootstrap())).await.unwrap();
    let clone = client.clone();
    let node = *client.cluster().brokers.keys().next().unwrap();
    let conn = client.connection(node).await.unwrap();
    client.close().await;
    assert!(conn.is_dead());
    for err in [
        clone.metadata(&["x"]).await.unwrap_err(),
        clone.leader_for("x", 0).await.unwrap_err(),
        clone
            .send_to(node, DescribeClusterRequest::default())
            .await
            .unwrap_err(),
    ] {
        assert!(matches!(err, Error::Closed), "{err}");
    }
    broker.shutdown().await;
}

/// With every known broker gone, requests that any broker may answer fall back to the
/// bootstrap servers: FindCoordinator, Metadata and a typed `send_to_any` all reach the broker
/// that is still up, and the cluster view moves over to it.
#[tokio::test]
async fn requests_for_any_broker_survive_the_known_brokers_dying() {
    let first = MiniBroker::start().await.unwrap();
    let second = MiniBroker::start().await.unwrap();
    let config = ClientConfig::builder()
        .bootstrap_servers([first.bootstrap(), second.bootstrap()])
        .request_timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let client = Client::connect(config).await.unwrap();
    let known: Vec<String> = client
        .cluster()
        .brokers
        .values()
        .map(|b| b.address())
        .collect();
    assert_eq!(known, [first.bootstrap()], "bootstrapped from the first");

    first.shutdown().await;
    let coordinator = within(
        "FindCoordinator with the known broker down",
        client.find_coordinator(CoordinatorType::Group, "g"),
    )
    .await
    .unwrap();
    assert_eq!(coordinator.address(), second.bootstrap());
    let cluster = within("metadata", client.metadata(&[])).await.unwrap();
    let known: Vec<String> = cluster.brokers.values().map(|b| b.address()).collect();
    assert_eq!(known, [second.bootstrap()]);
    let described = within(
        "DescribeCluster to any broker",
        client.send_to_any(DescribeClusterRequest::default()),
    )
    .await
    .unwrap();
    assert_eq!(described.error_code, 0);

    // With nothing reachable at all, the error lists every attempt.
    second.shutdown().await;
    let err = within(
        "FindCoordinator with nothing up",
        client.find_coordinator(CoordinatorType::Transaction, "t"),
    )
    .await
    .unwrap_err();
    assert!(err.is_retriable(), "{err}");
    let Error::NoBrokerReachable { tried } = &err else {
        panic!("expected NoBrokerReachable, got {err}");
    };
    assert_eq!(
        tried.len(),
        3,
        "the known broker and both bootstrap servers: {tried:?}"
    );
    client.close().await;
}

/// A partition leader's admin request that fails as a whole (its connection dropped) fails
/// each partition it carried, with the shared cause, and the call still answers; the next
/// call reconnects and succeeds.
#[tokio::test]
async fn admin_partition_requests_fail_per_partition_when_their_leader_does() {
    use ferrokafka::{Admin, TopicPartition};
    use ferrokafka_mini_broker::When;

    let broker = MiniBroker::start().await.unwrap();
    let admin = Admin::connect(config(&broker.bootstrap())).await.unwrap();
    admin
        .create_topics(&[NewTopic::new("trim").partitions(2).replication_factor(1)])
        .await
        .unwrap()[0]
        .1
        .as_ref()
        .unwrap();
    let before = [
        (TopicPartition::new("trim", 0), 0),
        (TopicPartition::new("trim", 1), 0),
    ];
    broker
        .faults()
        .drop_connection(ApiKey::DeleteRecords, 1, When::BeforeApplying);
    let results = within("DeleteRecords", admin.delete_records(&before))
        .await
        .unwrap();
    assert_eq!(results.len(), 2);
    for (tp, result) in &results {
        let err = result.as_ref().unwrap_err();
        assert!(matches!(err, Error::Shared(_)), "{tp:?}: {err:?}");
        assert!(err.is_retriable(), "{tp:?}: {err:?}");
    }
    let again = within("DeleteRecords again", admin.delete_records(&before))
        .await
        .unwrap();
    assert!(again.iter().all(|(_, r)| matches!(r, Ok(0))), "{again:?}");
}
