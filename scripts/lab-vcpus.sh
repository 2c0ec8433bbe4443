#!/usr/bin/env bash
# What each vCPU of a lab VM is doing, read from QEMU's gdb stub (the seeds'
# gdb-on-QEMU method, for a guest too stuck to say it itself):
#
#   scripts/lab-vcpus.sh PORT [KALLSYMS [VMLINUX]]
#
# PORT is the stub's (scripts/lab.sh with LAB_GDB_PORT=PORT). KALLSYMS, a copy
# of the guest's /proc/kallsyms, names each vCPU's instruction pointer; with
# VMLINUX too (Debian's -dbg vmlinux, scripts/lab.sh --debug-info) gdb loads
# its symbols at the guest's KASLR offset and prints each vCPU's backtrace.
# gdb stops the vCPUs while it reads them and lets them go on when it detaches.
set -uo pipefail
port="${1:?usage: $0 PORT [KALLSYMS [VMLINUX]]}"
kallsyms="${2:-}"
vmlinux="${3:-}"
commands=(-ex "set pagination off" -ex "set confirm off")
if [ -n "$vmlinux" ] && [ -s "$vmlinux" ] && [ -s "$kallsyms" ]; then
    running=$(awk '$3 == "_text" { print $1; exit }' "$kallsyms")
    built=$(nm "$vmlinux" 2>/dev/null | awk '$3 == "_text" { print $1; exit }')
    if [ -n "$running" ] && [ -n "$built" ]; then
        commands+=(-ex "symbol-file -o $((0x$running - 0x$built)) $vmlinux")
    fi
fi
commands+=(-ex "target remote 127.0.0.1:$port" -ex "info threads" -ex "thread apply all bt 30"
           -ex "thread apply all info registers rip rsp" -ex "detach")
echo "== vCPUs at $(date +%T) (gdb stub 127.0.0.1:$port)"
out="$(timeout 120 gdb -batch -nx "${commands[@]}" 2>&1)"
echo "$out"
# Without symbols gdb shows bare addresses: name them from the guest's kallsyms.
if [ -s "$kallsyms" ]; then
    echo "$out" | grep -oE '0xffffffff[0-9a-f]{8}' | sort -u | python3 -c '
import bisect, sys
symbols = []
for line in open(sys.argv[1]):
    parts = line.split()
    if len(parts) >= 3 and parts[1] in "tTwW":
        symbols.append((int(parts[0], 16), parts[2]))
symbols.sort()
end = next((s for s, name in symbols if name == "_etext"), None)
starts = [s for s, _ in symbols]
for text in sys.stdin:
    address = int(text, 16)
    if end is not None and address >= end:
        continue   # not code: a stack pointer into the image
    index = bisect.bisect_right(starts, address) - 1
    if index >= 0:
        print("%s = %s+0x%x" % (text.strip(), symbols[index][1], address - symbols[index][0]))
' "$kallsyms"
fi
