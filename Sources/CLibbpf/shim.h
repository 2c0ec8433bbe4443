// libbpf (Debian's libbpf-dev): loads the small BPF programs through which
// sockettrace reads the running kernel's machine code (no /proc/kcore
// here) and captures the data calls (read, write) of traced programs
// without stopping them; its BTF API gives the kernel's structure offsets.
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
