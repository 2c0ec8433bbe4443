// A node echo server and N clients in one process: libuv accepts with
// accept4(fd, NULL, NULL, …), connects without blocking, waits in epoll.
// Usage: node echo_node.js PORT CLIENTS [LISTEN_HOST [CONNECT_HOST]]
const net = require('net');
const port = Number(process.argv[2]), clients = Number(process.argv[3]);
const host = process.argv[4] || '127.0.0.1', target = process.argv[5] || host;
const server = net.createServer((socket) => socket.pipe(socket));
server.listen(port, host, () => {
  let finished = 0;
  for (let number = 0; number < clients; number++) {
    const socket = net.connect(port, target, () => socket.write(`hello ${number}\n`));
    socket.on('data', () => socket.end());
    socket.on('close', () => { if (++finished === clients) server.close(); });
  }
});
