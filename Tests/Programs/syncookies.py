# Connections to a listener that answers every SYN with a SYN cookie: run
# in a network namespace of its own (unshare -n), where it sets
# net.ipv4.tcp_syncookies to 2 (cookies always, the namespace's own
# setting). Each handshake's last ACK is checked by cookie_v4_check (or
# cookie_v6_check) and makes the connection. Writes the kernel's count of
# valid cookies taken in (TcpExt SyncookiesRecv) to the file it is given.
# With a third argument "6", over IPv6 (::1); with a fourth, "plain", the
# namespace keeps its default (cookies only when the SYN queue overflows:
# none here).
import socket, subprocess, sys

from tcp_ext import tcp_ext

port, out = int(sys.argv[1]), sys.argv[2]
host, family = ("::1", socket.AF_INET6) if sys.argv[3:4] == ["6"] else ("127.0.0.1", socket.AF_INET)
subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
if sys.argv[4:5] != ["plain"]:
    with open("/proc/sys/net/ipv4/tcp_syncookies", "w") as f:
        f.write("2\n")

listener = socket.socket(family)
listener.bind((host, port))
listener.listen(8)
before = tcp_ext("SyncookiesRecv")
for _ in range(3):
    client = socket.create_connection((host, port))
    server, _ = listener.accept()
    client.send(b"hi")
    server.recv(10)
    server.close()
    client.close()
listener.close()
with open(out, "w") as f:
    f.write(f"{tcp_ext('SyncookiesRecv') - before}\n")
