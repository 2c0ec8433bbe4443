// libbpf (Debian's libbpf-dev): loads the small BPF program through which
// sockettrace reads the running kernel's machine code (no /proc/kcore here).
#include <bpf/bpf.h>
#include <linux/bpf.h>
