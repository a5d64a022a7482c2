#!/usr/bin/env bash
# setup.sh — give a fresh machine what the interop tests' real peers need. Idempotent.
#
#   Debian packages  kcat (the C client peer), openssl (test certificates for the secured
#                    Kafka listeners), libssl-dev and pkg-config (the rdkafka crate's ssl
#                    feature builds librdkafka against them), python3-venv (only when
#                    `python3 -m venv` cannot work): one `apt-get update` and one
#                    `apt-get install`, only for those missing (checked with dpkg)
#   java/javac       must be 17+ (the Kafka 4.x broker needs 17); checked, not installed
#   mvn              must exist; checked, not installed
#   kafka-python     the Python client peer, latest from PyPI, in the venv .cache/python-venv
#                    (skipped when the venv has it)
#   confluent-kafka  librdkafka's full admin API for the admin peer, latest from PyPI (its
#                    wheel bundles librdkafka), in the same venv (skipped when there)
#   Kafka jars       scripts/kafka-jars.sh (skipped when cached)
#   Java peer        scripts/java-peer.sh build (skipped when up to date)
# Prints KAFKA_PYTHON=<the venv's python> on stdout (`eval "$(scripts/setup.sh)"`).
# A second run does nothing and takes well under two seconds.
set -euo pipefail

SCRIPTS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$SCRIPTS/.." && pwd)"
VENV="$REPO/.cache/python-venv"

log() { printf 'setup: %s\n' "$*" >&2; }
die() {
  printf 'setup: ERROR: %s\n' "$*" >&2
  exit 1
}

# kafka_python_version — the version of kafka-python installed in the venv, read from its
# dist-info directory (asking Python costs a quarter of a second); fails when there is none.
kafka_python_version() {
  local d
  [[ -x $VENV/bin/python ]] || return 1
  for d in "$VENV"/lib/python3*/site-packages/kafka_python-*.dist-info; do
    [[ -f $d/METADATA ]] || continue
    d="${d##*/kafka_python-}"
    echo "${d%.dist-info}"
    return 0
  done
  return 1
}

# --- Debian packages -------------------------------------------------------------------
missing=()
command -v kcat >/dev/null 2>&1 || missing+=(kcat)
if command -v dpkg-query >/dev/null 2>&1; then
  installed="$(dpkg-query -W -f='${Package} ${Status}\n' libssl-dev pkg-config openssl 2>/dev/null |
    awk '/ install ok installed$/ {print $1}' || true)"
  for pkg in libssl-dev pkg-config openssl; do
    grep -qx "$pkg" <<<"$installed" || missing+=("$pkg")
  done
else
  command -v openssl >/dev/null 2>&1 || missing+=(openssl)
  command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
  pkg-config --exists openssl 2>/dev/null || missing+=(libssl-dev)
fi
if ! kafka_python_version >/dev/null; then
  if ! command -v python3 >/dev/null 2>&1; then
    missing+=(python3 python3-venv)
  elif ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
    missing+=(python3-venv)
  fi
fi
if ((${#missing[@]} == 0)); then
  log "packages: kcat, openssl, libssl-dev, pkg-config present"
else
  command -v apt-get >/dev/null 2>&1 ||
    die "missing ${missing[*]} and apt-get is not available; install them by hand"
  sudo=()
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null 2>&1 || die "missing ${missing[*]}; installing needs root (or sudo)"
    sudo=(sudo)
  fi
  log "packages: installing ${missing[*]} with apt-get"
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    --no-install-recommends "${missing[@]}" >/dev/null
  command -v kcat >/dev/null 2>&1 || die "apt-get installed kcat but it is not on PATH"
  log "packages: installed ${missing[*]}"
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

# --- kafka-python in a project-local venv ------------------------------------------------
if version="$(kafka_python_version)"; then
  log "kafka-python: $version present ($VENV)"
else
  log "kafka-python: installing the latest from PyPI into $VENV"
  python3 -m venv "$VENV" || die "python3 -m venv $VENV failed"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check kafka-python >&2 ||
    die "pip install kafka-python failed"
  "$VENV/bin/python" -c 'import kafka' || die "kafka-python is not importable after pip install"
  version="$(kafka_python_version)" || die "pip installed kafka-python, but not where expected"
  log "kafka-python: $version installed ($VENV)"
fi

# --- confluent-kafka in the same venv ----------------------------------------------------
if compgen -G "$VENV/lib/python3*/site-packages/confluent_kafka-*.dist-info" >/dev/null; then
  log "confluent-kafka: present ($VENV)"
else
  log "confluent-kafka: installing the latest from PyPI into $VENV"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check confluent-kafka >&2 ||
    die "pip install confluent-kafka failed"
  "$VENV/bin/python" -c 'import confluent_kafka' ||
    die "confluent-kafka is not importable after pip install"
fi

# --- Kafka jars and the Java peer ------------------------------------------------------
"$SCRIPTS/kafka-jars.sh" >/dev/null
"$SCRIPTS/java-peer.sh" build >/dev/null
echo "KAFKA_PYTHON=$VENV/bin/python"
log "done"
