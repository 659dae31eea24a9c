// Plain TCP backends for the tunnel to forward to, counting what reaches them.
import { createHash } from 'node:crypto';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';

export interface Backend {
  readonly server: Server;
  readonly port: number;
  /** Connections accepted so far. */
  accepted(): number;
  close(): Promise<void>;
}

async function start(handler: (s: Socket) => void): Promise<Backend> {
  let count = 0;
  const sockets = new Set<Socket>();
  const server = createServer({ allowHalfOpen: true }, (s) => {
    count++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    handler(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  // A test that fails before closing its backend must not keep its file's process alive.
  server.unref();
  return {
    server,
    port: (server.address() as AddressInfo).port,
    accepted: () => count,
    close: () =>
      new Promise((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** Echoes every byte; ends its writes when the peer ends (half-close passes through). */
export function echoBackend(): Promise<Backend> {
  return start((s) => s.pipe(s));
}

/** Answers every connection with a fixed banner, then echoes. */
export function bannerBackend(banner: string): Promise<Backend> {
  return start((s) => {
    s.write(banner);
    s.pipe(s);
  });
}

/**
 * Reads until the peer half-closes, then (after `delayMs`) answers with the SHA-256 hex of what it
 * read followed by `tail`, and ends. Proves bytes still flow back after the client's FIN.
 */
export function digestAfterEndBackend(tail: Buffer, delayMs = 200): Promise<Backend> {
  return start((s) => {
    const hash = createHash('sha256');
    s.on('data', (c: Buffer) => hash.update(c));
    s.on('end', () => {
      setTimeout(() => {
        s.write(hash.digest('hex'));
        s.end(tail);
      }, delayMs);
    });
  });
}
