#!/usr/bin/env bash
# Runs faultline beside wrk, wrk2 and vegeta against the same target on this
# machine and writes bench/RESULTS.md. Takes about 25 minutes; pass --quick
# for a short check of the harness itself (its figures mean little).
#
# wrk comes from Debian's package. wrk2 and vegeta are built from their
# source, outside this repository (bench/README.md says how); give their
# binaries as WRK2=/path/to/wrk2/wrk and VEGETA=/path/to/vegeta. A peer whose
# binary is missing is skipped, with a message.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=bench/out/bin
mkdir -p "$bin"

missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v taskset >/dev/null || missing+=(util-linux)
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

CGO_ENABLED=0 go build -o "$bin/faultline" ./cmd/faultline
go build -o "$bin/target" ./bench/target
go run ./bench/driver -bin "$bin" -wrk2 "${WRK2:-}" -vegeta "${VEGETA:-}" "$@"
