# 200 quick send/recv pairs on a socketpair, then a recv that waits 0.3 s
# for its byte (wall time, no CPU time): what -c counts and what -w counts.
import socket
import threading
import time

a, b = socket.socketpair()
for _ in range(200):
    b.send(b"y")
    a.recv(10)


def later():
    time.sleep(0.3)
    b.send(b"x")


threading.Thread(target=later).start()
a.recv(10)
