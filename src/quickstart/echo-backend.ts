import { createServer, type AddressInfo } from 'node:net';

/** A loopback TCP echo server for quickstart to forward to; returns its "127.0.0.1:PORT". */
export async function startEchoBackend(): Promise<string> {
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    socket.on('error', () => socket.destroy());
    socket.pipe(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  server.unref();
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}
