# Connects to PORT on 127.0.0.1, then on [::1], where nothing listens:
# each connect is refused (the kernel answers the SYN with a reset, which
# connect takes in from its socket's backlog). Usage: refused.py PORT
import socket
import sys

port = int(sys.argv[1])
for family, address in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
    s = socket.socket(family, socket.SOCK_STREAM)
    try:
        s.connect((address, port))
        sys.exit("connected: something listens on %d" % port)
    except ConnectionRefusedError:
        pass
    s.close()
