//! The Java AdminClient against every target, call by call (KafkaPeer's `admin` mode): the
//! mini-broker must give every answer real Kafka gives, down to the exception a failing call
//! raises in Java.

use ferrokafka_interop_tests::peers::java;
use ferrokafka_interop_tests::{scenario, unique_topic, Target};

scenario!(java_admin_client, |t: &Target| {
    if !java::available() {
        return;
    }
    let topic = unique_topic("java-admin");
    let group = unique_topic("java-admin-group");
    let steps = java::admin_steps(&t.bootstrap, &topic, &group);
    let expected = [
        ("create-topic", "ok"),
        ("create-topic-again", "TopicExistsException"),
        ("describe-cluster", "brokers"),
        ("describe-topic", "partitions=2"),
        ("create-partitions", "ok"),
        // earliest, latest, first at or after ts0 + 150, the record with the largest time
        ("list-offsets", "0 5 2 4"),
        ("delete-records", "low=2"),
        ("delete-records-beyond", "OffsetOutOfRangeException"),
        ("alter-config", "ok"),
        ("describe-config", "retention.ms=630720000000"),
        ("alter-config-invalid", "InvalidConfigurationException"),
        ("describe-producers", "count=1 lastSequence=4"),
        ("describe-log-dirs", "holds-partition=true"),
        ("elect-leaders", "ElectionNotNeededException"),
        ("alter-group-offsets", "ok"),
        ("list-group-offsets", "p0=3"),
        ("list-groups", "listed=true"),
        ("describe-group", "state=Empty"),
        ("delete-group-offsets", "ok"),
        ("delete-group", "ok"),
        ("delete-group-again", "GroupIdNotFoundException"),
        ("list-transactions", "ok"),
        (
            "describe-transaction-unknown",
            "TransactionalIdNotFoundException",
        ),
        ("list-internal-topics", "consumer-offsets-internal=true"),
        ("describe-group-config", "consumer.session.timeout.ms=45000"),
        ("alter-group-config", "ok"),
        (
            "alter-group-config-invalid",
            "InvalidConfigurationException",
        ),
        ("upsert-scram-credential", "ok"),
        ("describe-scram-credential", "SCRAM_SHA_256/4096"),
        ("delete-scram-credential", "ok"),
        (
            "describe-scram-credential-unknown",
            "ResourceNotFoundException",
        ),
        ("delete-topic", "ok"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(s, o)| ((*s).to_owned(), (*o).to_owned()))
        .collect();
    assert_eq!(steps, expected, "{:?}", t.kind);
});
