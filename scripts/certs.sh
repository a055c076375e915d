#!/usr/bin/env bash
# scripts/certs.sh - make the TLS certificates of libstomp's tests with the openssl command line
# (and, for ActiveMQ, keytool), into one directory. Idempotent: an existing, complete and still
# valid set is kept (so the brokers that use it need no restart).
#
# Usage: scripts/certs.sh [DIR]      (default $STOMP_TLS_CERT_DIR or /var/lib/libstomp-test/certs)
#
# Files made (PEM unless said):
#   ca.pem ca.key                    the test CA
#   server.pem server.key            server certificate for localhost, 127.0.0.1 and ::1 (by ca)
#   client.pem client.key            client certificate (by ca)
#   expired.pem expired.key          server certificate for localhost, expired in 2021 (by ca)
#   wronghost.pem wronghost.key      server certificate for wrong.example.invalid only (by ca)
#   other-ca.pem other-ca.key        a second CA, unrelated to the first
#   other-client.pem other-client.key client certificate signed by other-ca
#   server.p12                       server key and chain for ActiveMQ (PKCS12, password changeit)
#   truststore.p12                   ca.pem as a Java trust store (PKCS12, password changeit)
# Keys are readable by all: they are throw-away test keys, and the brokers run as other users.
set -euo pipefail

DIR=${1:-${STOMP_TLS_CERT_DIR:-/var/lib/libstomp-test/certs}}
PASS=changeit
FILES="ca.pem ca.key server.pem server.key client.pem client.key expired.pem expired.key
       wronghost.pem wronghost.key other-ca.pem other-ca.key other-client.pem other-client.key
       server.p12 truststore.p12"

command -v openssl >/dev/null 2>&1 || {
    apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y openssl >/dev/null
}

complete() {
    local f
    for f in $FILES; do [ -s "$DIR/$f" ] || return 1; done
    # still valid for a week, and the server certificate chains to the CA
    openssl x509 -checkend 604800 -noout -in "$DIR/server.pem" >/dev/null &&
        openssl verify -CAfile "$DIR/ca.pem" "$DIR/server.pem" >/dev/null 2>&1
}
if complete; then
    echo "certs: up to date in $DIR"
    exit 0
fi

mkdir -p "$DIR"
WORK=$(mktemp -d "$DIR/.make.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"

ca() { # NAME CN
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
        -subj "/CN=$2" -keyout "$1.key" -out "$1.pem" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
        2>/dev/null
}

# leaf NAME CA CN EXTFILE-TEXT [START END]: a key and a certificate signed by CA (openssl ca, for
# arbitrary validity dates)
leaf() {
    local name=$1 issuer=$2 cn=$3 ext=$4 start=${5:-} end=${6:-}
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=$cn" \
        -keyout "$name.key" -out "$name.csr" 2>/dev/null
    mkdir -p "db-$name"
    : >"db-$name/index.txt"
    printf '%s\n' "$ext" >"$name.ext"
    cat >"$name.cnf" <<EOF
[ca]
default_ca = test
[test]
dir = db-$name
database = db-$name/index.txt
new_certs_dir = db-$name
serial = db-$name/serial
default_md = sha256
policy = any
copy_extensions = none
unique_subject = no
[any]
commonName = supplied
EOF
    openssl rand -hex 16 >"db-$name/serial"
    local dates=(-days 3650)
    [ -n "$start" ] && dates=(-startdate "$start" -enddate "$end")
    openssl ca -batch -notext -config "$name.cnf" -cert "$issuer.pem" -keyfile "$issuer.key" \
        -in "$name.csr" -out "$name.pem" -extfile "$name.ext" "${dates[@]}" 2>/dev/null
}

SERVER_EXT="basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth"
CLIENT_EXT="basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth"

ca ca "libstomp test CA"
ca other-ca "libstomp unrelated test CA"
leaf server ca localhost "$SERVER_EXT
subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1"
leaf client ca "libstomp test client" "$CLIENT_EXT"
leaf expired ca localhost "$SERVER_EXT
subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1" 20200101000000Z 20210101000000Z
leaf wronghost ca wrong.example.invalid "$SERVER_EXT
subjectAltName=DNS:wrong.example.invalid"
leaf other-client other-ca "libstomp unrelated client" "$CLIENT_EXT"

openssl pkcs12 -export -name server -inkey server.key -in server.pem -certfile ca.pem \
    -out server.p12 -passout "pass:$PASS"
if command -v keytool >/dev/null 2>&1; then
    keytool -importcert -noprompt -alias libstomp-ca -file ca.pem -keystore truststore.p12 \
        -storetype PKCS12 -storepass "$PASS" >/dev/null 2>&1
else
    echo "certs: keytool not found (Java): no truststore.p12 for ActiveMQ" >&2
fi

for f in $FILES; do
    [ -f "$f" ] || continue
    chmod 0644 "$f"
    mv -f "$f" "$DIR/$f"
done
chmod 0755 "$DIR"
echo "certs: made in $DIR"
