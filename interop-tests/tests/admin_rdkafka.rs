//! librdkafka's admin API against every target, call by call (through confluent-kafka, which
//! wraps all of it; interop-tests/python/rdkafka_admin.py): the mini-broker must give every
//! answer real Kafka gives, down to the error a failing call reports. The calls the `rdkafka`
//! crate wraps itself are in admin.rs.

use ferrokafka_interop_tests::peers::python;
use ferrokafka_interop_tests::{scenario, unique_topic, Target};

scenario!(librdkafka_admin_api, |t: &Target| {
    if !python::confluent_kafka_available() {
        return;
    }
    let topic = unique_topic("rdkafka-admin");
    let group = unique_topic("rdkafka-admin-group");
    let steps = python::rdkafka_admin_steps(&t.bootstrap, &topic, &group);
    let expected = [
        ("create-topic", "ok"),
        ("create-topic-again", "TOPIC_ALREADY_EXISTS"),
        ("describe-cluster", "brokers"),
        ("describe-topic", "partitions=2"),
        ("create-partitions", "ok"),
        // earliest, latest, first at or after ts0 + 150, the record with the largest time
        ("list-offsets", "0 5 2 4"),
        ("delete-records", "low=2"),
        ("delete-records-beyond", "OFFSET_OUT_OF_RANGE"),
        ("alter-config", "ok"),
        ("describe-config", "retention.ms=630720000000"),
        ("alter-config-invalid", "INVALID_CONFIG"),
        ("elect-leaders", "ELECTION_NOT_NEEDED"),
        ("alter-group-offsets", "ok"),
        ("list-group-offsets", "p0=3"),
        ("list-groups", "listed=true"),
        ("describe-group", "state=EMPTY"),
        ("delete-group", "ok"),
        ("delete-group-again", "GROUP_ID_NOT_FOUND"),
        ("upsert-scram-credential", "ok"),
        ("describe-scram-credential", "SCRAM_SHA_256/4096"),
        ("delete-scram-credential", "ok"),
        ("describe-scram-credential-unknown", "RESOURCE_NOT_FOUND"),
        ("delete-topic", "ok"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(s, o)| ((*s).to_owned(), (*o).to_owned()))
        .collect();
    assert_eq!(steps, expected, "{:?}", t.kind);
});
