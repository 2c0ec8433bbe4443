# A listener closed, then one shut down, each with a connection it never
# accepted (data queued on it): the kernel resets that connection
# (inet_csk_listen_stop → inet_child_forget → tcp_disconnect); the client's
# recv sees the reset. Then a UDP socket bound over IPv6 (udp6_bind).
import socket, time

for how in ("close", "shutdown"):
    l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen()
    c = socket.create_connection(l.getsockname()); c.send(b"data"); time.sleep(0.02)
    if how == "close": l.close()
    else: l.shutdown(socket.SHUT_RDWR)
    time.sleep(0.02)
    try: c.recv(1); raise SystemExit("no reset")
    except ConnectionResetError: pass
    c.close()
u = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); u.bind(("::1", 0))
