# Zero-window probes: the receiver's small buffer fills and it stops
# reading; the sender's data waits, and its write timer, armed as the
# probe timer, sends window probes (tcp_send_probe0 → tcp_write_wakeup →
# tcp_xmit_probe_skb) from a softirq while the program sleeps; then the
# receiver reads everything. Run in a network namespace of its own
# (unshare -n): the kernel's TCPWinProbe counter then counts this
# connection's probes only, and the program writes "PROBES BYTES" to the
# file it is given.
import socket, subprocess, sys, time

from tcp_ext import tcp_ext

port, out = int(sys.argv[1]), sys.argv[2]
subprocess.run(["ip", "link", "set", "lo", "up"], check=True)


listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
listener.bind(("127.0.0.1", port))
listener.listen()
client = socket.create_connection(("127.0.0.1", port))
client.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8192)
server, _ = listener.accept()
client.setblocking(False)
before = tcp_ext("TCPWinProbe")
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
probes = tcp_ext("TCPWinProbe") - before  # a probe the timer sent as the reads began counts too
with open(out, "w") as f:
    f.write(f"{probes} {sent}\n")
