// A TLS server written in the test, standing in for client mode's target: it records what each
// connection presented (client certificate serial, SNI) and echoes.
import { readFileSync } from 'node:fs';
import type { AddressInfo, Socket } from 'node:net';
import { createServer, type TLSSocket } from 'node:tls';

export interface SeenConnection {
  /** Serial of the client certificate, or undefined when none was sent. */
  readonly serial: string | undefined;
  /** The SNI the client sent, or false. */
  readonly servername: string | false;
}

export interface TlsTarget {
  readonly port: number;
  readonly seen: SeenConnection[];
  /** Application bytes received, over all connections. */
  bytesReceived(): number;
  close(): Promise<void>;
}

export interface TlsTargetOptions {
  cert: string;
  key: string;
  /** CA for client certificates; with it the server asks for one (and does not insist). */
  ca?: string;
  /** Key exchange groups (Node's ecdhCurve); default: OpenSSL's. */
  ecdhCurve?: string;
  /** What to do with each connection once it is secure; default: echo, ending when the peer ends. */
  onSecure?: (socket: TLSSocket) => void;
}

export async function tlsTarget(opts: TlsTargetOptions): Promise<TlsTarget> {
  const seen: SeenConnection[] = [];
  const sockets = new Set<TLSSocket>();
  let received = 0;
  const server = createServer(
    {
      cert: readFileSync(opts.cert),
      key: readFileSync(opts.key),
      ...(opts.ca ? { ca: readFileSync(opts.ca), requestCert: true, rejectUnauthorized: false } : {}),
      ...(opts.ecdhCurve ? { ecdhCurve: opts.ecdhCurve } : {}),
      allowHalfOpen: true,
    },
    (s) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {});
      s.on('data', (c: Buffer) => (received += c.length));
      seen.push({ serial: s.getPeerX509Certificate()?.serialNumber, servername: s.servername });
      (opts.onSecure ?? ((t: TLSSocket) => t.pipe(t)))(s);
    },
  );
  // Connections still in their handshake (a peer that left before finishing it) are not in
  // `sockets`; close() ends them too, or server.close() would wait for them forever.
  const raw = new Set<Socket>();
  server.on('connection', (c: Socket) => {
    raw.add(c);
    c.on('close', () => raw.delete(c));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    seen,
    bytesReceived: () => received,
    close: () =>
      new Promise((r) => {
        for (const s of sockets) s.destroy();
        for (const c of raw) c.destroy();
        server.close(() => r());
      }),
  };
}
