#!/usr/bin/env bash
# bench/loadgen/build.sh OUT: builds the load generator into OUT (default: ./loadgen) and prints
# its path. Go >= 1.19 (Debian: golang-go), standard library only, so it builds offline.
set -euo pipefail
out=$(realpath -m "${1:-loadgen}")
if ! command -v go >/dev/null; then
  echo "bench/loadgen/build.sh: go not found: install the Debian package golang-go (npm run test:all does)" >&2
  exit 1
fi
cd "$(dirname "$0")"
GOTOOLCHAIN=local GOFLAGS=-mod=mod GOPROXY=off go build -trimpath -o "$out" .
echo "$out"
