#!/usr/bin/env bash
# Measures the coordinator's CPU per merged interval for 1, 3 and 8 local
# worker processes (docs/distributed.md, "What scales"). Pass flags of
# bench/distrib through, e.g. -duration 60s -rate 4000. Run it alone on the
# machine (other benchmarks move its figures).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=bench/out/bin
mkdir -p "$bin"
CGO_ENABLED=0 go build -o "$bin/faultline" ./cmd/faultline
go build -o "$bin/target" ./bench/target
echo "before: $(uptime)"
go run ./bench/distrib -bin "$bin" "$@"
echo "after: $(uptime)"
