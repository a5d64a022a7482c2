"""librdkafka's admin API (through confluent-kafka, which wraps it) as a peer for ferrokafka's
interop tests (run by interop-tests/src/peers/confluent.rs).

    rdkafka_admin.py <bootstrap> <topic> <group>

Calls librdkafka's admin operations in turn on a topic it creates (2 partitions, then 3) and
a group it commits for, printing one line per step, `step <TAB> outcome`; an outcome is a
value or the name of the Kafka error the call failed with. The steps and their expected
outcomes are in interop-tests/tests/admin_rdkafka.rs. The admin calls the `rdkafka` crate
also wraps (create/delete topics, create partitions, describe/alter configs, delete records,
delete groups) are tested through it in interop-tests/tests/admin.rs.

Exit codes: 0 done; 1 error (traceback on stderr); 2 usage.
"""

import sys
import time

from confluent_kafka import (
    ConsumerGroupTopicPartitions,
    ElectionType,
    KafkaException,
    Producer,
    TopicCollection,
    TopicPartition,
)
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewPartitions,
    NewTopic,
    OffsetSpec,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialDeletion,
    UserScramCredentialUpsertion,
)

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2
TS0 = 1_700_000_000_000


def step(name, body):
    try:
        outcome = body()
    except KafkaException as e:
        outcome = e.args[0].name() if e.args and hasattr(e.args[0], "name") else str(e)
    print(f"{name}\t{outcome}", flush=True)


def eventually(call, limit_s=15):
    """`call()`, retried every 50 ms while it raises KafkaException, for up to `limit_s`."""
    deadline = time.monotonic() + limit_s
    while True:
        try:
            return call()
        except KafkaException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def only(futures):
    """The result of the one future in a dict of futures."""
    (future,) = futures.values()
    return future.result()


def main(bootstrap, topic, group):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    p0 = TopicPartition(topic, 0)
    resource = ConfigResource(ConfigResource.Type.TOPIC, topic)

    step("create-topic", lambda: only(admin.create_topics([NewTopic(topic, 2, 1)])) or "ok")
    step("create-topic-again", lambda: only(admin.create_topics([NewTopic(topic, 2, 1)])) or "ok")
    step(
        "describe-cluster",
        lambda: "brokers" if admin.describe_cluster().result().nodes else "no brokers",
    )

    def describe_topic():
        # A KRaft broker's metadata shows a new topic a moment after CreateTopics answers.
        found = eventually(lambda: only(admin.describe_topics(TopicCollection([topic]))))
        return f"partitions={len(found.partitions)}"

    step("describe-topic", describe_topic)
    step("create-partitions", lambda: only(admin.create_partitions([NewPartitions(topic, 3)])) or "ok")

    # Five records at known times, one batch each.
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0})
    for i in range(5):
        producer.produce(topic, value=bytes([i]), partition=0, timestamp=TS0 + 100 * i)
        producer.flush(30)

    def list_offsets():
        specs = [
            OffsetSpec.earliest(),
            OffsetSpec.latest(),
            OffsetSpec.for_timestamp(TS0 + 150),
            OffsetSpec.max_timestamp(),
        ]
        return " ".join(str(only(admin.list_offsets({p0: spec})).offset) for spec in specs)

    step("list-offsets", list_offsets)
    step(
        "delete-records",
        lambda: f"low={only(admin.delete_records([TopicPartition(topic, 0, 2)])).low_watermark}",
    )
    step(
        "delete-records-beyond",
        lambda: f"low={only(admin.delete_records([TopicPartition(topic, 0, 99)])).low_watermark}",
    )

    def alter(value):
        entry = ConfigEntry(
            "retention.ms", value, incremental_operation=AlterConfigOpType.SET
        )
        change = ConfigResource(ConfigResource.Type.TOPIC, topic, incremental_configs=[entry])
        only(admin.incremental_alter_configs([change]))
        return "ok"

    step("alter-config", lambda: alter("630720000000"))

    def describe_config():
        # A KRaft broker shows an accepted change a moment later: bounded wait.
        deadline = time.monotonic() + 15
        while True:
            value = only(admin.describe_configs([resource]))["retention.ms"].value
            if value == "630720000000" or time.monotonic() > deadline:
                return f"retention.ms={value}"
            time.sleep(0.05)

    step("describe-config", describe_config)
    step("alter-config-invalid", lambda: alter("soon"))

    def elect():
        results = admin.elect_leaders(ElectionType.PREFERRED, [p0]).result()
        error = results[p0]
        if isinstance(error, KafkaException):
            error = error.args[0]
        return error.name() if error else "elected"

    step("elect-leaders", elect)
    step(
        "alter-group-offsets",
        lambda: only(
            admin.alter_consumer_group_offsets(
                [ConsumerGroupTopicPartitions(group, [TopicPartition(topic, 0, 3)])]
            )
        )
        and "ok",
    )

    def list_group_offsets():
        result = only(admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)]))
        return " ".join(
            f"p{tp.partition}={tp.offset}"
            for tp in sorted(result.topic_partitions, key=lambda tp: tp.partition)
        )

    step("list-group-offsets", list_group_offsets)

    def list_groups():
        listed = admin.list_consumer_groups().result().valid
        return f"listed={str(any(g.group_id == group for g in listed)).lower()}"

    step("list-groups", list_groups)
    step(
        "describe-group",
        lambda: f"state={only(admin.describe_consumer_groups([group])).state.name}",
    )
    step("delete-group", lambda: only(admin.delete_consumer_groups([group])) or "ok")
    step("delete-group-again", lambda: only(admin.delete_consumer_groups([group])) or "ok")
    user = f"{group}-user"
    step(
        "upsert-scram-credential",
        lambda: only(
            admin.alter_user_scram_credentials(
                [
                    UserScramCredentialUpsertion(
                        user,
                        ScramCredentialInfo(ScramMechanism.SCRAM_SHA_256, 4096),
                        b"user-secret",
                    )
                ]
            )
        )
        or "ok",
    )

    def describe_scram():
        # A KRaft broker learns of the credential a moment after the controller took it.
        found = eventually(lambda: only(admin.describe_user_scram_credentials([user])))
        info = found.scram_credential_infos[0]
        return f"{info.mechanism.name}/{info.iterations}"

    step("describe-scram-credential", describe_scram)
    step(
        "delete-scram-credential",
        lambda: only(
            admin.alter_user_scram_credentials(
                [UserScramCredentialDeletion(user, ScramMechanism.SCRAM_SHA_256)]
            )
        )
        or "ok",
    )
    step(
        "describe-scram-credential-unknown",
        lambda: only(admin.describe_user_scram_credentials([f"{group}-nobody"])) and "ok",
    )
    step("delete-topic", lambda: only(admin.delete_topics([topic])) or "ok")
    return EXIT_OK


if __name__ == "__main__":
    if len(sys.argv) != 4:
        print("usage: rdkafka_admin.py <bootstrap> <topic> <group>", file=sys.stderr)
        sys.exit(EXIT_USAGE)
    sys.exit(main(*sys.argv[1:]))
