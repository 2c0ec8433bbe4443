# A TCP connection's server end passed to a child over a UNIX socket
# (SCM_RIGHTS): the parent closes its copy once the child holds one (a
# reference dropped, nothing sent), then the child closes the last one
# (the FIN). Usage: pass_socket.py PORT
import os
import socket
import sys

port = int(sys.argv[1])
listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", port))
listener.listen()
client = socket.create_connection(("127.0.0.1", port))
server, _ = listener.accept()
parent_end, child_end = socket.socketpair()
pid = os.fork()
if pid == 0:
    # Only the passed copy is to hold the connection in the child.
    for inherited in (parent_end, server, client, listener):
        inherited.close()
    _, fds, _, _ = socket.recv_fds(child_end, 1, 1)
    child_end.send(b"held")
    child_end.recv(1)               # the parent has closed its copy
    os.close(fds[0])                # the last reference: the FIN leaves
    os._exit(0)
child_end.close()
socket.send_fds(parent_end, [b"x"], [server.fileno()])
parent_end.recv(4)                  # the child holds it now
server.close()                      # one of two references: nothing is sent
parent_end.send(b"go")
os.waitpid(pid, 0)
client.recv(1)                      # the FIN arrived: end of stream
client.close()
