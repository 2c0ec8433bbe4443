#!/usr/bin/env bash
# Sets up a fresh machine, builds sockettrace, then traces the seeds' example
# server and client together, printing the annotated timeline: each call
# under the program functions it was made in (--functions) and over the
# kernel chain it took.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# Swift's runtime linked in: fewer libraries for ld.so to load and relocate
# at each start (a trace of /bin/true: 15.6 -> 10.6 ms); lld, as GNU ld warns
# about the static Foundation's use of mktemp.
swift build -c release --static-swift-stdlib -Xswiftc -use-ld=lld --quiet --product sockettrace
port=${PORT:-12345}
echo "== sockettrace: the example server (one connection) and client on 127.0.0.1:$port"
exec .build/release/sockettrace --functions main,handle_client -- /bin/sh -c \
    "./examples/server 127.0.0.1 $port 1 & ./examples/client 127.0.0.1 $port; wait"
