#!/usr/bin/env bash
# test.sh — the whole test suite, set-up included, on a fresh machine or a warm one.
#
#   1. scripts/setup.sh: kcat, openssl, libssl-dev, pkg-config (apt), Java 17 + Maven check,
#      kafka-python in .cache/python-venv (PyPI; KAFKA_PYTHON is exported), Kafka jars (Maven
#      Central), the Java client peer
#   2. cargo fmt --check and clippy -D warnings (also on tests)
#   3. build everything once, the mini-broker binary included
#   4. start a real Kafka 4.x broker (scripts/real-kafka.sh: PLAINTEXT, SSL, SASL_SSL,
#      SASL_PLAINTEXT and mTLS listeners; their addresses, the test CA and client certificate,
#      the SASL user and the re-authentication interval are exported as KAFKA_*), run every
#      test against it and the mini-broker, stop it again (also on failure)
#   5. stop it, start a three-node Kafka cluster (scripts/kafka-cluster.sh), run the fault
#      scenarios of interop-tests/tests/cluster.rs on it, stop it (also on failure)
#
# With CI=true a missing peer or broker fails the run instead of being skipped.
# Extra arguments go to `cargo test` (e.g. `scripts/test.sh -p ferrokafka-protocol`).
set -euo pipefail

SCRIPTS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$SCRIPTS/.." && pwd)"
cd "$REPO"

step() { printf '\n==> %s\n' "$*" >&2; }

step "set-up"
# Captured first: `eval "$(cmd)"` alone would hide a failing cmd from `set -e`.
env_out="$("$SCRIPTS/setup.sh")"
eval "$env_out"
export KAFKA_PYTHON

step "format and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo check -p ferrokafka-interop-tests --features testcontainers --tests --locked

step "build"
cargo build --workspace --all-targets --locked

step "real Kafka broker"
trap '"$SCRIPTS/real-kafka.sh" stop >&2' EXIT
env_out="$("$SCRIPTS/real-kafka.sh" start)"
eval "$env_out"
export KAFKA_BOOTSTRAP KAFKA_SSL_BOOTSTRAP KAFKA_SASL_SSL_BOOTSTRAP KAFKA_SASL_PLAINTEXT_BOOTSTRAP \
  KAFKA_MTLS_BOOTSTRAP KAFKA_TLS_CA KAFKA_TLS_CLIENT_CERT KAFKA_TLS_CLIENT_KEY \
  KAFKA_TLS_CLIENT_KEYSTORE KAFKA_SASL_USER KAFKA_SASL_PASSWORD KAFKA_REAUTH_MS
printf 'real Kafka at %s, ready after %s ms\n' "$KAFKA_BOOTSTRAP" "$KAFKA_STARTUP_MS" >&2

step "tests"
export MINI_BROKER_BIN="$REPO/target/debug/mini-broker"
# The cluster scenarios (interop-tests/tests/cluster.rs) wait for their own step below.
export KAFKA_CLUSTER_SKIP="scripts/test.sh runs the cluster scenarios in a later step"
if (($# > 0)); then
  cargo test --workspace --locked "$@"
  exit
fi
cargo test --workspace --locked -- --skip sigkilled

# The crash tests run on their own, uncaptured, so their lost/duplicated counts are in the log.
step "crash tests: consumers, the exactly-once pipeline and the mini-broker SIGKILLed and restarted"
cargo test -p ferrokafka-interop-tests --locked --test consumer --test exactly_once --test broker_crash sigkilled \
  -- --nocapture --test-threads 1

# Three nodes of ~350 MB each: the single broker goes first. One test at a time: they share
# the cluster and kill its nodes.
step "three-node cluster: nodes killed and restarted, leaders moved"
"$SCRIPTS/real-kafka.sh" stop >&2
trap '"$SCRIPTS/real-kafka.sh" stop >&2; "$SCRIPTS/kafka-cluster.sh" stop >&2' EXIT
env_out="$("$SCRIPTS/kafka-cluster.sh" start)"
eval "$env_out"
export KAFKA_CLUSTER_BOOTSTRAP
unset KAFKA_CLUSTER_SKIP
printf 'Kafka cluster at %s, ready after %s ms\n' "$KAFKA_CLUSTER_BOOTSTRAP" \
  "$KAFKA_CLUSTER_STARTUP_MS" >&2
cargo test -p ferrokafka-interop-tests --locked --test cluster -- --nocapture --test-threads 1
