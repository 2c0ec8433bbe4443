# Prints "ready", waits for a tracer to attach (a line on stdin), then
# starts 4 threads that each open a UDP socket and send a datagram, and
# a thread pool's workers (concurrent.futures) that connect over TCP.
import concurrent.futures
import socket
import sys
import threading

listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen()
print("ready", flush=True)
sys.stdin.readline()


def datagram(number):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(b"%d" % number, listener.getsockname())


def connection(_):
    with socket.create_connection(listener.getsockname()):
        pass


threads = [threading.Thread(target=datagram, args=(number,)) for number in range(4)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
with concurrent.futures.ThreadPoolExecutor(max_workers=3) as pool:
    list(pool.map(connection, range(3)))
