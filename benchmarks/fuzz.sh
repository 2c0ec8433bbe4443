#!/usr/bin/env bash
# Fuzzes the syscall decoders and the trace reader for SECONDS (default
# 300) with a random seed (or SEED): benchmarks/fuzz.sh [SECONDS] [SEED]
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --quiet --product sockettrace-fuzz
exec .build/release/sockettrace-fuzz "${1:-300}" ${2:+"$2"}
