# A delayed ACK sent by the timer on the traced thread itself: as in
# delayed_ack.py the server turns quick ACKs off and takes in 10 bytes,
# but the program is held on one CPU and spins there (no syscalls) while
# it waits, so the timer's softirq, 40 ms later, runs on this thread
# between its calls: the ACK's sample is the thread's own event's, with
# no addresses of its own.
import os, socket, sys, time

os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", int(sys.argv[1])))
listener.listen()
client = socket.create_connection(listener.getsockname())
server, _ = listener.accept()
for _ in range(5):
    server.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 0)
    client.send(b"x" * 10)
    end = time.monotonic() + 0.1
    while time.monotonic() < end:
        pass
    server.recv(100)
client.close()
server.close()
listener.close()
