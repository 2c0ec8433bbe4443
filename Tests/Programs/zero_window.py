# Zero-window probes: the receiver's small buffer fills and it stops
# reading; the sender's data waits, and its write timer, armed as the
# probe timer, sends window probes (tcp_send_probe0 → tcp_write_wakeup →
# tcp_xmit_probe_skb) from a softirq while the program sleeps; then the
# receiver reads everything. Run in a network namespace of its own
# (unshare -n): the kernel's TCPWinProbe counter then counts this
# connection's probes only, and the program writes "PROBES BYTES" to the
# file it is given.
import socket, subprocess, sys, time

port, out = int(sys.argv[1]), sys.argv[2]
subprocess.run(["ip", "link", "set", "lo", "up"], check=True)


def window_probes():
    lines = open("/proc/net/netstat").read().split("\n")
    for names, values in zip(lines[0::2], lines[1::2]):
        if names.startswith("TcpExt:"):
            return int(dict(zip(names.split()[1:], values.split()[1:]))["TCPWinProbe"])


listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
listener.bind(("127.0.0.1", port))
listener.listen()
client = socket.create_connection(("127.0.0.1", port))
client.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8192)
server, _ = listener.accept()
client.setblocking(False)
before = window_probes()
sent = 0
try:
    while True:
        sent += client.send(b"x" * 4096)
except BlockingIOError:
    pass
time.sleep(1.5)
received = 0
while received < sent:
    received += len(server.recv(65536))
client.close()
server.close()
listener.close()
probes = window_probes() - before  # a probe the timer sent as the reads began counts too
with open(out, "w") as f:
    f.write(f"{probes} {sent}\n")
