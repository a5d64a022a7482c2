#!/usr/bin/env bash
# tls-certs.sh — the test PKI for secured Kafka listeners: one CA, a broker certificate for
# 127.0.0.1/localhost and a client certificate, all PEM, made with openssl. Generated once
# per cache dir and reused while every certificate is valid for 30 more days and chains to
# the CA; otherwise all of it is made again (a running broker keeps what it loaded).
#
# Files in $FERROKAFKA_CACHE/tls/ (shared by every Kafka version):
#   ca.pem  ca.key                the CA (CN=ferrokafka test CA), 10 years
#   broker.pem  broker.key        CN=localhost, SAN DNS:localhost,IP:127.0.0.1, serverAuth
#   broker-keystore.pem           broker.key + broker.pem + ca.pem: Kafka's PEM keystore
#   client.pem  client.key        CN=alice (mTLS principal User:CN=alice), clientAuth
#   client-keystore.pem           client.key + client.pem: a Java client's PEM keystore
# Keys are RSA 2048, PKCS#8 PEM ("BEGIN PRIVATE KEY"), unencrypted; leaf certificates last
# 825 days.
#
# Prints on stdout (KEY=VALUE, no quotes):
#   KAFKA_TLS_DIR  KAFKA_TLS_CA  KAFKA_TLS_CLIENT_CERT  KAFKA_TLS_CLIENT_KEY
#   KAFKA_TLS_CLIENT_KEYSTORE  KAFKA_TLS_BROKER_KEYSTORE
#
# Env: FERROKAFKA_CACHE ($REPO/.cache/kafka), KAFKA_TLS_DIR (default $FERROKAFKA_CACHE/tls).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ROOT="${FERROKAFKA_CACHE:-$REPO/.cache/kafka}"
DIR="${KAFKA_TLS_DIR:-$ROOT/tls}"
MIN_VALID_S=$((30 * 24 * 3600))

log() { printf 'tls-certs: %s\n' "$*" >&2; }
die() {
  printf 'tls-certs: ERROR: %s\n' "$*" >&2
  exit 1
}

# usable DIR — every file is there, no certificate expires within 30 days, both leaves chain
# to the CA.
usable() {
  local d="$1" f
  for f in ca.pem ca.key broker.pem broker.key broker-keystore.pem client.pem client.key \
    client-keystore.pem; do
    [[ -s $d/$f ]] || return 1
  done
  for f in ca.pem broker.pem client.pem; do
    openssl x509 -noout -checkend "$MIN_VALID_S" -in "$d/$f" >/dev/null 2>&1 || return 1
  done
  openssl verify -CAfile "$d/ca.pem" "$d/broker.pem" "$d/client.pem" >/dev/null 2>&1
}

# sign NAME SUBJECT EXTENSIONS — a key and a CA-signed certificate NAME.key / NAME.pem.
sign() {
  local name="$1" subject="$2" ext="$3"
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$name.key" 2>/dev/null
  openssl req -new -key "$name.key" -subj "$subject" -out "$name.csr"
  printf '%s\n' "$ext" >"$name.ext"
  openssl x509 -req -in "$name.csr" -CA ca.pem -CAkey ca.key \
    -set_serial "0x$(openssl rand -hex 12)" -days 825 -sha256 \
    -extfile "$name.ext" -out "$name.pem" 2>/dev/null
  rm -f "$name.csr" "$name.ext"
}

generate() {
  local tmp
  # Made beside DIR, so that the final mv is a rename.
  tmp="$(mktemp -d "$(dirname "$DIR")/.tls.XXXXXX")"
  (
    cd "$tmp"
    umask 077
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out ca.key 2>/dev/null
    openssl req -x509 -new -key ca.key -subj "/CN=ferrokafka test CA" -days 3650 -sha256 \
      -set_serial "0x$(openssl rand -hex 12)" \
      -addext "basicConstraints=critical,CA:TRUE" \
      -addext "keyUsage=critical,keyCertSign,cRLSign" \
      -addext "subjectKeyIdentifier=hash" -out ca.pem
    sign broker "/CN=localhost" "basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=DNS:localhost,IP:127.0.0.1
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid"
    sign client "/CN=alice" "basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid"
    cat broker.key broker.pem ca.pem >broker-keystore.pem
    cat client.key client.pem >client-keystore.pem
    # Certificates are public; readable by anyone, keys by the owner only.
    chmod 644 ca.pem broker.pem client.pem
  ) || {
    rm -rf "$tmp"
    die "openssl failed"
  }
  usable "$tmp" || {
    rm -rf "$tmp"
    die "freshly made certificates do not verify"
  }
  rm -rf "$DIR"
  mv "$tmp" "$DIR"
}

command -v openssl >/dev/null 2>&1 || die "openssl not found; run scripts/setup.sh"
mkdir -p "$ROOT" "$(dirname "$DIR")"
# Two starts at once (two Kafka versions) must not both write the directory.
exec 9>"$ROOT/.tls.lock"
flock 9
if ! usable "$DIR"; then
  log "making a CA, a broker and a client certificate in $DIR"
  generate
fi

echo "KAFKA_TLS_DIR=$DIR"
echo "KAFKA_TLS_CA=$DIR/ca.pem"
echo "KAFKA_TLS_CLIENT_CERT=$DIR/client.pem"
echo "KAFKA_TLS_CLIENT_KEY=$DIR/client.key"
echo "KAFKA_TLS_CLIENT_KEYSTORE=$DIR/client-keystore.pem"
echo "KAFKA_TLS_BROKER_KEYSTORE=$DIR/broker-keystore.pem"
