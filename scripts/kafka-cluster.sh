#!/usr/bin/env bash
# kafka-cluster.sh start|stop|status|kill N|restart N — three real Apache Kafka nodes (KRaft,
# each broker+controller, static voters 1,2,3) on loopback, for the fault scenarios in
# interop-tests/tests/cluster.rs. Jars come from scripts/kafka-jars.sh; helpers shared with
# real-kafka.sh live in scripts/kafka-common.sh.
#
# start      fetch jars if needed, pick six free ports, format three data dirs with one
#            cluster id, launch the nodes, wait (<= KAFKA_READY_TIMEOUT s) until every node
#            answers Metadata listing all three brokers, write the state file, print it on
#            stdout (`eval "$(scripts/kafka-cluster.sh start)"`). A running, healthy cluster
#            from the state file is reused; a port taken under us means new ports.
# kill N     SIGKILL node N; returns once the process is gone. Its pid is blanked in the state.
# restart N  launch node N again on its ports and data dir (no format) and wait until it
#            answers Metadata listing itself (so it is unfenced); a node that is already up
#            is left alone. Writes the new pid into the state.
# stop       TERM every node, KILL after KAFKA_STOP_TIMEOUT s, keep each node's log as
#            $CACHE/last-cluster-node-N.log, delete the run dir and the state file.
# status     print the state and each node's health; exit 0 if all three answer.
#
# State file (KEY=VALUE, no quotes), $CACHE/kafka-cluster.env:
#   KAFKA_CLUSTER_BOOTSTRAP=127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3
#   KAFKA_CLUSTER_NODE_N=127.0.0.1:PN  KAFKA_CLUSTER_CONTROLLER_N=127.0.0.1:CN
#   KAFKA_CLUSTER_PID_N=... (empty while node N is down)  KAFKA_CLUSTER_RUN_DIR=...
#   KAFKA_VERSION=...  KAFKA_CLUSTER_STARTUP_MS=...
# Node N lives in $KAFKA_CLUSTER_RUN_DIR/node-N/ (server.properties, data/, broker.log).
#
# Env: KAFKA_VERSION (4.1.2), FERROKAFKA_CACHE ($REPO/.cache/kafka), KAFKA_HEAP (384m, per
#      node), KAFKA_READY_TIMEOUT (120), KAFKA_STOP_TIMEOUT (30), KAFKA_CLUSTER_STATE_FILE
#      (path above), KAFKA_CLUSTER_EXTRA_PROPS (lines appended to every node's properties).
set -euo pipefail

SCRIPTS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$SCRIPTS/.." && pwd)"
KAFKA_VERSION="${KAFKA_VERSION:-4.1.2}"
CACHE="${FERROKAFKA_CACHE:-$REPO/.cache/kafka}/$KAFKA_VERSION"
STATE="${KAFKA_CLUSTER_STATE_FILE:-$CACHE/kafka-cluster.env}"
HEAP="${KAFKA_HEAP:-384m}"
READY_TIMEOUT="${KAFKA_READY_TIMEOUT:-120}"
STOP_TIMEOUT="${KAFKA_STOP_TIMEOUT:-30}"
NODES=(1 2 3)
export KAFKA_VERSION
LOG_PREFIX=kafka-cluster
# shellcheck source=scripts/kafka-common.sh
source "$SCRIPTS/kafka-common.sh"

# node_var NAME N — the value of KAFKA_CLUSTER_NAME_N (empty if unset).
node_var() {
  local var="KAFKA_CLUSTER_${1}_$2"
  echo "${!var:-}"
}

set_node_var() { # NAME N VALUE
  printf -v "KAFKA_CLUSTER_${1}_$2" '%s' "$3"
}

load_state() {
  KAFKA_CLUSTER_BOOTSTRAP="" KAFKA_CLUSTER_RUN_DIR="" KAFKA_CLUSTER_STARTUP_MS=""
  local n
  for n in "${NODES[@]}"; do
    set_node_var NODE "$n" ""
    set_node_var CONTROLLER "$n" ""
    set_node_var PID "$n" ""
  done
  # shellcheck disable=SC1090
  [[ -f $STATE ]] && source "$STATE"
  return 0
}

require_state() {
  [[ -f $STATE && -n $KAFKA_CLUSTER_RUN_DIR ]] ||
    die "no cluster (no $STATE); run: $0 start"
}

# write_state — the current variables into the state file, replaced whole.
write_state() {
  local n tmp="$STATE.tmp.$$"
  {
    echo "KAFKA_CLUSTER_BOOTSTRAP=$KAFKA_CLUSTER_BOOTSTRAP"
    for n in "${NODES[@]}"; do
      echo "KAFKA_CLUSTER_NODE_$n=$(node_var NODE "$n")"
    done
    for n in "${NODES[@]}"; do
      echo "KAFKA_CLUSTER_CONTROLLER_$n=$(node_var CONTROLLER "$n")"
    done
    for n in "${NODES[@]}"; do
      echo "KAFKA_CLUSTER_PID_$n=$(node_var PID "$n")"
    done
    echo "KAFKA_CLUSTER_RUN_DIR=$KAFKA_CLUSTER_RUN_DIR"
    echo "KAFKA_VERSION=$KAFKA_VERSION"
    echo "KAFKA_CLUSTER_STARTUP_MS=$KAFKA_CLUSTER_STARTUP_MS"
  } >"$tmp"
  mv "$tmp" "$STATE"
}

# node_answers N [BROKERS] — node N's own Metadata answer lists node N at its address (a
# fenced broker is not listed), and, given BROKERS, lists that many brokers.
node_answers() {
  local n="$1" want="${2:-}" addr out
  addr="$(node_var NODE "$n")"
  [[ -n $addr ]] || return 1
  if port_free "${addr##*:}"; then return 1; fi
  out="$(kcat -L -b "$addr" -m 5 2>/dev/null)" || return 1
  grep -q "broker $n at $addr" <<<"$out" || return 1
  [[ -z $want ]] || grep -q "^ *$want brokers:" <<<"$out"
}

all_answer() {
  local n
  for n in "${NODES[@]}"; do
    is_kafka "$(node_var PID "$n")" && node_answers "$n" "${#NODES[@]}" || return 1
  done
}

write_node_config() { # NODE_DIR N PORT CONTROLLER_PORT VOTERS
  local dir="$1" n="$2" port="$3" cport="$4" voters="$5"
  cat >"$dir/server.properties" <<EOF
# Written by scripts/kafka-cluster.sh: node $n of a three-node KRaft cluster for tests.
process.roles=broker,controller
node.id=$n
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
controller.quorum.voters=$voters
log.dirs=$dir/data
# One rack per node, and followers serve fetches from their own rack (KIP-392).
broker.rack=rack-$n
replica.selector.class=org.apache.kafka.common.replica.RackAwareReplicaSelector
num.partitions=1
default.replication.factor=3
min.insync.replicas=2
auto.create.topics.enable=true
# Three partitions for each coordinator topic, so the coordinators spread over the nodes.
offsets.topic.replication.factor=3
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=3
transaction.state.log.min.isr=2
transaction.state.log.num.partitions=3
share.coordinator.state.topic.replication.factor=3
share.coordinator.state.topic.min.isr=2
share.coordinator.state.topic.num.partitions=3
group.initial.rebalance.delay.ms=0
# Leaders stay where the tests put them; no data loss behind a test's back.
auto.leader.rebalance.enable=false
unclean.leader.election.enable=false
# A dead follower leaves the ISR after 10 s (default 30 s); followers fetch every 0.5 s at
# most, so a loaded machine still has room. broker.session.timeout.ms stays at 9 s.
replica.lag.time.max.ms=10000
# Tests time out transactions after a second or two; check for them often (default 10 s).
transaction.abort.timed.out.transaction.cleanup.interval.ms=500
# No time retention: tests write records with old fixed timestamps (see real-kafka.sh).
log.retention.ms=-1
${KAFKA_CLUSTER_EXTRA_PROPS:-}
EOF
}

# keep_logs RUN_DIR — copy each node's log (earlier runs of a restarted node first) to
# $CACHE/last-cluster-node-N.log.
keep_logs() {
  local run="$1" n dir
  for n in "${NODES[@]}"; do
    dir="$run/node-$n"
    [[ -d $dir ]] || continue
    cat "$dir"/broker-before-*.log "$dir/broker.log" 2>/dev/null \
      >"$CACHE/last-cluster-node-$n.log" || true
  done
}

# fail_start RUN_DIR MESSAGE [NODE] — show the failing node's log tail (or every node's),
# keep the logs, kill every node, delete the run dir, exit 1.
fail_start() {
  local run="$1" msg="$2" only="${3:-}" n pid
  log "$msg"
  for n in "${NODES[@]}"; do
    if [[ -z $only || $only == "$n" ]]; then show_tail "$run/node-$n/broker.log"; fi
  done
  keep_logs "$run"
  for n in "${NODES[@]}"; do
    pid="$(node_var PID "$n")"
    if [[ -n $pid ]]; then kill -KILL "$pid" 2>/dev/null || true; fi
  done
  rm -rf "$run"
  die "$msg (whole logs: $CACHE/last-cluster-node-N.log)"
}

# launch_once — one attempt. Returns 0 when ready, 2 when a port was taken (retry), else dies.
launch_once() {
  local run n port cport voters="" cluster_id t0 t_launch deadline ready
  local -a ports=() fpids=()
  for _ in "${NODES[@]}"; do
    ports+=("$(pick_port)" "$(pick_port)")
  done
  (($(printf '%s\n' "${ports[@]}" | sort -u | wc -l) == ${#ports[@]})) || return 2
  run="$(mktemp -d "$CACHE/cluster.XXXXXX")"
  KAFKA_CLUSTER_RUN_DIR="$run"
  write_log4j2 "$run/log4j2.properties"
  for n in "${NODES[@]}"; do
    port="${ports[$((2 * (n - 1)))]}"
    cport="${ports[$((2 * (n - 1) + 1))]}"
    set_node_var NODE "$n" "127.0.0.1:$port"
    set_node_var CONTROLLER "$n" "127.0.0.1:$cport"
    set_node_var PID "$n" ""
    voters+="${voters:+,}$n@127.0.0.1:$cport"
  done
  KAFKA_CLUSTER_BOOTSTRAP=""
  for n in "${NODES[@]}"; do
    port="$(node_var NODE "$n")"
    cport="$(node_var CONTROLLER "$n")"
    mkdir -p "$run/node-$n/data"
    write_node_config "$run/node-$n" "$n" "${port##*:}" "${cport##*:}" "$voters"
    KAFKA_CLUSTER_BOOTSTRAP+="${KAFKA_CLUSTER_BOOTSTRAP:+,}$port"
  done

  # Static voters: every node is formatted with the same cluster id and no --standalone.
  t0="$(now_ms)"
  cluster_id="$(new_cluster_id)"
  for n in "${NODES[@]}"; do
    format_storage "$run/log4j2.properties" "$run/node-$n/server.properties" "$cluster_id" \
      "$run/node-$n/format.log" &
    fpids+=($!)
  done
  local failed=""
  for n in "${NODES[@]}"; do
    wait "${fpids[$((n - 1))]}" || failed="${failed:-$n}"
  done
  if [[ -n $failed ]]; then
    show_tail "$run/node-$failed/format.log"
    cp "$run/node-$failed/format.log" "$CACHE/last-cluster-format.log"
    rm -rf "$run"
    die "StorageTool format failed for node $failed (log: $CACHE/last-cluster-format.log)"
  fi
  log "formatted 3 data dirs in $run (cluster $cluster_id, voters $voters) in $(($(now_ms) - t0)) ms"

  t_launch="$(now_ms)"
  for n in "${NODES[@]}"; do
    launch_broker "$run/log4j2.properties" "$run/node-$n/server.properties" \
      "$run/node-$n/broker.log"
    set_node_var PID "$n" "$LAUNCHED_PID"
  done
  log "launched nodes on $KAFKA_CLUSTER_BOOTSTRAP" \
    "(pids $KAFKA_CLUSTER_PID_1 $KAFKA_CLUSTER_PID_2 $KAFKA_CLUSTER_PID_3), waiting up to ${READY_TIMEOUT}s"

  deadline=$((t_launch + READY_TIMEOUT * 1000))
  while true; do
    for n in "${NODES[@]}"; do
      if alive "$(node_var PID "$n")"; then continue; fi
      if grep -q 'Address already in use' "$run/node-$n/broker.log"; then
        log "node $n: port taken under us; retrying with new ports"
        fail_retry "$run"
        return 2
      fi
      fail_start "$run" "node $n exited before the cluster was ready" "$n"
    done
    ready=yes
    for n in "${NODES[@]}"; do
      node_answers "$n" "${#NODES[@]}" || {
        ready=no
        break
      }
    done
    [[ $ready == yes ]] && break
    if (($(now_ms) > deadline)); then
      fail_start "$run" "cluster not ready after ${READY_TIMEOUT}s"
    fi
    sleep 0.5
  done
  KAFKA_CLUSTER_STARTUP_MS=$(($(now_ms) - t_launch))
  write_state
  log "ready in ${KAFKA_CLUSTER_STARTUP_MS} ms from launch; RSS: $(rss_all)"
  return 0
}

# fail_retry RUN_DIR — a port was taken: kill what started, keep the logs, drop the run dir.
fail_retry() {
  local run="$1" n pid
  for n in "${NODES[@]}"; do
    pid="$(node_var PID "$n")"
    if [[ -n $pid ]]; then kill -KILL "$pid" 2>/dev/null || true; fi
  done
  keep_logs "$run"
  rm -rf "$run"
}

rss_all() {
  local n pid out=""
  for n in "${NODES[@]}"; do
    pid="$(node_var PID "$n")"
    if [[ -n $pid ]]; then
      out+="${out:+, }node $n $(rss "$pid")"
    else
      out+="${out:+, }node $n down"
    fi
  done
  echo "$out"
}

cmd_start() {
  load_state
  if [[ -f $STATE ]] && all_answer; then
    log "already running ($KAFKA_CLUSTER_BOOTSTRAP)"
    cat "$STATE"
    return 0
  fi
  if [[ -f $STATE ]]; then
    log "stale state file or a node down; stopping it and starting afresh"
    cmd_stop >/dev/null
  fi
  launch_with_retries
}

node_arg() {
  [[ ${1:-} =~ ^[123]$ ]] || die "node must be 1, 2 or 3 (got '${1:-}')"
}

cmd_kill() {
  local n="$1" pid t0 deadline
  load_state
  require_state
  pid="$(node_var PID "$n")"
  if ! is_kafka "$pid"; then
    log "node $n is not running (pid ${pid:-none})"
  else
    t0="$(now_ms)"
    kill -KILL "$pid" 2>/dev/null || true
    deadline=$((t0 + 10000))
    while alive "$pid"; do
      (($(now_ms) < deadline)) || die "node $n (pid $pid) still alive 10 s after SIGKILL"
      sleep 0.05
    done
    log "node $n (pid $pid) killed in $(($(now_ms) - t0)) ms"
  fi
  set_node_var PID "$n" ""
  write_state
}

cmd_restart() {
  local n="$1" pid dir addr t0 deadline
  load_state
  require_state
  pid="$(node_var PID "$n")"
  dir="$KAFKA_CLUSTER_RUN_DIR/node-$n"
  addr="$(node_var NODE "$n")"
  [[ -f $dir/server.properties ]] || die "node $n has no config in $dir"
  t0="$(now_ms)"
  if is_kafka "$pid" && node_answers "$n"; then
    log "node $n is up (pid $pid); nothing to do"
    return 0
  elif is_kafka "$pid"; then
    log "node $n is running (pid $pid) but not answering yet; waiting for it"
  else
    # Keep the log of the earlier run(s); the new run gets a fresh broker.log.
    [[ -f $dir/broker.log ]] && mv "$dir/broker.log" "$dir/broker-before-$t0.log"
    launch_broker "$KAFKA_CLUSTER_RUN_DIR/log4j2.properties" "$dir/server.properties" \
      "$dir/broker.log"
    pid="$LAUNCHED_PID"
    set_node_var PID "$n" "$pid"
    write_state
    log "node $n relaunched as pid $pid on $addr, waiting up to ${READY_TIMEOUT}s"
  fi
  deadline=$((t0 + READY_TIMEOUT * 1000))
  until node_answers "$n"; do
    if ! alive "$pid"; then
      show_tail "$dir/broker.log"
      set_node_var PID "$n" ""
      write_state
      die "node $n exited during restart (log: $dir/broker.log)"
    fi
    (($(now_ms) < deadline)) ||
      die "node $n not answering ${READY_TIMEOUT}s after restart (log: $dir/broker.log)"
    sleep 0.2
  done
  log "node $n answers after $(($(now_ms) - t0)) ms; RSS $(rss "$pid")"
}

cmd_stop() {
  load_state
  if [[ ! -f $STATE ]]; then
    log "not running (no $STATE)"
    return 0
  fi
  local n pid t0 deadline left
  t0="$(now_ms)"
  # TERM all at once: one at a time, the last node waits for a quorum that is gone.
  for n in "${NODES[@]}"; do
    pid="$(node_var PID "$n")"
    if is_kafka "$pid"; then kill -TERM "$pid" 2>/dev/null || true; fi
  done
  deadline=$((t0 + STOP_TIMEOUT * 1000))
  while true; do
    left=""
    for n in "${NODES[@]}"; do
      pid="$(node_var PID "$n")"
      if is_kafka "$pid"; then left+=" $pid"; fi
    done
    [[ -n $left ]] || break
    if (($(now_ms) > deadline)); then
      log "still alive after ${STOP_TIMEOUT}s:$left; KILL"
      for pid in $left; do stop_pid "$pid" 0; done
      break
    fi
    sleep 0.2
  done
  log "stopped in $(($(now_ms) - t0)) ms"
  if [[ -n $KAFKA_CLUSTER_RUN_DIR && $KAFKA_CLUSTER_RUN_DIR == "$CACHE"/cluster.* ]]; then
    keep_logs "$KAFKA_CLUSTER_RUN_DIR"
    rm -rf "$KAFKA_CLUSTER_RUN_DIR"
  fi
  rm -f "$STATE"
}

cmd_status() {
  load_state
  if [[ ! -f $STATE ]]; then
    log "not running (no $STATE)"
    return 1
  fi
  cat "$STATE"
  local n pid healthy=0
  for n in "${NODES[@]}"; do
    pid="$(node_var PID "$n")"
    if is_kafka "$pid" && node_answers "$n"; then
      log "node $n: up on $(node_var NODE "$n") (pid $pid, RSS $(rss "$pid"))"
    else
      log "node $n: down"
      healthy=1
    fi
  done
  return "$healthy"
}

mkdir -p "$CACHE"
# Commands on one cache never overlap (a restart waits for a start); the nodes themselves do
# not hold the lock. The wait is bounded by the longest command: a start with its stop.
exec 9>"$CACHE/.kafka-cluster.lock"
flock -w $((READY_TIMEOUT * 3 + STOP_TIMEOUT + 60)) 9 ||
  die "another kafka-cluster.sh still holds $CACHE/.kafka-cluster.lock"
case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  kill)
    node_arg "${2:-}"
    cmd_kill "$2"
    ;;
  restart)
    node_arg "${2:-}"
    cmd_restart "$2"
    ;;
  *)
    echo "usage: $0 start|stop|status|kill N|restart N  (N = 1, 2 or 3)" >&2
    exit 2
    ;;
esac
