import type { Socket } from 'node:net';
import type { Address } from './address.ts';

/**
 * Opens a plain connection to a TCP or UNIX target, with the socket options of the data path (a
 * proxy or a status check: the data plane dials the tunnel's own targets). node:net is loaded here,
 * at the first such dial, not at every start.
 */
export function dialPlain(target: Address): Socket {
  const { connect } = process.getBuiltinModule('node:net');
  const socket =
    target.kind === 'tcp'
      ? connect({ host: target.host, port: target.port, allowHalfOpen: true, noDelay: true, keepAlive: true, keepAliveInitialDelay: 15_000 })
      : connect({ path: (target as { path: string }).path, allowHalfOpen: true });
  return socket;
}
