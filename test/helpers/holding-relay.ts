// A TCP relay on port 0 whose destination is set later: connections that arrive before then wait.
// It breaks a start-up cycle: the daemon needs the ACME server's URL when it starts, and the ACME
// server needs the daemon's (port 0) listening port when it starts.
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';

export interface HoldingRelay {
  readonly port: number;
  /** Where held and later connections go. */
  forwardTo(port: number): void;
  close(): Promise<void>;
}

export async function holdingRelay(): Promise<HoldingRelay> {
  let destination: number | undefined;
  const held: Socket[] = [];
  const open = new Set<Socket>();
  const pipe = (client: Socket): void => {
    const upstream = connect(destination!, '127.0.0.1');
    open.add(upstream);
    upstream.on('close', () => open.delete(upstream));
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.pipe(upstream).pipe(client);
    client.resume();
  };
  const server = createServer((client) => {
    open.add(client);
    client.on('close', () => open.delete(client));
    if (destination === undefined) {
      client.pause();
      held.push(client);
    } else pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  server.unref();
  return {
    port: (server.address() as AddressInfo).port,
    forwardTo(port) {
      destination = port;
      for (const client of held.splice(0)) pipe(client);
    },
    close: () =>
      new Promise((resolve) => {
        for (const s of open) s.destroy();
        server.close(() => resolve());
      }),
  };
}
