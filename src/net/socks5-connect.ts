import type { Socket } from 'node:net';
import { SocksClient } from 'socks';
import type { ProxyUrl } from './proxy-url.ts';
import { connectTcp, type Endpoint } from './tcp-connect.ts';

/**
 * Opens a tunnel to `to` through a SOCKS5 proxy. The host name goes to the proxy unresolved, so
 * socks5:// and socks5h:// behave alike (as in Ghostunnel). The TCP leg is ours, for the data
 * path's socket options and so that an abort can destroy it.
 */
export async function connectViaSocks5(proxy: Extract<ProxyUrl, { kind: 'socks5' }>, to: Endpoint, signal: AbortSignal): Promise<Socket> {
  const socket = await connectTcp(proxy, signal);
  const onAbort = (): void => {
    socket.destroy();
  };
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    const { socket: tunnel } = await SocksClient.createConnection({
      proxy: { host: proxy.host, port: proxy.port, type: 5, ...(proxy.auth ?? {}) },
      command: 'connect',
      destination: { host: to.host, port: to.port },
      existing_socket: socket,
      // The caller's --connect-timeout governs (through the signal); the library's own 30 s would cut a longer one.
      timeout: 2 ** 31 - 1,
    });
    return tunnel as Socket;
  } catch (err) {
    socket.destroy();
    throw signal.aborted ? (signal.reason as Error) : new Error(`proxy ${proxy.text}: ${(err as Error).message}`);
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}
