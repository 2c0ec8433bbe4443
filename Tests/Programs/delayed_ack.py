# A delayed ACK sent by the timer while the program waits: the server
# turns quick ACKs off, takes in 10 bytes and answers nothing; 40 ms later
# its delayed-ACK timer sends the ACK.
#   ./delayed_ack.py PORT        sleeps: the timer runs on whatever task
#                                runs on that CPU (an idle CPU's, the
#                                tracer's), not in a traced call.
#   ./delayed_ack.py PORT spin   held on one CPU, spins there (no
#                                syscalls): the timer's softirq runs on this
#                                thread between its calls, its sample the
#                                thread's own event's, with no addresses.
import os, socket, sys, time

spin = len(sys.argv) > 2 and sys.argv[2] == "spin"
if spin:
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", int(sys.argv[1])))
listener.listen()
client = socket.create_connection(listener.getsockname())
server, _ = listener.accept()
for _ in range(5 if spin else 3):
    server.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 0)
    client.send(b"x" * 10)
    if spin:
        end = time.monotonic() + 0.1
        while time.monotonic() < end:
            pass
    else:
        time.sleep(0.2)
    server.recv(100)
client.close()
server.close()
listener.close()
