#!/usr/bin/env bash
# real-kafka.sh start|stop|status — one real Apache Kafka node (KRaft, broker+controller)
# on loopback, for the interop tests. Jars come from scripts/kafka-jars.sh; helpers shared
# with kafka-cluster.sh live in scripts/kafka-common.sh.
#
# start   fetch jars if needed, pick free ports, format a fresh data dir, launch
#         kafka.Kafka in the background, wait (<= KAFKA_READY_TIMEOUT s) until
#         `kcat -L` lists the broker, write the state file, print it on stdout.
#         If the recorded broker is still alive and answering, reuse it.
# stop    TERM, KILL after KAFKA_STOP_TIMEOUT s, delete the data dir and the state file
#         (the broker log is kept as $CACHE/last-broker.log).
# status  print the state file; exit 0 if the broker answers, 1 otherwise.
#
# State file (shell/dotenv syntax, KEY=VALUE, no quotes), $CACHE/real-kafka.env:
#   KAFKA_BOOTSTRAP=127.0.0.1:P  KAFKA_PID=...  KAFKA_RUN_DIR=...  KAFKA_LOG=...
#   KAFKA_CONTROLLER=127.0.0.1:C  KAFKA_VERSION=...  KAFKA_STARTUP_MS=...
#
# Env: KAFKA_VERSION (4.1.2), FERROKAFKA_CACHE ($REPO/.cache/kafka), KAFKA_HEAP (512m),
#      KAFKA_READY_TIMEOUT (90), KAFKA_STOP_TIMEOUT (30), KAFKA_STATE_FILE (path above),
#      KAFKA_EXTRA_PROPS (extra server.properties lines, appended verbatim).
set -euo pipefail

SCRIPTS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$SCRIPTS/.." && pwd)"
KAFKA_VERSION="${KAFKA_VERSION:-4.1.2}"
CACHE="${FERROKAFKA_CACHE:-$REPO/.cache/kafka}/$KAFKA_VERSION"
STATE="${KAFKA_STATE_FILE:-$CACHE/real-kafka.env}"
HEAP="${KAFKA_HEAP:-512m}"
READY_TIMEOUT="${KAFKA_READY_TIMEOUT:-90}"
STOP_TIMEOUT="${KAFKA_STOP_TIMEOUT:-30}"
export KAFKA_VERSION
LOG_PREFIX=real-kafka
# shellcheck source=scripts/kafka-common.sh
source "$SCRIPTS/kafka-common.sh"

# answers HOST:PORT — the broker answers ApiVersions+Metadata and lists itself.
answers() {
  kcat -L -b "$1" -m 5 2>/dev/null | grep -q "broker 1 at $1"
}

load_state() {
  KAFKA_BOOTSTRAP="" KAFKA_PID="" KAFKA_RUN_DIR=""
  # shellcheck disable=SC1090
  [[ -f $STATE ]] && source "$STATE"
  return 0
}

write_config() { # RUN_DIR PORT CONTROLLER_PORT
  local run="$1" port="$2" cport="$3"
  cat >"$run/server.properties" <<EOF
# Written by scripts/real-kafka.sh: one combined KRaft node for tests.
process.roles=broker,controller
node.id=1
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
controller.quorum.bootstrap.servers=127.0.0.1:$cport
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

# launch_once — one attempt. Returns 0 when ready, 2 when a port was taken (retry), else dies.
launch_once() {
  local run port cport cluster_id t0 t_launch pid addr deadline
  port="$(pick_port)"
  cport="$(pick_port)"
  [[ $port != "$cport" ]] || return 2
  run="$(mktemp -d "$CACHE/run.XXXXXX")"
  mkdir -p "$run/data"
  write_config "$run" "$port" "$cport"

  t0="$(now_ms)"
  cluster_id="$(new_cluster_id)"
  if ! format_storage "$run/log4j2.properties" "$run/server.properties" "$cluster_id" \
    "$run/format.log" --standalone; then
    fail_run "$run" "" format.log "StorageTool format failed"
  fi
  log "formatted $run/data (cluster $cluster_id) in $(($(now_ms) - t0)) ms"

  addr="127.0.0.1:$port"
  t_launch="$(now_ms)"
  launch_broker "$run/log4j2.properties" "$run/server.properties" "$run/broker.log"
  pid=$LAUNCHED_PID
  log "launched kafka.Kafka pid $pid on $addr (controller 127.0.0.1:$cport), waiting up to ${READY_TIMEOUT}s"

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
    if port_free "$port"; then :; elif answers "$addr"; then break; fi
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
KAFKA_CONTROLLER=127.0.0.1:$cport
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
  if is_kafka "$KAFKA_PID" && answers "$KAFKA_BOOTSTRAP"; then
    log "already running (pid $KAFKA_PID)"
    cat "$STATE"
    return 0
  fi
  if [[ -f $STATE ]]; then
    log "stale state file; cleaning up"
    cmd_stop >/dev/null
  fi
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
