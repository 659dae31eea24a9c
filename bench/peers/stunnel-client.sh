#!/usr/bin/env bash
# stunnel-client.sh LISTEN TARGET CERTS: stunnel4 as an mTLS client-mode tunnel (plain listener, TLS
# target verified as "localhost", client certificate presented), in the foreground. The client-mode
# twin of ../shared/bench/peers/stunnel.sh; session resumption off so every connection is a full handshake.
set -e; conf=$(mktemp /tmp/stunnel-XXXX.conf)
cat > "$conf" <<CONF
foreground = yes
pid =
debug = 3
[tunnel]
client = yes
accept = $1
connect = $2
cert = $3/client.crt
key = $3/client.key
CAfile = $3/ca.crt
verifyChain = yes
checkHost = localhost
sni = localhost
sessionResume = no
CONF
exec stunnel4 "$conf"
