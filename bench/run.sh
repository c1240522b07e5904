#!/usr/bin/env bash
# Runs faultline beside wrk, hey, ab and k6 against the same target on this
# machine and writes bench/RESULTS.md. Takes about 15 minutes; pass --quick
# for a short check of the harness itself (its figures mean little).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=bench/out/bin
mkdir -p "$bin"

# Peers: wrk, hey and ab from Debian's packages, k6 from the Go module proxy.
missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v hey >/dev/null || missing+=(hey)
command -v ab >/dev/null || missing+=(apache2-utils)
command -v taskset >/dev/null || missing+=(util-linux)
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
[ -x "$bin/k6" ] || GOBIN="$PWD/$bin" go install go.k6.io/k6@v1.8.1

CGO_ENABLED=0 go build -o "$bin/faultline" ./cmd/faultline
go build -o "$bin/target" ./bench/target
go run ./bench/driver -bin "$bin" "$@"
