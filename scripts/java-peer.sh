#!/usr/bin/env bash
# java-peer.sh build|cmd|run ARGS... — the Java Kafka client peer (interop-tests/java/KafkaPeer.java).
#
# build   compile KafkaPeer.java against $CACHE/clients/*.jar into $CACHE/java-peer/
#         (skipped when the class is newer than the source); prints KAFKA_PEER_CP=<classpath>
# cmd     print the java command line that runs the peer (append the peer's arguments)
# run     build if needed, then exec the peer: `java-peer.sh run produce 127.0.0.1:P topic acks=all`
#         stdin/stdout/exit code are the peer's own (see the header of KafkaPeer.java).
#
# Env: KAFKA_VERSION, FERROKAFKA_CACHE (as scripts/kafka-jars.sh), KAFKA_PEER_LOG_LEVEL
#      (slf4j-simple level for the client's own log on stderr; default warn),
#      KAFKA_PEER_JVM_FLAGS (JVM flags, split on spaces; default
#      "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC", quick to start for the tests; the perf tool
#      sets it empty so that the Java client runs with the JVM's own JIT and GC).
set -euo pipefail

SCRIPTS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$SCRIPTS/.." && pwd)"
KAFKA_VERSION="${KAFKA_VERSION:-4.1.2}"
CACHE="${FERROKAFKA_CACHE:-$REPO/.cache/kafka}/$KAFKA_VERSION"
SRC="$REPO/interop-tests/java/KafkaPeer.java"
OUT="$CACHE/java-peer"
CLASSPATH_PEER="$OUT:$CACHE/clients/*"
export KAFKA_VERSION

log() { printf 'java-peer: %s\n' "$*" >&2; }

java_cmd() {
  local flags
  read -r -a flags <<<"${KAFKA_PEER_JVM_FLAGS--XX:TieredStopAtLevel=1 -XX:+UseSerialGC}"
  JAVA_CMD=(java -cp "$CLASSPATH_PEER"
    "-Dorg.slf4j.simpleLogger.defaultLogLevel=${KAFKA_PEER_LOG_LEVEL:-warn}"
    -Dorg.slf4j.simpleLogger.logFile=System.err
    "${flags[@]}"
    KafkaPeer)
}

build() {
  [[ -f $CACHE/clients/.complete ]] || "$SCRIPTS/kafka-jars.sh" >/dev/null
  if [[ -f $OUT/KafkaPeer.class && $OUT/KafkaPeer.class -nt $SRC ]]; then
    return 0
  fi
  mkdir -p "$CACHE"
  exec 8>"$CACHE/.java-peer.lock"
  flock 8
  # Another process may have compiled it while we waited for the lock.
  if [[ -f $OUT/KafkaPeer.class && $OUT/KafkaPeer.class -nt $SRC ]]; then
    exec 8>&-
    return 0
  fi
  local tmp
  tmp="$(mktemp -d "$CACHE/.java-peer.XXXXXX")"
  javac --release 17 -Xlint:all -cp "$CACHE/clients/*" -d "$tmp" "$SRC" >&2
  rm -rf "$OUT"
  mv "$tmp" "$OUT"
  exec 8>&-
  log "compiled $SRC into $OUT"
}

case "${1:-}" in
  build)
    build
    echo "KAFKA_PEER_CP=$CLASSPATH_PEER"
    ;;
  cmd)
    java_cmd
    printf '%q ' "${JAVA_CMD[@]}"
    echo
    ;;
  run)
    shift
    build
    java_cmd
    exec "${JAVA_CMD[@]}" "$@"
    ;;
  *)
    echo "usage: $0 build|cmd|run ARGS..." >&2
    exit 2
    ;;
esac
