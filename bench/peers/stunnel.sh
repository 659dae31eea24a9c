#!/usr/bin/env bash
# bench/peers/stunnel.sh server|client LISTEN TARGET CERTDIR: stunnel4 (Debian package stunnel4) as
# the same mTLS tunnel as ours, in the foreground, its config in a temporary file (SIGHUP reloads it).
#   server: TLS listener verifying the client's chain against CERTDIR/ca.crt, plain TARGET.
#   client: plain listener, TLS to TARGET verified as "localhost", presenting the client certificate;
#           no session resumption, so that every connection is a full handshake as loadgen's are.
set -euo pipefail
mode=$1 listen=$2 target=$3 certs=$4
case $mode in
  server) leaf=server; client_lines="" ;;
  client) leaf=client; client_lines=$'client = yes\ncheckHost = localhost\nsni = localhost\nsessionResume = no' ;;
  *) echo "stunnel.sh: mode must be server or client, not '$mode'" >&2; exit 2 ;;
esac
conf=$(mktemp /tmp/stunnel-XXXXXX.conf)
cat > "$conf" <<CONF
foreground = yes
pid =
debug = 3
[tunnel]
accept = $listen
connect = $target
cert = $certs/$leaf.crt
key = $certs/$leaf.key
CAfile = $certs/ca.crt
verifyChain = yes
$client_lines
CONF
exec stunnel4 "$conf"
