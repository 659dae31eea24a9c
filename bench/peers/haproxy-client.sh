#!/usr/bin/env bash
# haproxy-client.sh LISTEN TARGET CERTS: HAProxy as an mTLS client-mode TCP tunnel (plain listener,
# TLS target verified as "localhost", client certificate presented), in the foreground, one thread.
# The client-mode twin of ../shared/bench/peers/haproxy.sh; no-ssl-reuse so every connection is a
# full handshake.
set -e; conf=$(mktemp /tmp/haproxy-XXXX.cfg)
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
  bind $1
  default_backend target
backend target
  server t $2 ssl crt $3/client.pem ca-file $3/ca.crt verify required verifyhost localhost sni str(localhost) no-ssl-reuse
CONF
exec haproxy -db -f "$conf"
