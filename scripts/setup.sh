#!/usr/bin/env bash
# setup.sh — give a fresh machine what the interop tests' real peers need. Idempotent.
#
#   kcat          installed with apt (one `apt-get update`, only when kcat is missing)
#   java/javac    must be 17+ (the Kafka 4.x broker needs 17); checked, not installed
#   mvn           must exist; checked, not installed
#   Kafka jars    scripts/kafka-jars.sh (skipped when cached)
#   Java peer     scripts/java-peer.sh build (skipped when up to date)
# A second run does nothing and takes well under two seconds.
set -euo pipefail

SCRIPTS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

log() { printf 'setup: %s\n' "$*" >&2; }
die() {
  printf 'setup: ERROR: %s\n' "$*" >&2
  exit 1
}

# --- kcat -------------------------------------------------------------------------
if command -v kcat >/dev/null 2>&1; then
  log "kcat: present ($(command -v kcat))"
else
  command -v apt-get >/dev/null 2>&1 || die "kcat is missing and apt-get is not available; install kcat by hand"
  sudo=()
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null 2>&1 || die "kcat is missing; installing it needs root (or sudo)"
    sudo=(sudo)
  fi
  log "kcat: missing, installing with apt-get"
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends kcat >/dev/null
  command -v kcat >/dev/null 2>&1 || die "apt-get installed kcat but it is not on PATH"
  log "kcat: installed ($(command -v kcat))"
fi

# --- Java 17+ and Maven -------------------------------------------------------------
# major_of "17.0.15" -> 17 ; "1.8.0_392" -> 8
major_of() {
  local v="$1"
  if [[ $v == 1.* ]]; then v="${v#1.}"; fi
  printf '%s' "${v%%[.+-]*}"
}
command -v java >/dev/null 2>&1 || die "java not found; install a JDK 17+ (Debian: apt-get install openjdk-17-jdk-headless)"
command -v javac >/dev/null 2>&1 || die "javac not found; install a JDK 17+, not only a JRE (Debian: apt-get install openjdk-17-jdk-headless)"
java_version="$(java -version 2>&1 | sed -n 's/.*version "\([^"]*\)".*/\1/p' | head -n1)"
javac_version="$(javac -version 2>&1 | awk '{print $2}' | head -n1)"
[[ -n $java_version ]] || die "could not read the version from 'java -version'"
(($(major_of "$java_version") >= 17)) || die "java is $java_version; Kafka 4.x needs Java 17+"
(($(major_of "$javac_version") >= 17)) || die "javac is $javac_version; need 17+"
log "java: $java_version, javac: $javac_version"
command -v mvn >/dev/null 2>&1 || die "mvn not found; install Maven 3.6+ (Debian: apt-get install maven)"
log "mvn: present ($(command -v mvn))"

# --- Kafka jars and the Java peer ------------------------------------------------------
"$SCRIPTS/kafka-jars.sh" >/dev/null
"$SCRIPTS/java-peer.sh" build >/dev/null
log "done"
