import type { Duplex } from 'node:stream';
import { connectViaHttpProxy } from './http-connect.ts';
import { withoutFin } from './no-fin-stream.ts';
import type { ProxyUrl } from './proxy-url.ts';
import { connectTcp, type Endpoint } from './tcp-connect.ts';

/** Opens a stream to the target for TLS to run over, directly or through a proxy; an abort cancels it. */
export type TargetDialer = (to: Endpoint, signal: AbortSignal) => Promise<Duplex>;

/**
 * A direct connection is handed to TLS as the socket itself (native, fastest). Through a proxy,
 * TLS half-closes without a TCP FIN (see withoutFin), at the cost of a JavaScript stream hop.
 */
export function targetDialer(proxy: ProxyUrl | undefined): TargetDialer {
  if (proxy === undefined) return connectTcp;
  if (proxy.kind === 'http') return async (to, signal) => withoutFin(await connectViaHttpProxy(proxy, to, signal));
  return async (to, signal) => {
    const { connectViaSocks5 } = await import('./socks5-connect.ts');
    return withoutFin(await connectViaSocks5(proxy, to, signal));
  };
}
