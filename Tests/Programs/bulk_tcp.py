# A bulk TCP send over loopback read in small pieces: 64 sends of 64 KiB
# from a forked client, read 4 KiB at a time by a server that starts
# reading late (the buffers fill). The receiver's window updates are sent
# from its recv calls, the sender's queued data goes out as those updates
# arrive (in the receive softirq, on the receiver's stack, or from the
# sender's socket backlog), and the last of it after the sender's close.
# Usage: bulk_tcp.py PORT [6]
import os
import socket
import sys
import time

port = int(sys.argv[1])
six = len(sys.argv) > 2 and sys.argv[2] == "6"
family, host = (socket.AF_INET6, "::1") if six else (socket.AF_INET, "127.0.0.1")
listener = socket.socket(family)
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind((host, port))
listener.listen(1)
if os.fork() == 0:
    client = socket.create_connection((host, port))
    data = b"x" * 65536
    for _ in range(64):
        client.sendall(data)
    client.close()
    os._exit(0)
server, _ = listener.accept()
time.sleep(0.05)
total = 0
while True:
    piece = server.recv(4096)
    if not piece:
        break
    total += len(piece)
server.close()
os.wait()
print("received", total)
