#!/usr/bin/env bash
# bench/peers/haproxy.sh server|client LISTEN TARGET CERTDIR: HAProxy (Debian package haproxy) as
# the same mTLS tunnel as ours, one thread, in the foreground, its config in a temporary file.
#   server: TLS listener asking for a client certificate signed by CERTDIR/ca.crt, plain TARGET.
#   client: plain listener, TLS to TARGET verified as "localhost", presenting CERTDIR/client.pem;
#           no-ssl-reuse, so that every connection is a full handshake as loadgen's are.
set -euo pipefail
mode=$1 listen=$2 target=$3 certs=$4
case $mode in
  server) bind_options="ssl crt $certs/server.pem ca-file $certs/ca.crt verify required"; server_options="" ;;
  client) bind_options=""; server_options="ssl crt $certs/client.pem ca-file $certs/ca.crt verify required verifyhost localhost sni str(localhost) no-ssl-reuse" ;;
  *) echo "haproxy.sh: mode must be server or client, not '$mode'" >&2; exit 2 ;;
esac
conf=$(mktemp /tmp/haproxy-XXXXXX.cfg)
cat > "$conf" <<CONF
global
  nbthread 1
  maxconn 9000
defaults
  mode tcp
  timeout connect 10s
  timeout client 60s
  timeout server 60s
frontend tunnel
  bind $listen $bind_options
  default_backend target
backend target
  server target $target $server_options
CONF
exec haproxy -db -f "$conf"
