# A send that stops (sendto, let run to its exit when it is the only
# thread) followed at once by a write the kernel records without a stop,
# ten times on a TCP connection with Nagle off: each sendto must keep its
# own samples and come before the write.
import os, socket, sys

listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", int(sys.argv[1])))
listener.listen()
client = socket.socket()
client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
client.connect(listener.getsockname())
server, _ = listener.accept()
for _ in range(10):
    client.send(b"sss")
    os.write(client.fileno(), b"wwww")
    got = 0
    while got < 7:
        got += len(server.recv(100))
client.close()
server.close()
listener.close()
