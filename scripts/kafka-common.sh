# kafka-common.sh — helpers shared by real-kafka.sh (one node) and kafka-cluster.sh (three
# nodes). Sourced, never run. The sourcing script sets, before calling anything here:
#   LOG_PREFIX  name printed in front of every log line (e.g. real-kafka)
#   CACHE       $FERROKAFKA_CACHE/$KAFKA_VERSION: jars in $CACHE/broker, run dirs below
#   HEAP        the broker JVM's -Xmx
# shellcheck shell=bash

log() { printf '%s: %s\n' "$LOG_PREFIX" "$*" >&2; }
die() {
  printf '%s: ERROR: %s\n' "$LOG_PREFIX" "$*" >&2
  exit 1
}
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# is_kafka PID — true if PID is alive and really our kafka.Kafka (pids get reused).
is_kafka() {
  [[ -n ${1:-} && -r /proc/$1/cmdline ]] && tr '\0' ' ' <"/proc/$1/cmdline" | grep -q 'kafka\.Kafka '
}

# alive PID — running and not a zombie (our dead child stays one until this script exits;
# right after fork, cmdline is still bash's, so is_kafka would be wrong here).
alive() {
  local state
  state="$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" || return 1
  [[ -n $state && $state != Z ]]
}

# port_free PORT — nothing accepts connections on 127.0.0.1:PORT.
port_free() {
  ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# pick_port — a free port below the kernel's ephemeral range where there is room: a port an
# outgoing connection can take as its source port would be lost to a node restarted on it.
pick_port() {
  local p low=32768 span=40000
  read -r low _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true
  if ((low - 20000 >= 1000)); then span=$((low - 20000)); fi
  for _ in $(seq 1 100); do
    p=$((20000 + RANDOM % span))
    if port_free "$p"; then
      echo "$p"
      return 0
    fi
  done
  die "no free loopback port found"
}

# new_cluster_id — what `StorageTool random-uuid` prints (a Uuid: 16 random bytes,
# base64url without padding, never starting with '-'), without paying a JVM start.
new_cluster_id() {
  local id
  while true; do
    id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')"
    [[ $id == -* || ${#id} -ne 22 ]] || break
  done
  echo "$id"
}

# write_log4j2 FILE — one console appender: the JVM's stdout/stderr both go to the log file
# the launcher redirects them to.
write_log4j2() {
  cat >"$1" <<'EOF'
status = warn
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.stdout.ref = STDOUT
EOF
}

# format_storage LOG4J2 PROPS CLUSTER_ID OUT_LOG [ARGS...] — run StorageTool format on the
# log.dirs of PROPS; extra ARGS (e.g. --standalone) go to the tool. Returns its exit status.
format_storage() {
  local log4j="$1" props="$2" cluster_id="$3" out="$4"
  shift 4
  # A short-lived tool: C1 only and the serial GC start faster on a small machine.
  java -Dlog4j2.configurationFile="$log4j" -Djava.awt.headless=true \
    -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -cp "$CACHE/broker/*" \
    kafka.tools.StorageTool format -t "$cluster_id" -c "$props" "$@" >"$out" 2>&1
}

# launch_broker LOG4J2 PROPS OUT_LOG — start kafka.Kafka PROPS in the background; its pid
# goes into LAUNCHED_PID. Call it in the current shell (not in $(...)): the pid must be a
# child of this shell for `alive` to see its exit.
launch_broker() {
  local log4j="$1" props="$2" out="$3"
  # The broker gets /dev/null, its log, and no other fd: not our lock, and no pipe inherited
  # from the caller (a test harness reading our stdout to EOF, a jobserver) stays open.
  (
    for fd in /proc/"$BASHPID"/fd/*; do
      fd="${fd##*/}"
      if ((fd > 2)); then eval "exec $fd>&-" 2>/dev/null || true; fi
    done
    exec nohup java -Dlog4j2.configurationFile="$log4j" -Djava.awt.headless=true \
      -Xmx"$HEAP" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
      -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent \
      -cp "$CACHE/broker/*" kafka.Kafka "$props"
  ) </dev/null >"$out" 2>&1 &
  # shellcheck disable=SC2034 # read by the sourcing script
  LAUNCHED_PID=$!
}

# show_tail FILE — the end of a log on stderr, for a failure message.
show_tail() {
  log "last lines of $1:"
  tail -n 40 "$1" >&2 || true
}

# rss PID — resident memory of PID as "N kB", or "?".
rss() {
  awk '/^VmRSS/ {print $2 " " $3}' "/proc/$1/status" 2>/dev/null || echo "?"
}

# stop_pid PID TIMEOUT_S — TERM, then KILL after TIMEOUT_S; returns once PID is no broker.
stop_pid() {
  local pid="$1" timeout="$2" deadline
  is_kafka "$pid" || return 0
  kill -TERM "$pid" 2>/dev/null || true
  deadline=$(($(now_ms) + timeout * 1000))
  while is_kafka "$pid" && (($(now_ms) < deadline)); do sleep 0.2; done
  if is_kafka "$pid"; then
    log "pid $pid still alive after ${timeout}s; KILL"
    kill -KILL "$pid" 2>/dev/null || true
    while is_kafka "$pid"; do sleep 0.1; done
  fi
}

# launch_with_retries — fetch the jars, then call the sourcing script's launch_once (0 ready,
# 2 a port was taken) up to three times; print the state file ($STATE, set by the sourcing
# script) once ready.
# shellcheck disable=SC2153 # STATE and SCRIPTS come from the sourcing script
launch_with_retries() {
  "$SCRIPTS/kafka-jars.sh" >/dev/null
  command -v kcat >/dev/null || die "kcat not found; run scripts/setup.sh"
  local rc
  for _ in 1 2 3; do
    rc=0
    launch_once || rc=$?
    if ((rc == 0)); then
      cat "$STATE"
      return 0
    fi
  done
  die "could not bind free ports after 3 attempts"
}
