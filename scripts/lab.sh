#!/usr/bin/env bash
# Runs a command as root inside a throwaway VM booted with a Debian kernel,
# so sockettrace can be tried against a kernel other than the host's:
#
#   scripts/lab.sh [--kernel VERSION] -- COMMAND [ARGS...]
#   scripts/lab.sh [--kernel VERSION] --debug-info [-- COMMAND [ARGS...]]
#
# --debug-info fetches, once, the kernel's matching -dbg package (Debian's
# linux-image-RELEASE-dbg, same version as the -unsigned image; ~860 MB),
# keeps only its vmlinux (with DWARF) in the cache and prints its path on
# stdout; for sockettrace's --vmlinux. Without a command it stops there; with
# one, the command also finds the path in $LAB_VMLINUX.
#
# The guest sees the host's filesystem (virtme-ng's default: the host root
# over 9p, read-only), with this checkout and /tmp writable. It has no network.
# Prints the command's output and exits with its status. Installs what it
# needs on first use (qemu and kmod from apt, the kernel package unpacked
# into a cache, virtme-ng from PyPI into a venv in that cache).
set -euo pipefail

series=6.1   # Debian 12's own kernel series
debug_info=""
usage="usage: $0 [--kernel VERSION] [--debug-info] -- COMMAND [ARGS...]"
while (($#)); do
    case "$1" in
        --kernel) series="${2:?--kernel needs a VERSION, e.g. 6.1}"; shift 2 ;;
        --debug-info) debug_info=1; shift ;;
        --) shift; break ;;
        *) echo "$usage" >&2; exit 2 ;;
    esac
done
(($#)) || [ -n "$debug_info" ] || { echo "$usage" >&2; exit 2; }

repo="$(cd "$(dirname "$0")/.." && pwd)"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/sockettrace/lab"
mkdir -p "$cache"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
log() { echo "lab: $*" >&2; }

# --- host packages: apt-get update once, and only if something is missing.
updated=""
apt_install() {
    [ -n "$updated" ] || { $sudo apt-get update -qq; updated=1; }
    log "installing $*"
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}
missing=()
command -v qemu-system-x86_64 >/dev/null || missing+=(qemu-system-x86)
command -v modprobe >/dev/null || missing+=(kmod)
# virtme-ng builds its initramfs, which loads the 9p and virtio modules of
# Debian's kernel before mounting the host root, around a static busybox.
command -v busybox >/dev/null || missing+=(busybox-static)
python3 -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
((${#missing[@]} == 0)) || apt_install "${missing[@]}"

# --- the kernel: newest "-unsigned" generic image of the series that apt
# offers (the name changes with Debian's ABI bumps, e.g. 6.1.0-53; Debian 12
# also has 6.12.x+deb12). The -unsigned package holds both /boot/vmlinuz-*
# and /lib/modules/*, unpacked once into the cache.
arch="$(dpkg --print-architecture)"
find_package() {
    # 6.1.0-57-amd64, 6.12.118+deb12-amd64; not the -cloud or -rt flavours.
    apt-cache search --names-only "^linux-image-${series//./\\.}[-.+][-.+0-9a-z]*-${arch}-unsigned\$" |
        cut -d' ' -f1 | grep -v -E -- '-(cloud|rt)-' | sort -V | tail -1 || true
}
package="$(find_package)"
if [ -z "$package" ] && [ -z "$updated" ]; then
    $sudo apt-get update -qq; updated=1; package="$(find_package)"
fi
[ -n "$package" ] || { log "apt offers no linux-image-$series*-$arch-unsigned"; exit 1; }
release="${package#linux-image-}"; release="${release%-unsigned}"
root="$cache/$package"     # the package's files, unpacked
if [ ! -e "$root/boot/vmlinuz-$release" ]; then
    log "fetching $package"
    tmp="$(mktemp -d "$cache/download.XXXXXX")"
    chmod 755 "$tmp"   # apt's _apt sandbox user must be able to write here
    (cd "$tmp" && apt-get download -qq "$package" 2>/dev/null) ||
        { $sudo apt-get update -qq; (cd "$tmp" && apt-get download -qq "$package"); }
    dpkg-deb -x "$tmp"/*.deb "$tmp/root"
    rm -rf "$root"; mv "$tmp/root" "$root"; rm -rf "$tmp"
fi

# --- --debug-info: the -dbg package of the same version as the image, of
# which only usr/lib/debug/boot/vmlinux-RELEASE is kept (5.6 GB unpacked in
# all, the vmlinux ~500 MB). The .deb is deleted once the vmlinux is out.
if [ -n "$debug_info" ]; then
    vmlinux="$cache/debug/vmlinux-$release"
    if [ ! -s "$vmlinux" ]; then
        dbg="linux-image-$release-dbg"
        # The unpacked image's own version, from its changelog's first line:
        # "linux (6.1.192-3) bookworm-security; urgency=high".
        # (sed reads it all: an early exit would fail the pipe under pipefail.)
        version="$(zcat "$root"/usr/share/doc/*/changelog.Debian.gz |
            sed -n '1s/^[^ ]* (\([^)]*\)).*/\1/p')"
        [ -n "$version" ] || { log "no version in $root's changelog"; exit 1; }
        log "fetching $dbg=$version (~860 MB, once)"
        mkdir -p "$cache/debug"
        tmp="$(mktemp -d "$cache/debug/download.XXXXXX")"
        chmod 755 "$tmp"
        t0="$(date +%s)"
        (cd "$tmp" && apt-get download -qq "$dbg=$version" 2>/dev/null) ||
            { $sudo apt-get update -qq; (cd "$tmp" && apt-get download -qq "$dbg=$version"); }
        t1="$(date +%s)"
        dpkg-deb --fsys-tarfile "$tmp"/*.deb |
            tar -x -C "$tmp" "./usr/lib/debug/boot/vmlinux-$release"
        mv "$tmp/usr/lib/debug/boot/vmlinux-$release" "$vmlinux"
        rm -rf "$tmp"
        log "fetched in $((t1 - t0)) s, vmlinux extracted in $(($(date +%s) - t1)) s"
    fi
    echo "$vmlinux"
    (($#)) || exit 0
    export LAB_VMLINUX="$vmlinux"
fi

# --- virtme-ng, from PyPI into a venv of its own.
venv="$cache/venv"
if [ ! -x "$venv/bin/vng" ]; then
    log "installing virtme-ng into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q virtme-ng
fi
vng="$venv/bin/vng"
export PATH="$venv/bin:$PATH"   # vng runs its helpers (virtme-run) from PATH

# Common options: the unpacked kernel (vng finds its modules in the
# ../lib/modules beside it and runs depmod on them), no network (vng's
# default), 9p for the host root (virtiofsd is not installed), the checkout
# and /tmp writable in the guest.
vng_args=(--run "$root/boot/vmlinuz-$release" --force-9p -m 2G -p 2 --rwdir /tmp)
[[ "$repo/" == /tmp/* ]] || vng_args+=(--rwdir "$repo")

# --- KVM: nested KVM on this kind of VM may hang right after "Booting from
# ROM", so use it only when a test boot under KVM finishes quickly. The answer
# is kept in the cache; delete $cache/kvm to ask again.
if [ ! -e "$cache/kvm" ]; then
    answer=no
    if [ -w /dev/kvm ]; then
        log "checking whether KVM works here (up to 60 s, once)"
        # timeout signals its whole process group, so qemu goes too.
        timeout 60 "$vng" "${vng_args[@]}" -e true </dev/null >/dev/null 2>&1 && answer=yes
    fi
    echo "$answer" >"$cache/kvm"
fi
if [ "$(cat "$cache/kvm")" = yes ]; then accel=KVM; else accel=TCG; vng_args+=(--disable-kvm); fi
# LAB_TCG_THREAD=single: one host thread runs every vCPU in turn (QEMU's
# -accel tcg,thread=single) instead of one thread each: for code that patches
# itself while the other vCPU runs it (ftrace's live patching; docs/lab.md).
if [ "$accel" = TCG ] && [ -n "${LAB_TCG_THREAD:-}" ]; then
    vng_args+=(--qemu-opts="-accel tcg,thread=$LAB_TCG_THREAD")
    accel="TCG ($LAB_TCG_THREAD-threaded)"
fi

# --- LAB_GDB_PORT=PORT: QEMU's gdb stub on 127.0.0.1:PORT, to look at a guest
# too stuck to report on itself (scripts/lab-vcpus.sh). With LAB_VCPUS_AFTER="N…"
# as well, what each vCPU runs is read that way N seconds after the start (each N) and
# appended to $LAB_VCPUS_REPORT (or stderr), if the VM still runs; the guest's
# /proc/kallsyms in $LAB_KALLSYMS (the command writes it) names the addresses,
# and the -dbg vmlinux, if cached, gives backtraces.
watcher=""
stop_watcher() {
    if [ -n "$watcher" ]; then
        pkill -P "$watcher" sleep 2>/dev/null || true
        kill "$watcher" 2>/dev/null || true
        watcher=""
    fi
}
if [ -n "${LAB_GDB_PORT:-}" ]; then
    vng_args+=(--qemu-opts="-gdb tcp:127.0.0.1:$LAB_GDB_PORT")
    if [ -n "${LAB_VCPUS_AFTER:-}" ]; then
        dbg="$cache/debug/vmlinux-$release"
        [ -s "$dbg" ] || dbg=""
        ( waited=0
          for at in $LAB_VCPUS_AFTER; do
              sleep $((at - waited)) || exit
              waited=$at
              "$repo/scripts/lab-vcpus.sh" "$LAB_GDB_PORT" "${LAB_KALLSYMS:-}" "$dbg" >>"${LAB_VCPUS_REPORT:-/dev/stderr}" 2>&1
          done ) &
        watcher=$!
    fi
fi

# --- run, in the guest's copy of the current directory (vng's default).
# The guest writes its clock to a marker in /tmp just before the command
# starts, which tells how long the boot took.
marker="$(mktemp /tmp/lab-boot.XXXXXX)"
# The command, quoted for bash, in a script the guest runs (its /bin/sh,
# dash, would not read bash's $'...' quoting of newlines).
script="$marker.sh"
trap 'rm -f "$marker" "$script"; stop_watcher' EXIT
printf -v command ' %q' "$@"
printf 'date +%%s >%q\nexec%s\n' "$marker" "$command" >"$script"
start="$(date +%s)"
status=0
# qemu reopens /proc/self/fd/1 and 2 with O_TRUNC, which would clobber a
# log file the caller redirected us to: hand it pipes instead. No stdin.
"$vng" "${vng_args[@]}" -e "bash $script" \
    </dev/null 2> >(cat >&2) | cat || status=${PIPESTATUS[0]}
stop_watcher   # the VM is gone: no vCPUs left to read (and `wait` would wait for it)
wait   # for the stderr copier: its last lines come before ours
booted="$(cat "$marker" 2>/dev/null)"
if [ -n "$booted" ]; then
    log "booted $release under $accel in $((booted - start)) s, ran in $(($(date +%s) - booted)) s"
else
    log "the $release VM under $accel did not reach the command (status $status)"
fi
exit "$status"
