# Keepalive probes: an idle connection whose client set SO_KEEPALIVE with
# TCP_KEEPIDLE and TCP_KEEPINTVL of a second; its keepalive timer sends a
# probe (tcp_keepalive_timer → tcp_write_wakeup → tcp_xmit_probe_skb, an
# old sequence number the server answers with an ACK) from a softirq while
# the program sleeps. Run in a network namespace of its own (unshare -n):
# the kernel's TCPKeepAlive counter then counts this connection's probes
# only, and the program writes it to the file it is given. With a third
# argument, over IPv6 (::1).
import socket, subprocess, sys, time

from tcp_ext import tcp_ext

port, out = int(sys.argv[1]), sys.argv[2]
host, family = ("::1", socket.AF_INET6) if len(sys.argv) > 3 else ("127.0.0.1", socket.AF_INET)
subprocess.run(["ip", "link", "set", "lo", "up"], check=True)

listener = socket.socket(family)
listener.bind((host, port))
listener.listen()
client = socket.create_connection((host, port))
server, _ = listener.accept()
before = tcp_ext("TCPKeepAlive")
client.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
client.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 1)
client.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 1)
time.sleep(2.6)
client.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 0)
probes = tcp_ext("TCPKeepAlive") - before
client.close()
server.close()
listener.close()
with open(out, "w") as f:
    f.write(f"{probes}\n")
