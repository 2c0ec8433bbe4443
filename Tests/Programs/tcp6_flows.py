# TCP over IPv6 on [::1]:PORT, one connection per run, a client and a
# server in one process. Usage: tcp6_flows.py MODE PORT
#
#   exchange    ping/pong, then the client shuts down for writing (its
#               FIN), the server reads the end and closes (the FIN back,
#               received in FIN_WAIT2: the client's ACK of it comes from
#               tcp_fin), then the client reads the end and closes
#   half_close  the client shuts down for writing (its FIN); the server
#               reads the end and still sends data, which arrives at a
#               socket that has sent its FIN (FIN_WAIT2); then both close
#   delack      ping/pong, a quick reply (the server enters pingpong mode
#               and delays its ACKs) then one held back 150 ms while the
#               process copies data through a UNIX socket pair: the
#               delayed-ACK timer fires on its CPU, in the softirq of a
#               timer interrupt during one of those calls
#   retransmit  six pings and a bulk transfer of 64 KiB in 1000-byte
#               segments, all while ESTABLISHED; run in a network
#               namespace of its own where nftables drops data segments
#               to PORT on input, every other one with PSH (the pings:
#               sent again by the write timer, a tail loss probe or the
#               RTO) and one in eight of those over 1000 bytes (the
#               bulk's: sent again on an incoming ACK, SACK's fast
#               retransmit or recovery). KernelTests' rules:
#                 nft add rule inet drops in tcp dport PORT tcp flags '&' psh == psh numgen inc mod 2 eq 0 drop
#                 nft add rule inet drops in tcp dport PORT meta length gt 1000 numgen inc mod 8 eq 3 drop
import socket
import sys
import threading
import time

mode, port = sys.argv[1], int(sys.argv[2])
listener = socket.socket(socket.AF_INET6)
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
if mode == "retransmit":
    # Cubic, whatever the default: BBR paces, and its pacing timer
    # (tcp_pace_kick, HRTIMER) would send part of the retransmissions, a
    # path the model has for neither family.
    listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, b"cubic")
listener.bind(("::1", port))
listener.listen()
client = socket.socket(socket.AF_INET6)
if mode == "retransmit":
    # Segments of 1000 bytes: a bulk write has several in flight, so that
    # the ones after a dropped segment draw duplicate ACKs (SACK).
    client.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, 1000)
    client.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, b"cubic")
client.connect(("::1", port))
server, _ = listener.accept()


def spin(seconds):
    """Busy in the kernel: 4 MiB at a time through a UNIX socket pair (traced
    calls, copying), so that the CPU stays this process's and a timer that
    expires meanwhile runs its softirq on the stack of a traced call."""
    a, b = socket.socketpair()
    a.setsockopt(socket.SOL_SOCKET, 32, 16 << 20)   # SO_SNDBUFFORCE (root)
    chunk, buffer = bytes(4 << 20), bytearray(4 << 20)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        a.sendall(chunk)
        b.recv_into(buffer, len(buffer), socket.MSG_WAITALL)
    a.close()
    b.close()


if mode == "exchange":
    client.sendall(b"ping")
    server.recv(100)
    server.sendall(b"pong")
    client.recv(100)
    # shutdown, not close: an orphaned FIN_WAIT2 socket goes to TIME_WAIT
    # as soon as its FIN is acknowledged, and the server (in pingpong mode
    # after its reply) acknowledges it alone once its delayed-ACK timer
    # fires, 40 ms on — before its own FIN whenever the tracer takes longer
    # than that between the two calls. Held open, the client's socket
    # waits in FIN_WAIT2 for the FIN whatever the delay.
    client.shutdown(socket.SHUT_WR)     # the client's FIN
    server.recv(100)                    # b"": the client's FIN
    server.close()                      # the FIN back, to a FIN_WAIT2 socket
    client.recv(100)                    # b"": the server's FIN
    client.close()
    time.sleep(0.05)
elif mode == "half_close":
    client.sendall(b"ping")
    server.recv(100)
    client.shutdown(socket.SHUT_WR)     # the client's FIN
    server.recv(100)                    # b""
    server.sendall(b"more")             # data after the client's FIN
    client.recv(100)
    server.sendall(b"again")
    client.recv(100)
    server.close()                      # the server's FIN, to FIN_WAIT2
    client.recv(100)                    # b""
    client.close()
    time.sleep(0.05)
elif mode == "delack":
    for _ in range(10):
        # A quick reply (within the delayed-ACK timeout of the ping) puts
        # the server in pingpong mode: it holds its next ACKs back ...
        client.sendall(b"ping")
        server.recv(100)
        server.sendall(b"pong")
        client.recv(100)
        # ... and a slow one lets the delayed-ACK timer send the ACK (and
        # take the server out of pingpong mode again).
        client.sendall(b"ping")
        server.recv(100)
        spin(0.15)
        server.sendall(b"pong")
        client.recv(100)
    client.close()
    server.close()
elif mode == "retransmit":
    def serve():
        for _ in range(6):
            server.recv(100)
            server.sendall(b"pong")
        left = bulk
        while left:
            left -= len(server.recv(left))
        server.sendall(b"done")
    bulk = 64 << 10
    thread = threading.Thread(target=serve)
    thread.start()
    for _ in range(6):
        client.sendall(b"ping")
        client.recv(100)
    client.sendall(b"x" * bulk)         # 1000-byte segments, several in flight
    client.recv(100)                    # b"done": all of it arrived
    thread.join()
    client.close()
    server.close()
else:
    sys.exit(f"unknown mode {mode}")
listener.close()
