#!/usr/bin/env bash
# smoke-real-kafka.sh — end-to-end check of the real peers: setup, start a real Kafka,
# round-trip records Java->Java, kcat->kcat, Java->kcat and kcat->Java, stop.
# Leaves no broker running (stops it on any exit). Exit 0 = every check passed.
set -euo pipefail

SCRIPTS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
KAFKA_VERSION="${KAFKA_VERSION:-4.1.2}"
export KAFKA_VERSION

step() { printf '\n== %s\n' "$*" >&2; }
fail() {
  printf 'smoke: FAILED: %s\n' "$*" >&2
  exit 1
}
b64() { printf '%s' "$1" | base64 -w0; }
expect_eq() { # WHAT EXPECTED ACTUAL
  [[ $2 == "$3" ]] || fail "$1: expected
$2
got
$3"
}

step "setup"
"$SCRIPTS/setup.sh"
"$SCRIPTS/real-kafka.sh" stop >/dev/null 2>&1 || true
trap '"$SCRIPTS/real-kafka.sh" stop >&2' EXIT

step "start"
state="$("$SCRIPTS/real-kafka.sh" start)"
echo "$state"
bootstrap="$(sed -n 's/^KAFKA_BOOTSTRAP=//p' <<<"$state")"
pid="$(sed -n 's/^KAFKA_PID=//p' <<<"$state")"
grep VmRSS "/proc/$pid/status" >&2

step "kcat -L"
kcat -L -b "$bootstrap" -m 5 | grep -q "broker 1 at $bootstrap" || fail "kcat -L"

topic="smoke-java-$RANDOM"
step "Java produce -> $topic (null key, duplicate header keys, null header value)"
input="$(
  printf -- '-\t-\t~\t%s\t%s=%s,%s=%s,%s=~\n' "$(b64 hello)" "$(b64 h)" "$(b64 one)" "$(b64 h)" "$(b64 two)" "$(b64 n)"
  printf -- '0\t1700000000000\t%s\t%s\t-\n' "$(b64 k2)" "$(b64 'v 2')"
  printf -- '-\t-\t%s\t\t-\n' "$(b64 k3)"
)"
acks="$("$SCRIPTS/java-peer.sh" run produce "$bootstrap" "$topic" acks=all compression.type=lz4 <<<"$input")"
echo "$acks"
expect_eq "produced partition/offset" $'0\t0\n0\t1\n0\t2' "$(cut -f1,2 <<<"$acks")"

step "Java consume <- $topic"
got="$("$SCRIPTS/java-peer.sh" run consume "$bootstrap" "$topic" 0 0 3 15000)"
echo "$got"
expect_eq "Java round trip (key/value/headers)" "$(cut -f3-5 <<<"$input")" "$(cut -f5-7 <<<"$got")"
expect_eq "explicit timestamp" "1700000000000" "$(sed -n 2p <<<"$got" | cut -f3)"

step "kcat consume <- $topic"
kcat -C -b "$bootstrap" -t "$topic" -e -q -f 'key=%k value=%s headers=%h\n'
[[ $(kcat -C -b "$bootstrap" -t "$topic" -e -q -f '%h\n' | head -n1) == "h=one,h=two,n=NULL" ]] ||
  fail "kcat sees other headers"

topic="smoke-kcat-$RANDOM"
step "kcat produce -> $topic, kcat and Java consume"
printf 'k1:v1\nk2:v2\n' | kcat -P -b "$bootstrap" -t "$topic" -K: -H hk=a -H hk=b
expect_eq "kcat round trip" "k1=v1 k2=v2" "$(kcat -C -b "$bootstrap" -t "$topic" -e -q -f '%k=%s ' | sed 's/ $//')"
got="$("$SCRIPTS/java-peer.sh" run consume "$bootstrap" "$topic" 0 earliest 2 15000)"
echo "$got"
expect_eq "kcat -> Java headers" "$(b64 hk)=$(b64 a),$(b64 hk)=$(b64 b)" "$(head -n1 <<<"$got" | cut -f7)"

step "consume timeout exit code"
rc=0
"$SCRIPTS/java-peer.sh" run consume "$bootstrap" "$topic" 0 0 3 1000 >/dev/null || rc=$?
expect_eq "exit code on timeout" 3 "$rc"

step "stop"
trap - EXIT
"$SCRIPTS/real-kafka.sh" stop
printf '\nsmoke: all checks passed\n' >&2
