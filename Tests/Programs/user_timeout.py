# A connection whose data never arrives: run in a network namespace where
# nftables drops every segment carrying data to 127.0.0.1:PORT, the client
# (TCP_USER_TIMEOUT 300 ms) retransmits from its timer until the kernel
# gives up and closes the connection; the blocked recv returns ETIMEDOUT,
# and the close that follows sends nothing. Usage: user_timeout.py PORT
import errno
import socket
import sys

port = int(sys.argv[1])
listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", port))
listener.listen()
client = socket.create_connection(("127.0.0.1", port))
server, _ = listener.accept()
client.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, 300)
client.send(b"ping")
try:
    client.recv(10)
    sys.exit("recv returned")
except OSError as error:
    if error.errno != errno.ETIMEDOUT:
        raise
client.close()
server.close()
listener.close()
