import { connect, type Socket } from 'node:net';
import type { Address } from './address.ts';

/** Opens a plain connection to a TCP or UNIX target, with the socket options of the data path. */
export function dialPlain(target: Address): Socket {
  const socket =
    target.kind === 'tcp'
      ? connect({ host: target.host, port: target.port, allowHalfOpen: true, noDelay: true, keepAlive: true, keepAliveInitialDelay: 15_000 })
      : connect({ path: (target as { path: string }).path, allowHalfOpen: true });
  return socket;
}
