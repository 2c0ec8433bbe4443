# A compressed SACK sent by its hrtimer: in a network namespace of its own
# (unshare -n), loopback with MTU 1500 and one segment per skb; netfilter
# drops the first data segment on input (a hole) and the first three ACKs
# back on output (the duplicate ACKs, so that the sender does not fill the
# hole at once). The receiver, quick ACKs off, compresses its next ACKs
# and its compressed-ACK hrtimer sends one. Writes the kernel's
# TCPAckCompressed count to the file it is given.
import socket, subprocess, sys, time

from tcp_ext import tcp_ext

port, out = int(sys.argv[1]), sys.argv[2]
for command in (
    "ip link set lo mtu 1500 gso_max_segs 1 gso_max_size 1500",
    "ip link set lo up",
    "nft add table inet sack",
    "nft add chain inet sack in { type filter hook input priority 0; }",
    f"nft add rule inet sack in tcp dport {port} meta length > 200 numgen inc mod 1000 == 0 drop",
    "nft add chain inet sack out { type filter hook output priority 0; }",
    f"nft add rule inet sack out tcp sport {port} tcp flags == ack numgen inc mod 1000 < 3 drop",
):
    subprocess.run(command.split(), check=True)


listener = socket.socket()
listener.bind(("127.0.0.1", port))
listener.listen()
client = socket.create_connection(("127.0.0.1", port))
server, _ = listener.accept()
server.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 0)
client.send(b"x" * 40000)
time.sleep(0.6)
received = 0
while received < 40000:
    received += len(server.recv(65536))
client.close()
server.close()
listener.close()
with open(out, "w") as f:
    f.write(f"{tcp_ext('TCPAckCompressed')}\n")
