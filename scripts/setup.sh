#!/usr/bin/env bash
# Installs what sockettrace needs to build and test on a fresh Debian
# machine (libelf/libdw; libbpf and capstone to read the kernel's code;
# strace, linux-perf, bpftrace and gdb as references; gcc-multilib for 32-bit test
# programs; plantuml and chromium to render exports; python3, nodejs, socat,
# curl and iproute2 for the corpus of real programs; nftables to drop segments
# for retransmissions; liburing for a program whose socket work io_uring
# does), then builds the
# examples. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(libelf-dev libdw-dev libbpf-dev libcapstone-dev pkg-config make gcc gcc-multilib strace linux-perf bpftrace gdb plantuml chromium
          python3 nodejs socat iproute2 nftables curl liburing-dev)
missing=()
for package in "${packages[@]}"; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if ((${#missing[@]})); then
    echo "setup: installing ${missing[*]}"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

make -s -C examples
