# The kernel's TcpExt counters (/proc/net/netstat) of this network
# namespace, by name: imported by the test programs beside it.


def tcp_ext(name):
    lines = open("/proc/net/netstat").read().split("\n")
    for names, values in zip(lines[0::2], lines[1::2]):
        if names.startswith("TcpExt:"):
            return int(dict(zip(names.split()[1:], values.split()[1:]))[name])
