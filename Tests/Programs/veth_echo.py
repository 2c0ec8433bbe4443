# A TCP echo and a UDP datagram each way between two network namespaces
# joined by a veth pair: `veth_echo.py server|client ADDRESS PORT`. The
# server binds ADDRESS; the client connects to it once it listens.
import socket, sys, time

role, address, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
if role == "server":
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((address, port))
    listener.listen()
    datagrams = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    datagrams.bind((address, port))
    connection, _ = listener.accept()
    for _ in range(3):
        connection.sendall(connection.recv(100).upper())
    data, client = datagrams.recvfrom(100)
    datagrams.sendto(data.upper(), client)
    connection.recv(100)
    for s in (connection, listener, datagrams):
        s.close()
else:
    for _ in range(100):
        try:
            stream = socket.create_connection((address, port))
            break
        except ConnectionRefusedError:
            time.sleep(0.05)
    for i in range(3):
        stream.sendall(b"veth-%d" % i)
        stream.recv(100)
    datagrams = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    datagrams.sendto(b"datagram", (address, port))
    datagrams.recvfrom(100)
    stream.close()
    datagrams.close()
