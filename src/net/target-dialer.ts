import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { withoutFin } from './no-fin-stream.ts';
import type { ProxyUrl } from './proxy-url.ts';
import { connectTcp, type Endpoint } from './tcp-connect.ts';

/** Opens a stream to the target for TLS to run over, directly or through a proxy; an abort cancels it. */
export type TargetDialer = (to: Endpoint, signal: AbortSignal) => Promise<Duplex>;

/** Opens a TCP connection to the target through the proxy (HTTP CONNECT or SOCKS5). */
export type ProxyDialer = (to: Endpoint, signal: AbortSignal) => Promise<Socket>;

/** node:http and the SOCKS client are loaded only when a proxy is configured. */
export function proxyDialer(proxy: ProxyUrl): ProxyDialer {
  if (proxy.kind === 'http') {
    return async (to, signal) => {
      const { connectViaHttpProxy } = await import('./http-connect.ts');
      return connectViaHttpProxy(proxy, to, signal);
    };
  }
  return async (to, signal) => {
    const { connectViaSocks5 } = await import('./socks5-connect.ts');
    return connectViaSocks5(proxy, to, signal);
  };
}

/**
 * For Node.js's TLS (the status port's check of a client-mode target): a direct connection is the
 * socket itself; through a proxy, TLS half-closes without a TCP FIN (see withoutFin).
 */
export function targetDialer(proxy: ProxyUrl | undefined): TargetDialer {
  if (proxy === undefined) return connectTcp;
  const dial = proxyDialer(proxy);
  return async (to, signal) => withoutFin(await dial(to, signal));
}
