#!/usr/bin/env bash
# real-kafka.sh start|stop|status — one real Apache Kafka node (KRaft, broker+controller)
# on loopback, for the interop tests. Jars come from scripts/kafka-jars.sh, certificates
# from scripts/tls-certs.sh; helpers shared with kafka-cluster.sh live in
# scripts/kafka-common.sh.
#
# Client listeners, all advertised on 127.0.0.1 (inter-broker and controller traffic stays
# on PLAINTEXT and CONTROLLER):
#   PLAINTEXT       no security
#   SSL             TLS, server certificate only (ssl.client.auth=none)
#   SASL_SSL        TLS + SASL PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER
#   SASL_PLAINTEXT  the same mechanisms without TLS
#   MTLS            security protocol SSL with ssl.client.auth=required: a client
#                   certificate signed by the test CA (principal User:CN=alice)
# Users: PLAIN and both SCRAMs alice/alice-secret (SCRAM credentials are written by
# `StorageTool format --add-scram`, PLAIN ones by the listener's JAAS config). OAUTHBEARER
# takes unsecured JWTs (alg none, any sub; Kafka's default validator when none is
# configured, still so in 4.1 and 4.4): a client logs in with `OAuthBearerLoginModule
# required unsecuredLoginStringClaim_sub="alice";`. Both SASL listeners set
# connections.max.reauth.ms (listener.name.<l>.connections.max.reauth.ms) to
# KAFKA_REAUTH_MS: a session lives that long, then the client must re-authenticate
# (KIP-368) or the broker closes the connection at its next request.
#
# start   fetch jars and make certificates if needed, pick free ports, format a fresh data
#         dir (with the SCRAM users), launch kafka.Kafka in the background, wait
#         (<= KAFKA_READY_TIMEOUT s) until `kcat -L` lists the broker on PLAINTEXT and every
#         other listener accepts connections, write the state file, print it on stdout
#         (`eval "$(scripts/real-kafka.sh start)"`). If the recorded broker is still alive,
#         answering and has every listener of this script, reuse it.
# stop    TERM, KILL after KAFKA_STOP_TIMEOUT s, delete the data dir and the state file
#         (the broker log is kept as $CACHE/last-broker.log).
# status  print the state file; exit 0 if the broker answers, 1 otherwise.
#
# State file (shell/dotenv syntax, one KEY=VALUE a line, no quotes), $CACHE/real-kafka.env:
#   KAFKA_BOOTSTRAP=127.0.0.1:P                 PLAINTEXT
#   KAFKA_SSL_BOOTSTRAP=127.0.0.1:P1            SSL
#   KAFKA_SASL_SSL_BOOTSTRAP=127.0.0.1:P2       SASL_SSL
#   KAFKA_SASL_PLAINTEXT_BOOTSTRAP=127.0.0.1:P3 SASL_PLAINTEXT
#   KAFKA_MTLS_BOOTSTRAP=127.0.0.1:P4           SSL, client certificate required
#   KAFKA_TLS_CA=.../ca.pem  KAFKA_TLS_CLIENT_CERT=.../client.pem
#   KAFKA_TLS_CLIENT_KEY=.../client.key (PKCS#8)  KAFKA_TLS_CLIENT_KEYSTORE=.../client-keystore.pem
#   KAFKA_SASL_USER=alice  KAFKA_SASL_PASSWORD=alice-secret  KAFKA_REAUTH_MS=...
#   KAFKA_CONTROLLER=127.0.0.1:C  KAFKA_PID=...  KAFKA_RUN_DIR=...  KAFKA_LOG=...
#   KAFKA_VERSION=...  KAFKA_STARTUP_MS=...
#
# Env: KAFKA_VERSION (4.1.2), FERROKAFKA_CACHE ($REPO/.cache/kafka), KAFKA_HEAP (512m),
#      KAFKA_READY_TIMEOUT (90), KAFKA_STOP_TIMEOUT (30), KAFKA_STATE_FILE (path above),
#      KAFKA_REAUTH_MS (10000; SASL session lifetime), KAFKA_EXTRA_PROPS (extra
#      server.properties lines, appended verbatim).
set -euo pipefail

SCRIPTS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$SCRIPTS/.." && pwd)"
KAFKA_VERSION="${KAFKA_VERSION:-4.1.2}"
CACHE="${FERROKAFKA_CACHE:-$REPO/.cache/kafka}/$KAFKA_VERSION"
STATE="${KAFKA_STATE_FILE:-$CACHE/real-kafka.env}"
HEAP="${KAFKA_HEAP:-512m}"
READY_TIMEOUT="${KAFKA_READY_TIMEOUT:-90}"
STOP_TIMEOUT="${KAFKA_STOP_TIMEOUT:-30}"
REAUTH_MS="${KAFKA_REAUTH_MS:-10000}"
SASL_USER=alice
SASL_PASSWORD=alice-secret
MECHANISMS=(PLAIN SCRAM-SHA-256 SCRAM-SHA-512 OAUTHBEARER)
export KAFKA_VERSION
LOG_PREFIX=real-kafka
# shellcheck source=scripts/kafka-common.sh
source "$SCRIPTS/kafka-common.sh"

# answers HOST:PORT — the broker answers ApiVersions+Metadata and lists itself.
answers() {
  kcat -L -b "$1" -m 5 2>/dev/null | grep -q "broker 1 at $1"
}

load_state() {
  KAFKA_BOOTSTRAP="" KAFKA_PID="" KAFKA_RUN_DIR="" KAFKA_MTLS_BOOTSTRAP=""
  # shellcheck disable=SC1090
  [[ -f $STATE ]] && source "$STATE"
  return 0
}

# sasl_props LISTENER — the SASL settings of one listener (lower-case name): its mechanisms,
# one server login context per mechanism (Kafka wants one even where it logs nobody in),
# the PLAIN user, and the session lifetime after which clients must re-authenticate.
sasl_props() {
  local l="$1" mechs
  mechs="$(
    IFS=,
    echo "${MECHANISMS[*]}"
  )"
  cat <<EOF
listener.name.$l.sasl.enabled.mechanisms=$mechs
listener.name.$l.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_$SASL_USER="$SASL_PASSWORD";
listener.name.$l.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.$l.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.$l.oauthbearer.sasl.jaas.config=org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required unsecuredLoginStringClaim_sub="admin";
listener.name.$l.connections.max.reauth.ms=$REAUTH_MS
EOF
}

# write_config RUN_DIR — server.properties and log4j2.properties for the ports in P_*.
write_config() {
  local run="$1" lst="" adv="" name
  for name in PLAINTEXT SSL SASL_SSL SASL_PLAINTEXT MTLS; do
    adv+="${adv:+,}$name://127.0.0.1:$(port_of "$name")"
  done
  lst="$adv,CONTROLLER://127.0.0.1:$P_CONTROLLER"
  cat >"$run/server.properties" <<EOF
# Written by scripts/real-kafka.sh: one combined KRaft node for tests.
process.roles=broker,controller
node.id=1
listeners=$lst
advertised.listeners=$adv
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SSL:SSL,SASL_SSL:SASL_SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,MTLS:SSL
controller.quorum.bootstrap.servers=127.0.0.1:$P_CONTROLLER
log.dirs=$run/data
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
auto.create.topics.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
share.coordinator.state.topic.num.partitions=1
group.initial.rebalance.delay.ms=0
# Tests time out transactions after a second or two; check for them often (default 10 s).
transaction.abort.timed.out.transaction.cleanup.interval.ms=500
# No time retention. Tests and benchmarks write records with fixed timestamps (2023, even 0);
# with the default 7 days, the retention check (30 s after start, then every 5 min) deletes
# such a partition whole under a running reader, which then resets to the (new) end.
log.retention.ms=-1
# Topics that set retention.ms or cleanup.policy=compact (interop-tests/tests/admin.rs) see
# retention and the log cleaner within a second, from the start (interop-tests/src/target.rs
# gives the mini-broker targets the same intervals).
log.retention.check.interval.ms=500
log.cleaner.backoff.ms=500
log.initial.task.delay.ms=0
# TLS for SSL, SASL_SSL and MTLS: PEM stores made by scripts/tls-certs.sh. Only MTLS asks
# for a client certificate.
ssl.keystore.type=PEM
ssl.keystore.location=$KAFKA_TLS_BROKER_KEYSTORE
ssl.truststore.type=PEM
ssl.truststore.location=$KAFKA_TLS_CA
ssl.client.auth=none
listener.name.mtls.ssl.client.auth=required
$(sasl_props sasl_ssl)
$(sasl_props sasl_plaintext)
${KAFKA_EXTRA_PROPS:-}
EOF
  write_log4j2 "$run/log4j2.properties"
}

# fail_run RUN_DIR PID LOG_NAME MESSAGE — show the log's tail, keep the log as
# $CACHE/last-broker.log, kill PID (if any), delete the run dir, exit 1.
fail_run() {
  local run="$1" pid="$2" name="$3" msg="$4"
  log "$msg"
  show_tail "$run/$name"
  cp "$run/$name" "$CACHE/last-broker.log"
  if [[ -n $pid ]]; then kill -KILL "$pid" 2>/dev/null || true; fi
  rm -rf "$run"
  die "$msg (whole log: $CACHE/last-broker.log)"
}

# port_of LISTENER — the port picked for LISTENER (P_<LISTENER>).
port_of() {
  local v="P_$1"
  echo "${!v}"
}

LISTENERS=(PLAINTEXT SSL SASL_SSL SASL_PLAINTEXT MTLS CONTROLLER)

# pick_ports — one distinct free port per listener into P_<LISTENER>; 2 on a collision.
pick_ports() {
  local name ports=()
  for name in "${LISTENERS[@]}"; do
    printf -v "P_$name" '%s' "$(pick_port)"
    ports+=("$(port_of "$name")")
  done
  (($(printf '%s\n' "${ports[@]}" | sort -u | wc -l) == ${#ports[@]})) || return 2
}

# all_listening — every listener accepts TCP connections (Kafka opens the client listeners
# together, but a check costs nothing).
all_listening() {
  local name
  for name in "${LISTENERS[@]}"; do
    if port_free "$(port_of "$name")"; then return 1; fi
  done
}

# launch_once — one attempt. Returns 0 when ready, 2 when a port was taken (retry), else dies.
launch_once() {
  local run cluster_id t0 t_launch pid addr deadline
  pick_ports || return 2
  run="$(mktemp -d "$CACHE/run.XXXXXX")"
  mkdir -p "$run/data"
  write_config "$run"

  t0="$(now_ms)"
  cluster_id="$(new_cluster_id)"
  if ! format_storage "$run/log4j2.properties" "$run/server.properties" "$cluster_id" \
    "$run/format.log" --standalone \
    --add-scram "SCRAM-SHA-256=[name=$SASL_USER,password=$SASL_PASSWORD]" \
    --add-scram "SCRAM-SHA-512=[name=$SASL_USER,password=$SASL_PASSWORD]"; then
    fail_run "$run" "" format.log "StorageTool format failed"
  fi
  log "formatted $run/data (cluster $cluster_id, SCRAM user $SASL_USER) in $(($(now_ms) - t0)) ms"

  addr="127.0.0.1:$P_PLAINTEXT"
  t_launch="$(now_ms)"
  launch_broker "$run/log4j2.properties" "$run/server.properties" "$run/broker.log"
  pid=$LAUNCHED_PID
  log "launched kafka.Kafka pid $pid on $addr (SSL $P_SSL, SASL_SSL $P_SASL_SSL," \
    "SASL_PLAINTEXT $P_SASL_PLAINTEXT, MTLS $P_MTLS, controller $P_CONTROLLER)," \
    "waiting up to ${READY_TIMEOUT}s"

  deadline=$((t_launch + READY_TIMEOUT * 1000))
  while true; do
    if ! alive "$pid"; then
      if grep -q 'Address already in use' "$run/broker.log"; then
        log "port taken under us; retrying with new ports"
        cp "$run/broker.log" "$CACHE/last-broker.log"
        rm -rf "$run"
        return 2
      fi
      fail_run "$run" "$pid" broker.log "broker exited before it was ready"
    fi
    if port_free "$P_PLAINTEXT"; then :; elif answers "$addr" && all_listening; then break; fi
    if (($(now_ms) > deadline)); then
      fail_run "$run" "$pid" broker.log "broker not ready after ${READY_TIMEOUT}s"
    fi
    sleep 0.2
  done
  local startup_ms=$(($(now_ms) - t_launch))
  local started_line="no"
  grep -q 'Kafka Server started' "$run/broker.log" && started_line="yes"
  cat >"$STATE" <<EOF
KAFKA_BOOTSTRAP=$addr
KAFKA_SSL_BOOTSTRAP=127.0.0.1:$P_SSL
KAFKA_SASL_SSL_BOOTSTRAP=127.0.0.1:$P_SASL_SSL
KAFKA_SASL_PLAINTEXT_BOOTSTRAP=127.0.0.1:$P_SASL_PLAINTEXT
KAFKA_MTLS_BOOTSTRAP=127.0.0.1:$P_MTLS
KAFKA_TLS_CA=$KAFKA_TLS_CA
KAFKA_TLS_CLIENT_CERT=$KAFKA_TLS_CLIENT_CERT
KAFKA_TLS_CLIENT_KEY=$KAFKA_TLS_CLIENT_KEY
KAFKA_TLS_CLIENT_KEYSTORE=$KAFKA_TLS_CLIENT_KEYSTORE
KAFKA_SASL_USER=$SASL_USER
KAFKA_SASL_PASSWORD=$SASL_PASSWORD
KAFKA_REAUTH_MS=$REAUTH_MS
KAFKA_CONTROLLER=127.0.0.1:$P_CONTROLLER
KAFKA_PID=$pid
KAFKA_RUN_DIR=$run
KAFKA_LOG=$run/broker.log
KAFKA_VERSION=$KAFKA_VERSION
KAFKA_STARTUP_MS=$startup_ms
EOF
  log "ready in ${startup_ms} ms from launch (log says 'Kafka Server started': $started_line); RSS $(rss "$pid")"
  return 0
}

cmd_start() {
  load_state
  # A broker started by an older version of this script has no secured listeners.
  if [[ -n $KAFKA_MTLS_BOOTSTRAP ]] && is_kafka "$KAFKA_PID" && answers "$KAFKA_BOOTSTRAP"; then
    log "already running (pid $KAFKA_PID)"
    cat "$STATE"
    return 0
  fi
  if [[ -f $STATE ]]; then
    log "stale state file (or a broker without secured listeners); cleaning up"
    cmd_stop >/dev/null
  fi
  eval "$("$SCRIPTS/tls-certs.sh")"
  launch_with_retries
}

cmd_stop() {
  load_state
  if [[ ! -f $STATE ]]; then
    log "not running (no $STATE)"
    return 0
  fi
  if is_kafka "$KAFKA_PID"; then
    local t0
    t0="$(now_ms)"
    stop_pid "$KAFKA_PID" "$STOP_TIMEOUT"
    log "stopped pid $KAFKA_PID in $(($(now_ms) - t0)) ms"
  else
    log "pid ${KAFKA_PID:-?} is not running"
  fi
  if [[ -n $KAFKA_RUN_DIR && $KAFKA_RUN_DIR == "$CACHE"/run.* ]]; then
    [[ -f $KAFKA_RUN_DIR/broker.log ]] && cp "$KAFKA_RUN_DIR/broker.log" "$CACHE/last-broker.log"
    rm -rf "$KAFKA_RUN_DIR"
  fi
  rm -f "$STATE"
}

cmd_status() {
  load_state
  if is_kafka "$KAFKA_PID" && answers "$KAFKA_BOOTSTRAP"; then
    cat "$STATE"
    log "running, answering on $KAFKA_BOOTSTRAP"
    return 0
  fi
  log "not running"
  return 1
}

mkdir -p "$CACHE"
# start/stop/status of one cache never overlap; the broker itself does not hold the lock.
exec 9>"$CACHE/.real-kafka.lock"
flock 9
case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  *)
    echo "usage: $0 start|stop|status" >&2
    exit 2
    ;;
esac
