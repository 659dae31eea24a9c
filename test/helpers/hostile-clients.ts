// Clients that misbehave the way the network does: garbage instead of TLS, a ClientHello cut short
// or dribbled out a byte at a time, a handshake that stalls, a reset in the middle of a transfer.
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { Duplex, Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls';

/** The first record a Node.js TLS client sends with `options` (its ClientHello), captured from a real client. */
export async function clientHelloOf(options: ConnectionOptions): Promise<Buffer> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const got = new Promise<Buffer>((resolve) => {
    server.once('connection', (s) => {
      let buf = Buffer.alloc(0);
      s.on('data', (d: Buffer) => {
        buf = Buffer.concat([buf, d]);
        if (buf.length >= 5 && buf.length >= 5 + buf.readUInt16BE(3)) {
          s.destroy();
          resolve(buf.subarray(0, 5 + buf.readUInt16BE(3)));
        }
      });
    });
  });
  const client = tlsConnect({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, ...options });
  client.on('error', () => {});
  const hello = await got;
  client.destroy();
  server.close();
  if (hello[0] !== 0x16 || hello[5] !== 0x01) throw new Error('captured record is not a ClientHello');
  return hello;
}

let captured: Buffer | undefined;

/** A Node.js TLS client's ClientHello with SNI localhost, captured once. */
export async function realClientHello(): Promise<Buffer> {
  captured ??= await clientHelloOf({ servername: 'localhost' });
  return captured;
}

/** A plain TCP connection to the tunnel, with its local port (how the daemon's log names it: tcp:127.0.0.1:PORT). */
export async function rawConnection(port: number): Promise<{ socket: Socket; localPort: number }> {
  const socket = connect({ host: '127.0.0.1', port, noDelay: true });
  socket.on('error', () => {});
  await once(socket, 'connect');
  return { socket, localPort: socket.localPort! };
}

/**
 * Writes `data` one byte per write (TCP_NODELAY: each byte its own segment), pausing `delayMs`
 * after every `bytesPerPause` bytes.
 */
export async function dribble(socket: Socket, data: Buffer, delayMs: number, bytesPerPause = 1): Promise<void> {
  for (let i = 0; i < data.length; i++) {
    if (socket.destroyed) return;
    socket.write(data.subarray(i, i + 1));
    if ((i + 1) % bytesPerPause === 0) await sleep(delayMs);
  }
}

export function garbage(n: number): Buffer {
  const bytes = randomBytes(n);
  // Not a TLS handshake record by accident.
  bytes[0] = 0x47;
  return bytes;
}

/**
 * A stream for tls.connect({ socket }) that sends the first `fragmentBytes` bytes the TLS client
 * writes one byte per write, pausing `delayMs` after every `bytesPerPause` (so the ClientHello
 * arrives in pieces), and the rest as is.
 */
export function fragmentingStream(raw: Socket, fragmentBytes: number, delayMs: number, bytesPerPause = 1): Duplex {
  let left = fragmentBytes;
  let sent = 0;
  const writable = new Writable({
    write(chunk: Buffer, _encoding, done) {
      void (async () => {
        let i = 0;
        while (left > 0 && i < chunk.length) {
          raw.write(chunk.subarray(i, i + 1));
          left--;
          i++;
          if (++sent % bytesPerPause === 0) await sleep(delayMs);
        }
        if (i < chunk.length) raw.write(chunk.subarray(i));
        done();
      })();
    },
    final(done) {
      raw.end();
      done();
    },
  });
  const stream = Duplex.from({ readable: raw, writable });
  raw.on('close', () => stream.destroy());
  return stream;
}

/** A TLS client over `raw`, resolving once its handshake is done. */
export function tlsOver(raw: Duplex, opts: { cert: Buffer; key: Buffer; ca: Buffer }): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const tls = tlsConnect({ socket: raw, servername: 'localhost', ...opts });
    tls.once('secureConnect', () => resolve(tls));
    tls.once('error', reject);
  });
}
