# A UNIX stream pair and a UNIX datagram pair, each sending one message
# and receiving it: the model's unix_stream_* and unix_dgram_* operations.
import socket

for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
    a, b = socket.socketpair(socket.AF_UNIX, kind)
    a.send(b"hello")
    b.recv(10)
