import { request } from 'node:http';
import type { Socket } from 'node:net';
import type { ProxyUrl } from './proxy-url.ts';
import { connectTcp, endpointText, type Endpoint } from './tcp-connect.ts';

/**
 * Opens a tunnel to `to` through an HTTP proxy with CONNECT (no proxy authentication, as in
 * Ghostunnel). The request runs on a socket we open ourselves, so it keeps the data path's
 * options (half-open in particular) once it becomes the tunnel.
 */
export async function connectViaHttpProxy(proxy: Extract<ProxyUrl, { kind: 'http' }>, to: Endpoint, signal: AbortSignal): Promise<Socket> {
  const socket = await connectTcp(proxy, signal);
  const authority = endpointText(to);
  return new Promise((resolve, reject) => {
    const req = request({
      method: 'CONNECT',
      path: authority,
      headers: { host: authority },
      createConnection: () => socket,
      signal,
    });
    req.once('connect', (res, tunnel: Socket, head: Buffer) => {
      if (res.statusCode !== 200) {
        tunnel.destroy();
        reject(new Error(`proxy ${proxy.text} refused CONNECT ${authority}: ${res.statusCode} ${res.statusMessage}`));
        return;
      }
      // The target speaks TLS, whose client speaks first: a proxy that sends more is broken.
      if (head.length > 0) {
        tunnel.destroy();
        reject(new Error(`proxy ${proxy.text} sent ${head.length} bytes after its CONNECT response, before the TLS handshake`));
        return;
      }
      resolve(tunnel);
    });
    req.once('error', (err: Error) => {
      socket.destroy();
      reject(signal.aborted ? (signal.reason as Error) : new Error(`proxy ${proxy.text}: ${err.message}`));
    });
    req.end();
  });
}
