# N blocking clients, each sending one line to a server in another process
# and reading it back. Usage: echo_clients.py PORT CLIENTS
import socket
import sys

port, clients = int(sys.argv[1]), int(sys.argv[2])
for number in range(clients):
    with socket.create_connection(("127.0.0.1", port)) as connection:
        message = b"hello %d\n" % number
        connection.sendall(message)
        received = b""
        while len(received) < len(message):
            received += connection.recv(4096)
