# An asyncio echo server and N clients in one process: non-blocking
# connects (EINPROGRESS, then epoll), both ends of every connection held by
# the same process. Usage: echo_asyncio.py PORT CLIENTS
import asyncio
import sys


async def echo(reader, writer):
    while data := await reader.read(4096):
        writer.write(data)
        await writer.drain()
    writer.close()
    await writer.wait_closed()


async def client(port, number):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    message = b"hello %d\n" % number
    writer.write(message)
    await writer.drain()
    await reader.readexactly(len(message))
    writer.close()
    await writer.wait_closed()


async def main(port, clients):
    server = await asyncio.start_server(echo, "127.0.0.1", port)
    async with server:
        await asyncio.gather(*(client(port, number) for number in range(clients)))


asyncio.run(main(int(sys.argv[1]), int(sys.argv[2])))
