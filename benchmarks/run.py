#!/usr/bin/env python3
"""Overhead of sockettrace, side by side with strace, perf and the bare
ptrace floor, on the same workloads in one run: every tool runs each
workload in turn (interleaved), REPEAT times; the table shows median wall
times and ratios to untraced and to strace. Usage: benchmarks/run.sh [--quick]"""
import os, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, "benchmarks", ".build")
ST = os.path.join(ROOT, ".build", "release", "sockettrace")
QUICK = "--quick" in sys.argv
REPEAT = 3 if QUICK else 5
SCALE = 0.25 if QUICK else 1.0

def workload(name):
    return os.path.join(BUILD, name)

def workloads():
    port = 23000 + os.getpid() % 1000 * 3
    n = lambda x: str(int(x * SCALE))
    server = os.path.join(ROOT, "examples", "server")
    conns = n(200)
    return [
        ("tcp ping-pong (%s round trips)" % n(20000), [workload("pingpong"), n(20000)]),
        ("udp flood (%s datagrams)" % n(100000), [workload("udpflood"), n(100000)]),
        ("1M syscalls, few socket (%s)" % n(1000000), [workload("manysyscalls"), n(1000000)]),
        ("fork-per-connection server (%s conns)" % conns,
         ["/bin/sh", "-c", "%s 127.0.0.1 PORT %s >/dev/null & %s 127.0.0.1 PORT %s; wait" % (server, conns, workload("connector"), conns)]),
    ]

def tools(trace_dir):
    have_perf = subprocess.run(["perf", "trace", "-e", "sendto", "true"], capture_output=True).returncode == 0
    result = [
        ("untraced", []),
        ("ptrace floor (every stop, reads nothing)", [workload("ptrace_floor")]),
        ("strace -f -e trace=%net -o /dev/null", ["strace", "-f", "-e", "trace=%net", "-o", "/dev/null"]),
    ]
    if have_perf:
        result.append(("perf trace -e sendto,recvfrom,write,read", ["perf", "trace", "-e", "sendto,recvfrom,write,read", "-o", "/dev/null", "--"]))
    result += [
        ("sockettrace --format strace -o /dev/null", [ST, "--format", "strace", "-e", "trace=%net", "-o", "/dev/null", "--"]),
        ("sockettrace -k --format strace -o /dev/null", [ST, "-k", "--format", "strace", "-e", "trace=%net", "-o", "/dev/null", "--"]),
        ("sockettrace --format jsonl (trace file)", [ST, "--kernel", "off", "--format", "jsonl", "-o", os.path.join(trace_dir, "t.jsonl"), "--"]),
        ("sockettrace trace file + kernel chains", [ST, "--kernel", "on", "--format", "jsonl", "-o", os.path.join(trace_dir, "k.jsonl"), "--"]),
    ]
    return result

def run(command):
    start = time.monotonic()
    done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.monotonic() - start
    if done.returncode != 0:
        raise SystemExit("failed (%d): %s\n%s" % (done.returncode, " ".join(command), done.stderr.decode()[-2000:]))
    return elapsed

def main():
    with tempfile.TemporaryDirectory() as trace_dir:
        loads, kits = workloads(), tools(trace_dir)
        times = {(w, t): [] for w, _ in loads for t, _ in kits}
        port = 24000 + os.getpid() % 1000 * 5
        for round_number in range(REPEAT):
            for load_name, load in loads:
                for tool_name, prefix in kits:
                    port += 1
                    command = prefix + [part.replace("PORT", str(port)) for part in load]
                    times[(load_name, tool_name)].append(run(command))
            print("round %d/%d done" % (round_number + 1, REPEAT), file=sys.stderr)
    lines = ["| workload | tool | median s | × untraced | × strace |", "| --- | --- | --- | --- | --- |"]
    for load_name, _ in loads:
        base = statistics.median(times[(load_name, "untraced")])
        strace = statistics.median(times[(load_name, kits[2][0])])
        for tool_name, _ in kits:
            m = statistics.median(times[(load_name, tool_name)])
            lines.append("| %s | %s | %.3f | %.2f | %.2f |" % (load_name, tool_name, m, m / base, m / strace))
    table = "\n".join(lines)
    header = "Measured %s on %s (%d cores), %d interleaved runs each%s; medians.\n\n" % (
        time.strftime("%Y-%m-%d"), os.uname().release, os.cpu_count(), REPEAT, ", quick sizes" if QUICK else "")
    print(header + table)
    with open(os.path.join(ROOT, "benchmarks", "results.md"), "w") as out:
        out.write("# Benchmark results\n\n`benchmarks/run.sh%s`\n\n" % (" --quick" if QUICK else "") + header + table + "\n")

main()
