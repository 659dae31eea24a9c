// A plain TCP (or UNIX socket) client for client-mode tunnels: the local side speaks no TLS.
import { connect, type Socket } from 'node:net';

export interface Exchange {
  /** Everything read before the connection closed (or the wait ran out). */
  readonly data: Buffer;
  /** True when the tunnel ended or closed the connection; false when `timeoutMs` ran out first. */
  readonly closed: boolean;
}

/** Opens a plain connection to 127.0.0.1:PORT or a UNIX socket path; resolves once connected. */
export function connectPlain(to: number | string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = typeof to === 'number' ? connect({ port: to, host: '127.0.0.1', allowHalfOpen: true }) : connect({ path: to, allowHalfOpen: true });
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

/**
 * Collects what `socket` reads until the other side ends or closes it, or `timeoutMs` passes;
 * then destroys it.
 */
export function collect(socket: Socket, timeoutMs = 8000): Promise<Exchange> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const finish = (closed: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ data: Buffer.concat(chunks), closed });
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', () => {});
    socket.once('end', () => finish(true));
    socket.once('close', () => finish(true));
  });
}

/** Connects, writes `data` (then half-closes unless `end` is false) and collects the answer. */
export async function plainExchange(to: number | string, data: string | Buffer, { end = true, timeoutMs = 8000 } = {}): Promise<Exchange> {
  const s = await connectPlain(to);
  const result = collect(s, timeoutMs);
  if (end) s.end(data);
  else s.write(data);
  return result;
}
