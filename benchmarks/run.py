#!/usr/bin/env python3
"""Overhead of sockettrace, side by side with strace, perf and the bare
ptrace floor, on the same workloads in one run: every tool runs each
workload in turn (interleaved), REPEAT times; the table shows median wall
times and ratios to untraced and to strace. Usage: benchmarks/run.sh [--quick] [--long] [--target]
(--long adds a 10M-call trace to the Scale table: about 7 minutes here;
--target measures only the ping-pong target in pairs, printed, results.md
left as it was: a few minutes, for a check after a change)"""
import os, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, "benchmarks", ".build")
ST = os.path.join(ROOT, ".build", "release", "sockettrace")
QUICK = "--quick" in sys.argv
LONG = "--long" in sys.argv
TARGET = "--target" in sys.argv
REPEAT = 3 if QUICK else 5
SCALE = 0.25 if QUICK else 1.0

def workload(name):
    return os.path.join(BUILD, name)

def workloads():
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

STRACE = "strace -f -e trace=%net -o /dev/null"
STRACE_COMMAND = STRACE.split()
# strace's fastest mode: a seccomp filter stops the tracee only at the traced
# calls. Each sockettrace row is divided by the one tracing the same calls:
# -e trace=%net rows by the first, the trace file (every socket call,
# read and write on sockets included) by the second.
STRACE_SECCOMP = "strace -f --seccomp-bpf -e trace=%net -o /dev/null"
STRACE_SECCOMP_RW = "strace -f --seccomp-bpf -e trace=%net,read,write -o /dev/null"
def seccomp_peer(tool_name):
    """The strace --seccomp-bpf row that traces the same calls as `tool_name`."""
    return STRACE_SECCOMP_RW if ("jsonl" in tool_name or "trace file" in tool_name or "timeline" in tool_name) else STRACE_SECCOMP

def trace_file(directory, kernel, stop_data_calls=False):
    """sockettrace writing the trace file into `directory`, with or without
    kernel chains; with `stop_data_calls`, reads and writes stop as other
    calls do instead of being recorded by the kernel."""
    return [ST, "--kernel", "on" if kernel else "off", "--format", "jsonl"] + (["--stop-data-calls"] if stop_data_calls else []) + [
            "-o", os.path.join(directory, "k.jsonl" if kernel else "t.jsonl"), "--"]
def timeline(directory):
    """sockettrace as run with no options (the text timeline, kernel chains
    where permitted), the timeline written to a file in `directory`."""
    return [ST, "-o", os.path.join(directory, "timeline.txt"), "--"]

def default_probes():
    """The tracepoints of the model's default probe set (Probes/probes.conf)."""
    probes, in_default = [], False
    for line in open(os.path.join(ROOT, "Probes", "probes.conf")):
        words = line.split()
        if len(words) >= 2 and words[0] == "set":
            in_default = words[1] == "default"
        elif in_default and words and ":" in words[0] and not words[0].startswith("#"):
            probes.append(words[0])
    return probes

def tools(trace_dir):
    have_perf = subprocess.run(["perf", "trace", "-e", "sendto", "true"], capture_output=True).returncode == 0
    result = [
        ("untraced", []),
        ("ptrace floor (every stop, reads nothing)", [workload("ptrace_floor")]),
        ("seccomp floor (stops at socket calls only, reads nothing)", [workload("ptrace_floor"), "--seccomp"]),
        (STRACE, STRACE_COMMAND),
        (STRACE_SECCOMP, STRACE_SECCOMP.split()),
        (STRACE_SECCOMP_RW, STRACE_SECCOMP_RW.split()),
    ]
    if have_perf:
        result.append(("perf trace -e sendto,recvfrom,write,read", ["perf", "trace", "-e", "sendto,recvfrom,write,read", "-o", "/dev/null", "--"]))

    result += [
        ("sockettrace --format strace -o /dev/null", [ST, "--format", "strace", "-e", "trace=%net", "-o", "/dev/null", "--"]),
        ("sockettrace -k --format strace -o /dev/null", [ST, "-k", "--format", "strace", "-e", "trace=%net", "-o", "/dev/null", "--"]),
        ("sockettrace --format jsonl (trace file)", trace_file(trace_dir, False)),
        ("sockettrace trace file + kernel chains", trace_file(trace_dir, True)),
        ("sockettrace trace file + kernel chains, --stop-data-calls", trace_file(trace_dir, True, True)),
        ("sockettrace text timeline + kernel chains (the default)", timeline(trace_dir)),
    ]
    return result

def helper_running():
    """Whether sockettrace's release helper (st-release) still closes the
    perf events of an earlier run: each tracepoint's last close waits for an
    RCU grace period, one after another (1.4-2.4 s after a kernel-chains
    run here), while the next run would start."""
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/comm" % entry) as comm:
                    if comm.read().strip() == "st-release":
                        return True
            except OSError:
                pass
    return False

def run(command):
    # Let the previous run's teardown finish first: sockettrace's release
    # helper, and the kernel's own unregistering after perf.
    deadline = time.monotonic() + 15
    while helper_running() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    start = time.monotonic()
    done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.monotonic() - start
    if done.returncode != 0:
        raise SystemExit("failed (%d): %s\n%s" % (done.returncode, " ".join(command), done.stderr.decode()[-2000:]))
    return elapsed

def interleaved(kits, keys, rounds, command):
    """Runs every tool on each key (a workload, a size: `command(prefix,
    key)`) in turn, one key after another, `rounds` times, each round
    starting at another tool, so that none always runs right after the same
    one (after strace's and the ptrace floor's long runs the next run here
    was 2x slower for a while). Wall times by (tool, key)."""
    times = {}
    for round_number in range(rounds):
        shift = round_number * len(kits) // rounds
        for key in keys:
            for tool_name, prefix in kits[shift:] + kits[:shift]:
                times.setdefault((tool_name, key), []).append(run(command(prefix, key)))
        print("round %d/%d done" % (round_number + 1, rounds), file=sys.stderr)
    return times

def cpu_ticks():
    """(steal, total) jiffies of all CPUs, from /proc/stat."""
    with open("/proc/stat") as stat:
        fields = [int(value) for value in stat.readline().split()[1:9]]
    return fields[7], sum(fields)

def main():
    steal_before, total_before = cpu_ticks()
    with tempfile.TemporaryDirectory() as trace_dir:
        loads, kits = workloads(), tools(trace_dir)
        ports = iter(range(24000 + os.getpid() % 1000 * 5, 65536))
        by_name = dict(loads)
        def command(prefix, load_name):
            # Each run its own port: a server's port may linger in TIME_WAIT.
            port = str(next(ports))
            return prefix + [part.replace("PORT", port) for part in by_name[load_name]]
        times = interleaved(kits, [name for name, _ in loads], REPEAT, command)
    lines = ["| workload | tool | median s | × untraced | × strace | × strace --seccomp-bpf (same calls) |",
             "| --- | --- | --- | --- | --- | --- |"]
    for load_name, _ in loads:
        base = statistics.median(times[("untraced", load_name)])
        strace = statistics.median(times[(STRACE, load_name)])
        for tool_name, _ in kits:
            m = statistics.median(times[(tool_name, load_name)])
            seccomp = statistics.median(times[(seccomp_peer(tool_name), load_name)])
            lines.append("| %s | %s | %.3f | %.2f | %.2f | %.2f |" % (load_name, tool_name, m, m / base, m / strace, m / seccomp))
    table = "\n".join(lines)
    steal_after, total_after = cpu_ticks()
    header = "Measured %s on %s (%d cores), %d interleaved runs each%s; medians. The host took %.1f%% of the CPU time (steal) while this table ran.\n\n" % (
        time.strftime("%Y-%m-%d"), os.uname().release, os.cpu_count(), REPEAT, ", quick sizes" if QUICK else "",
        100.0 * (steal_after - steal_before) / max(total_after - total_before, 1))
    print(header + table)
    margin_table = margin()
    print(margin_table)
    target_table = target()
    print(target_table)
    stop_table = stop_work()
    print(stop_table)
    many_table = many_syscalls()
    print(many_table)
    scale_table = scale()
    print(scale_table)
    with open(os.path.join(ROOT, "benchmarks", "results.md"), "w") as out:
        out.write("# Benchmark results\n\n`benchmarks/run.sh%s`\n\n" % (" --quick" if QUICK else "") + header + table + "\n\n"
                  + margin_table + "\n\n" + target_table + "\n\n" + stop_table + "\n\n" + many_table + "\n\n" + scale_table + "\n")

def margin():
    """The cost of one more ping-pong round trip, tool by tool: the difference
    between two sizes over the difference in round trips (fixed costs, such as
    perf's ~1 s of start and teardown, cancel out). The ptrace floor stops
    where the trace file stops (every call of the loop is traced); with perf
    sampling the same tracepoints around it, that is a floor for kernel chains."""
    small, large = int(10000 * SCALE), int(40000 * SCALE)
    with tempfile.TemporaryDirectory() as directory:
        sampling = ["perf", "record", "-q", "-B", "-N", "-g", "--kernel-callchains", "-o", os.path.join(directory, "perf.data")]
        for probe in default_probes():
            sampling += ["-e", probe]
        kits = [("untraced", []),
                (STRACE, STRACE_COMMAND),
                (STRACE_SECCOMP_RW, STRACE_SECCOMP_RW.split()),
                ("ptrace floor", [workload("ptrace_floor")]),
                ("perf record -g, the default probe set's tracepoints (kernel sampling alone)", sampling + ["--"]),
                ("ptrace floor under that perf record (stops + kernel sampling)", sampling + ["--", workload("ptrace_floor")]),
                ("sockettrace trace file", trace_file(directory, False)),
                ("sockettrace trace file + kernel chains", trace_file(directory, True))]
        times = interleaved(kits, [small, large], REPEAT, lambda prefix, size: prefix + [workload("pingpong"), str(size)])
    per_trip = {tool: (statistics.median(times[(tool, large)]) - statistics.median(times[(tool, small)])) / (large - small) * 1e6
                for tool, _ in kits}
    rows = ["## Margin: one more ping-pong round trip", "",
            "%d and %d round trips, %d interleaved runs each, medians; µs per round trip = difference of the medians / %d." % (
                small, large, REPEAT, large - small), "",
            "| tool | µs per round trip | × strace | × strace --seccomp-bpf (read, write and %net) |", "| --- | --- | --- | --- |"]
    for tool, _ in kits:
        rows.append("| %s | %.0f | %.2f | %.2f |" % (tool, per_trip[tool], per_trip[tool] / per_trip[STRACE],
                                                   per_trip[tool] / per_trip[STRACE_SECCOMP_RW]))
    return "\n".join(rows)

def target():
    """The kernel-chains target on the ping-pong (<= 1.0x strace), in pairs:
    each sockettrace run is divided by the strace run just before or after
    it, so that the host's slow spells (runs here vary by +-15%) fall on both
    sides of a ratio."""
    trips = str(int(20000 * SCALE))
    pairs = 4 * REPEAT - 1
    strace = STRACE_COMMAND + [workload("pingpong"), trips]
    seccomp = STRACE_SECCOMP_RW.split() + [workload("pingpong"), trips]
    ratios = {"trace file + kernel chains": [], "trace file": [], "text timeline + kernel chains (the default)": []}
    seccomp_ratios = {name: [] for name in ratios}
    with tempfile.TemporaryDirectory() as directory:
        commands = {"trace file + kernel chains": trace_file(directory, True) + [workload("pingpong"), trips],
                    "trace file": trace_file(directory, False) + [workload("pingpong"), trips],
                    "text timeline + kernel chains (the default)": timeline(directory) + [workload("pingpong"), trips]}
        for number in range(pairs):
            for name, command in commands.items():
                # Which of the two runs first alternates.
                if number % 2 == 0:
                    ours, theirs, fastest = run(command), run(strace), run(seccomp)
                else:
                    fastest, theirs, ours = run(seccomp), run(strace), run(command)
                ratios[name].append(ours / theirs)
                seccomp_ratios[name].append(ours / fastest)
    rows = ["## The ping-pong target, in pairs", "",
            "`benchmarks/.build/pingpong %s`; %d pairs of runs, each sockettrace run against the `strace -f -e trace=%%net -o /dev/null` run next to it." % (trips, pairs), "",
            "| sockettrace | median ratio to strace | middle half of the ratios | pairs under 1.0 |", "| --- | --- | --- | --- |"]
    rows += ratio_rows(ratios)
    rows += ["", "The same pairs against `%s` (strace's fastest mode, the same calls stopped at), run beside them:" % STRACE_SECCOMP_RW, "",
             "| sockettrace | median ratio to strace --seccomp-bpf | middle half of the ratios | pairs under 1.0 |", "| --- | --- | --- | --- |"]
    rows += ratio_rows(seccomp_ratios)
    return "\n".join(rows)

def ratio_rows(ratios):
    """A table row per tool: the median of its ratios, their middle half, how many under 1.0."""
    rows = []
    for name, values in ratios.items():
        ordered = sorted(values)
        quarter = len(ordered) // 4
        rows.append("| %s | %.2f | %.2f-%.2f | %d of %d |" % (name, statistics.median(ordered), ordered[quarter], ordered[-1 - quarter],
                                                            sum(1 for value in ordered if value < 1.0), len(ordered)))
    return rows

def stop_work():
    """What a tracer's work at a stop costs the traced program: the ptrace
    floor, then the same asking PTRACE_GET_SYSCALL_INFO at every stop, then
    also reading a byte of the program's memory at every stop, beside strace
    and sockettrace's trace file (which asks at every stop and reads at half
    of them: a write's entry, a read's exit) on the ping-pong."""
    trips = str(int(20000 * SCALE))
    with tempfile.TemporaryDirectory() as directory:
        kits = [("ptrace floor", [workload("ptrace_floor")]),
                ("ptrace floor --info (PTRACE_GET_SYSCALL_INFO at every stop)", [workload("ptrace_floor"), "--info"]),
                ("ptrace floor --read (that, and a 1-byte process_vm_readv at every stop)", [workload("ptrace_floor"), "--read"]),
                (STRACE, STRACE_COMMAND),
                ("sockettrace trace file", trace_file(directory, False))]
        runs = 2 * REPEAT
        times = interleaved(kits, [trips], runs, lambda prefix, trips: prefix + [workload("pingpong"), trips])
    floor = statistics.median(times[("ptrace floor", trips)])
    stops = 8 * int(trips)
    rows = ["## A tracer's work at a stop", "",
            "`benchmarks/.build/pingpong %s` (%d stops: each round trip's two writes and two reads, entry and exit); %d interleaved runs each, medians." % (trips, stops, runs), "",
            "| tool | median s | × ptrace floor | µs per stop against the floor |", "| --- | --- | --- | --- |"]
    for tool, _ in kits:
        m = statistics.median(times[(tool, trips)])
        rows.append("| %s | %.3f | %.2f | %.1f |" % (tool, m, m / floor, (m - floor) / stops * 1e6))
    return "\n".join(rows)

def many_syscalls():
    """The target of a million untraced syscalls (few socket calls) at full
    size even with --quick (without strace's and the ptrace floor's stop at
    every call, each run takes a quarter of a second), beside what seccomp
    itself costs: a filter that allows everything, with no tracer at all."""
    calls = "1000000"
    kits = [("untraced", []),
            ("seccomp filter alone (allows every call, no tracer)", [workload("ptrace_floor"), "--filter-only"]),
            ("seccomp floor (stops at socket calls only, reads nothing)", [workload("ptrace_floor"), "--seccomp"]),
            ("strace -f --seccomp-bpf -e trace=%net -o /dev/null", ["strace", "-f", "--seccomp-bpf", "-e", "trace=%net", "-o", "/dev/null"]),
            ("sockettrace --format strace -e trace=%net -o /dev/null", [ST, "--format", "strace", "-e", "trace=%net", "-o", "/dev/null", "--"])]
    runs = 3 * REPEAT
    times = interleaved(kits, [calls], runs, lambda prefix, calls: prefix + [workload("manysyscalls"), calls])
    base = statistics.median(times[("untraced", calls)])
    rows = ["## A million syscalls, 200 of them socket calls", "",
            "`benchmarks/.build/manysyscalls 1000000`, %d interleaved runs each, medians." % runs, "",
            "| tool | median s | × untraced |", "| --- | --- | --- |"]
    for tool, _ in kits:
        m = statistics.median(times[(tool, calls)])
        rows.append("| %s | %.3f | %.2f |" % (tool, m, m / base))
    return "\n".join(rows)

def measured(command):
    """Wall seconds and peak resident memory (MiB) of one run, from GNU time."""
    done = subprocess.run(["/usr/bin/time", "-f", "%e %M"] + command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if done.returncode != 0:
        raise SystemExit("failed: %s\n%s" % (" ".join(command), done.stderr.decode()[-2000:]))
    wall, kilobytes = done.stderr.decode().strip().splitlines()[-1].split()
    return float(wall), int(kilobytes) / 1024

def scale():
    """Long runs: the tracer's memory at 10k and 1M syscalls, report of a
    1M-record trace, and kernel samples kept or lost in a burst."""
    rows = ["## Scale", "", "| what | wall s | peak MiB | notes |", "| --- | --- | --- | --- |"]
    small, large = 2500, int(250000 * SCALE)
    for trips in (small, large):
        wall, mib = measured([ST, "--kernel", "off", "--format", "jsonl", "-o", "/dev/null", workload("pingpong"), str(trips)])
        rows.append("| sockettrace trace file, ping-pong %d syscalls | %.2f | %.1f | tracer memory |" % (trips * 4, wall, mib))
    if LONG:
        # 10M recorded calls against 10k: the tracer's memory must not grow with the trace.
        # On one CPU (4x faster here, and the tracer is rarely idle there, the hard case for its output queue).
        for calls in (10000, 10000000):
            wall, mib = measured(["taskset", "-c", "0", ST, "--kernel", "off", "--format", "jsonl", "-o", "/dev/null",
                                  workload("socketcalls"), str(calls)])
            rows.append("| sockettrace trace file, %d getsockname calls, one CPU | %.2f | %.1f | tracer memory |" % (calls, wall, mib))
    with tempfile.TemporaryDirectory() as directory:
        trace = os.path.join(directory, "big.jsonl")
        trips = int(125000 * SCALE)
        subprocess.run([ST, "--kernel", "off", "--format", "jsonl", "-o", trace, workload("pingpong"), str(trips)],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        records = sum(1 for _ in open(trace, "rb"))
        wall, mib = measured([ST, "report", trace])
        rows.append("| sockettrace report (%d records, %d MB) | %.2f | %.1f | text timeline of the whole file |"
                    % (records, os.path.getsize(trace) // 1000000, wall, mib))
        for pages in ("256", "1"):
            saved = os.path.join(directory, "burst-%s.jsonl" % pages)
            wall, mib = measured([ST, "--kernel", "on", "--kernel-buffer-pages", pages, "-e", "trace=connect,accept,close",
                                  "-o", "/dev/null", "--save", saved, workload("burst")])
            end = [line for line in open(saved, "rb")][-1].decode()
            import json
            summary = json.loads(end)
            rows.append("| kernel samples, 10 MiB loopback burst, ring of %s pages | %.2f | %.1f | %d samples, %d lost |"
                        % (pages, wall, mib, summary.get("kernel_samples", 0), summary.get("lost_kernel_samples", 0)))
    return "\n".join(rows)

if __name__ == "__main__":
    if TARGET:
        print("Measured %s on %s (%d cores)%s.\n" % (time.strftime("%Y-%m-%d %H:%M"), os.uname().release, os.cpu_count(),
                                                  ", quick sizes" if QUICK else ""))
        print(target())
    else:
        main()
