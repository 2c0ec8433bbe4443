#!/bin/sh
# benchmarks/stall.sh ROUNDS: the ping-pong pinned to CPU 0 (20000 round
# trips), its tool on CPU 1, interleaved: untraced, beside `perf record -a
# -e dummy` and `perf record -a -C 1 -e dummy`, under sockettrace's default
# and under strace. Prints wall seconds and CPU 0's idle milliseconds
# (/proc/stat) for each run. Needs benchmarks/.build/pingpong (run.sh
# builds it) and a release build of sockettrace.
root=$(cd "$(dirname "$0")/.." && pwd)
PP=$root/benchmarks/.build/pingpong
ST=${SOCKETTRACE:-$root/.build/release/sockettrace}
export SOCKETTRACE_PROBES=${SOCKETTRACE_PROBES:-$root/Probes}
idle0() { awk '/^cpu0 /{print $5*10}' /proc/stat; }
one() {
    label=$1; shift
    i0=$(idle0); s=$(date +%s.%N); "$@" >/dev/null; e=$(date +%s.%N); i1=$(idle0)
    echo "$label $(echo "$e - $s" | bc | cut -c1-5) s, CPU 0 idle $((i1 - i0)) ms"
}
for r in $(seq "${1:-3}"); do
    one untraced taskset -c 0 "$PP" 20000
    timeout 8 perf record -q -a -e dummy -o /tmp/stall-perf.data -- sleep 5 & sleep 1
    one "perf record -a" taskset -c 0 "$PP" 20000; wait
    timeout 8 perf record -q -a -C 1 -e dummy -o /tmp/stall-perf.data -- sleep 5 & sleep 1
    one "perf record -C 1" taskset -c 0 "$PP" 20000; wait
    one "sockettrace (default)" taskset -c 1 "$ST" -o /dev/null -- taskset -c 0 "$PP" 20000
    one "strace -f -e trace=%net" taskset -c 1 strace -f -e trace=%net -o /dev/null -- taskset -c 0 "$PP" 20000
done
rm -f /tmp/stall-perf.data
