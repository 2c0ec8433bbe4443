# Writes the kernel records without a stop, made while another thread is
# blocked in a recorded read that began before them (so the tracer holds
# them back), each followed by a send that stops: each write must keep its
# own samples, and come before the send after it (audit 45 F1: socat's
# writes, held behind a read, lost their samples to the next stopped call).
# A child blocked reading a pipe (not a socket) holds nothing back.
import os, socket, sys, threading, time

port = int(sys.argv[1])
blocker = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
blocker.bind(("127.0.0.1", port))
sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sink.bind(("127.0.0.1", 0))
out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
out.connect(sink.getsockname())

reader, writer = os.pipe()
child = os.fork()
if child == 0:
    os.read(reader, 10)
    os._exit(0)

got = []
waiter = threading.Thread(target=lambda: got.append(os.read(blocker.fileno(), 100)))
waiter.start()
time.sleep(0.2)
for _ in range(10):
    os.write(out.fileno(), b"wwww")
    out.send(b"sss")
    time.sleep(0.01)
out.sendto(b"wake", blocker.getsockname())
waiter.join()
os.write(writer, b"x")
os.waitpid(child, 0)
sys.exit(0 if got == [b"wake"] else 1)
