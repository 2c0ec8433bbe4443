# A delayed ACK sent by the timer while the program sleeps: the server
# turns quick ACKs off, takes in 10 bytes and answers nothing; 40 ms later
# its delayed-ACK timer sends the ACK on whatever task runs on that CPU
# (an idle CPU's, the tracer's), not in a traced call.
import socket, sys, time

listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", int(sys.argv[1])))
listener.listen()
client = socket.create_connection(listener.getsockname())
server, _ = listener.accept()
for _ in range(3):
    server.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 0)
    client.send(b"x" * 10)
    time.sleep(0.2)
    server.recv(100)
client.close()
server.close()
listener.close()
