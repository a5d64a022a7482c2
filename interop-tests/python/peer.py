"""kafka-python as a peer for ferrokafka's interop tests (run by interop-tests/src/peers/python.rs).

    peer.py round-trip <bootstrap> <topic> <timeout_ms> <config-json>
        stdin: one value per line (UTF-8 text). Produces them in order to partition 0 of
        <topic> with a KafkaProducer (acks=all, each send waited for), then reads the
        partition from the beginning with a KafkaConsumer (manual assignment, no group)
        until as many records arrived or <timeout_ms> passed.
        stdout: `offset <TAB> value` per record read.

<config-json> is an object of kafka-python keyword arguments given to both clients verbatim
(security_protocol, ssl_cafile, sasl_mechanism, sasl_plain_username, ...), except
`sasl_oauth_token_provider`: kafka-python wants an object there, so the peer takes a principal
and provides unsecured JWTs (alg "none") for it, as Kafka's unsecured OAUTHBEARER login does.

Exit codes: 0 done; 1 error (traceback on stderr); 2 usage; 3 timed out before every record
was read back (what arrived was printed).
"""

import base64
import json
import sys
import time

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

try:  # kafka-python 3.x
    from kafka.net.sasl.oauth import AbstractTokenProvider
except ImportError:  # 2.x
    from kafka.sasl.oauth import AbstractTokenProvider

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_TIMEOUT = 0, 1, 2, 3


def b64url(obj):
    raw = json.dumps(obj, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class UnsecuredJwt(AbstractTokenProvider):
    """An unsigned token for `sub`, valid for an hour from when it is asked for."""

    def __init__(self, sub):
        super().__init__()
        self.sub = sub

    def token(self):
        now = int(time.time())
        claims = {"sub": self.sub, "iat": now, "exp": now + 3600}
        return b64url({"alg": "none"}) + "." + b64url(claims) + "."


def client_config(text):
    config = json.loads(text)
    sub = config.pop("sasl_oauth_token_provider", None)
    if sub is not None:
        config["sasl_oauth_token_provider"] = UnsecuredJwt(sub)
    return config


def round_trip(bootstrap, topic, timeout_ms, config):
    values = [line.rstrip("\n") for line in sys.stdin]
    deadline = time.monotonic() + timeout_ms / 1000
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", **config)
    for value in values:
        left = max(deadline - time.monotonic(), 0.001)
        producer.send(topic, value=value.encode(), partition=0).get(timeout=left)
    producer.close()

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, **config)
    partition = TopicPartition(topic, 0)
    consumer.assign([partition])
    consumer.seek_to_beginning(partition)
    read = 0
    while read < len(values) and time.monotonic() < deadline:
        for records in consumer.poll(timeout_ms=200).values():
            for record in records:
                print(f"{record.offset}\t{record.value.decode()}", flush=True)
                read += 1
    consumer.close()
    return EXIT_OK if read >= len(values) else EXIT_TIMEOUT


def main(args):
    if len(args) != 5 or args[0] != "round-trip":
        print(__doc__, file=sys.stderr)
        return EXIT_USAGE
    _, bootstrap, topic, timeout_ms, config = args
    return round_trip(bootstrap, topic, int(timeout_ms), client_config(config))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
