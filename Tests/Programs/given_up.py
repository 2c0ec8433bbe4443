# Connections the kernel's timers end, in a network namespace of its own
# (unshare -n): a connect whose SYNs an nftables rule drops, given up by
# the retransmission timer after TCP_SYNCNT=1 (SYN_SENT → CLOSE,
# ETIMEDOUT), and an orphaned FIN_WAIT2 socket (TCP_LINGER2 61 s, so its
# keepalive timer fires after a second) whose peer never closes, ended by
# that timer (FIN_WAIT2 → CLOSE, its TIME_WAIT taking over). Writes what
# the connect returned to the file it is given.
import errno, socket, subprocess, sys, time

port, out = int(sys.argv[1]), sys.argv[2]
subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
subprocess.run(["nft", "-f", "-"], check=True, input=f"""
table inet given_up {{
  chain input {{
    type filter hook input priority 0;
    tcp dport {port + 1} tcp flags & (syn | ack) == syn drop
  }}
}}
""".encode())

client = socket.socket()
client.setsockopt(socket.IPPROTO_TCP, socket.TCP_SYNCNT, 1)
try:
    client.connect(("127.0.0.1", port + 1))
    result = "connected"
except OSError as error:
    result = errno.errorcode.get(error.errno, str(error.errno))
client.close()

listener = socket.socket()
listener.bind(("127.0.0.1", port))
listener.listen()
orphan = socket.create_connection(("127.0.0.1", port))
server, _ = listener.accept()
orphan.setsockopt(socket.IPPROTO_TCP, socket.TCP_LINGER2, 61)
orphan.close()
server.recv(10)
time.sleep(1.8)
server.close()
listener.close()
with open(out, "w") as f:
    f.write(result + "\n")
