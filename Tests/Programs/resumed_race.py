# A call written unfinished whose thread reaches its exit stop soon after
# its return, while another thread's calls stop (audit 57 M1). A (the
# child, on CPU 1) blocks in recvfrom 130 ms a round, over the timeline's
# 100 ms hold; B (the parent, on CPU 0) wakes it with one datagram and at
# once writes 300 more to a sink, each a write the kernel records without
# a stop: calls that begin after A's return, taken by the tracer at A's
# exit stop, before it handles that stop.
# usage: resumed_race.py PORT SINK_PORT ROUNDS
import os, socket, sys, time

port, sink_port, rounds = (int(a) for a in sys.argv[1:4])
a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
a.bind(('127.0.0.1', port))
sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sink.bind(('127.0.0.1', sink_port))
sink.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
child = os.fork()
if child == 0:
    os.sched_setaffinity(0, {1})
    for _ in range(rounds):
        a.recvfrom(64)
    os._exit(0)
os.sched_setaffinity(0, {0})
waker = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
waker.connect(('127.0.0.1', port))
writer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
writer.connect(('127.0.0.1', sink_port))
for _ in range(rounds):
    time.sleep(0.13)
    os.write(waker.fileno(), b'w')
    for _ in range(300):
        os.write(writer.fileno(), b'x')
    try:
        while True:
            sink.recv(8, socket.MSG_DONTWAIT)
    except BlockingIOError:
        pass
_, status = os.waitpid(child, 0)
sys.exit(os.waitstatus_to_exitcode(status))
