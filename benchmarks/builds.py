#!/usr/bin/env python3
"""Two or more sockettrace builds on the ping-pong, side by side with strace,
each round in a fresh random order: which build is faster, measured so
that running second is no handicap (run in fixed pairs, the second binary
of each pair ran about 0.4 s slower here, whichever it was).

Usage: benchmarks/builds.py BINARY... [--rounds N] [--round-trips N]
(build benchmarks/.build/pingpong first: benchmarks/run.sh builds it).
A binary copied out of .build finds no Probes: set SOCKETTRACE_PROBES."""
import os, random, statistics, subprocess, sys, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PINGPONG = os.path.join(ROOT, "benchmarks", ".build", "pingpong")

def option(name, default):
    if name in sys.argv:
        at = sys.argv.index(name)
        value = sys.argv[at + 1]
        del sys.argv[at:at + 2]
        return int(value)
    return default

def seconds(command):
    start = time.monotonic()
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.monotonic() - start

def main():
    rounds = option("--rounds", 8)
    trips = str(option("--round-trips", 20000))
    builds = sys.argv[1:]
    if not builds or not os.path.exists(PINGPONG):
        sys.exit(__doc__)
    commands = {build: [build, "-o", "/dev/null", "--", PINGPONG, trips] for build in builds}
    commands["strace"] = ["strace", "-f", "-e", "trace=%net", "-o", "/dev/null", PINGPONG, trips]
    times = {name: [] for name in commands}
    for _ in range(rounds):
        order = list(commands)
        random.shuffle(order)
        for name in order:
            times[name].append(seconds(commands[name]))
    for name, runs in times.items():
        print("%-40s median %.2f s  (%s)" % (name, statistics.median(runs), " ".join("%.2f" % t for t in runs)))
    for build in builds:
        ratios = [mine / theirs for mine, theirs in zip(times[build], times["strace"])]
        print("%-40s median ratio to strace in its round %.2f" % (build, statistics.median(ratios)))

if __name__ == "__main__":
    main()
