#!/usr/bin/env bash
# Builds sockettrace (release), the workloads and the ptrace floor tracer,
# then measures them side by side: benchmarks/run.sh [--quick] [--long] [--target]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# Swift's runtime linked in: fewer libraries for ld.so to load and relocate
# at each start (a trace of /bin/true: 15.6 -> 10.6 ms); lld, as GNU ld warns
# about the static Foundation's use of mktemp.
swift build -c release --static-swift-stdlib -Xswiftc -use-ld=lld --quiet
mkdir -p benchmarks/.build
for workload in pingpong udpflood manysyscalls connector socketcalls; do
    cc -O2 -o "benchmarks/.build/$workload" "benchmarks/workloads/$workload.c"
done
cc -O2 -o benchmarks/.build/ptrace_floor benchmarks/ptrace_floor.c
cc -O2 -pthread -o benchmarks/.build/burst Tests/Programs/burst.c
exec python3 benchmarks/run.py "$@"
