# A client and a server thread exchanging ping/pong six times over
# 127.0.0.1:PORT; run in a network namespace where nftables drops every
# other data segment on input, each lost segment is sent again by the
# write timer (a tail loss probe, or the retransmission timer) in the
# TIMER softirq of whatever CPU it fires on. Usage: retransmit.py PORT
import socket
import sys
import threading

port = int(sys.argv[1])
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", port))
server.listen()


def serve():
    connection, _ = server.accept()
    while connection.recv(100):
        connection.sendall(b"pong")


threading.Thread(target=serve, daemon=True).start()
client = socket.create_connection(("127.0.0.1", port))
for _ in range(6):
    client.sendall(b"ping")
    client.recv(100)
client.close()
