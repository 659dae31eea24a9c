import type { Socket } from 'node:net';
import { dialPlain } from './dial.ts';

/** host:port of a TCP endpoint, as one dial needs it. */
export interface Endpoint {
  readonly host: string;
  readonly port: number;
}

/** "host:port", with brackets around an IPv6 literal (CONNECT request targets, log lines). */
export function endpointText(e: Endpoint): string {
  return e.host.includes(':') ? `[${e.host}]:${e.port}` : `${e.host}:${e.port}`;
}

/**
 * Opens a TCP connection with the data path's socket options (half-open allowed, no Nagle,
 * keep-alive); resolves once connected. An abort destroys the socket and rejects.
 */
export function connectTcp(to: Endpoint, signal: AbortSignal): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const text = endpointText(to);
    const socket = dialPlain({ kind: 'tcp', host: to.host, port: to.port, text });
    const onAbort = (): void => {
      socket.destroy();
      reject(signal.reason as Error);
    };
    const onError = (err: Error): void => {
      signal.removeEventListener('abort', onAbort);
      reject(err);
    };
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    socket.once('error', onError);
    socket.once('connect', () => {
      signal.removeEventListener('abort', onAbort);
      socket.removeListener('error', onError);
      resolve(socket);
    });
  });
}
