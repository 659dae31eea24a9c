// A TCP relay that records the first bytes of each direction, and readers of the TLS hellos in
// them: which key exchange groups a ClientHello lists and shares keys for, and whether the server
// answered with a HelloRetryRequest (an extra round trip).
import { createServer, connect, type AddressInfo, type Socket } from 'node:net';

/** IANA TLS group code points, the ones this project offers. */
export const GROUP_NAMES: Readonly<Record<number, string>> = { 0x11ec: 'X25519MLKEM768', 0x001d: 'X25519', 0x0017: 'P-256', 0x0018: 'P-384', 0x0019: 'P-521' };

/** The SHA-256 of "HelloRetryRequest": the random of a ServerHello that is one (RFC 8446 §4.1.3). */
const HRR_RANDOM = Buffer.from('cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c', 'hex');

export interface RecordedConnection {
  /** Bytes the client sent, as far as recorded. */
  client: Buffer;
  /** Bytes the server sent, as far as recorded. */
  server: Buffer;
}

export interface HelloRecorder {
  readonly port: number;
  readonly connections: RecordedConnection[];
  close(): Promise<void>;
}

/** How much of each direction is kept: enough for the hellos, hybrid key shares included. */
const KEEP = 64 * 1024;

/** Relays 127.0.0.1:port (returned) to 127.0.0.1:targetPort, keeping the first bytes each way. */
export async function helloRecorder(targetPort: number): Promise<HelloRecorder> {
  const connections: RecordedConnection[] = [];
  const sockets = new Set<Socket>();
  // Half-open both ways: a client's end reaches the server, whose answer still comes back.
  const server = createServer({ allowHalfOpen: true }, (down) => {
    const seen: RecordedConnection = { client: Buffer.alloc(0), server: Buffer.alloc(0) };
    connections.push(seen);
    const up = connect({ port: targetPort, host: '127.0.0.1', allowHalfOpen: true });
    for (const s of [down, up]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        down.destroy();
        up.destroy();
      });
    }
    down.on('data', (c: Buffer) => {
      if (seen.client.length < KEEP) seen.client = Buffer.concat([seen.client, c]);
    });
    up.on('data', (c: Buffer) => {
      if (seen.server.length < KEEP) seen.server = Buffer.concat([seen.server, c]);
    });
    down.pipe(up);
    up.pipe(down);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    connections,
    close: () =>
      new Promise((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** The first handshake message in a stream of TLS records (joined across records). */
function firstHandshake(stream: Buffer): Buffer {
  let handshake = Buffer.alloc(0);
  for (let at = 0; at + 5 <= stream.length; ) {
    const length = stream.readUInt16BE(at + 3);
    if (stream[at] !== 22) break;
    handshake = Buffer.concat([handshake, stream.subarray(at + 5, at + 5 + length)]);
    at += 5 + length;
    if (handshake.length >= 4 && handshake.length >= 4 + handshake.readUIntBE(1, 3)) return handshake.subarray(0, 4 + handshake.readUIntBE(1, 3));
  }
  throw new Error(`no complete handshake message in ${stream.length} bytes`);
}

/** The names of the groups a ClientHello lists (supported_groups) and sends key shares for (key_share), in order. */
export function offeredGroups(clientBytes: Buffer): { supported: string[]; keyShares: string[] } {
  const hello = firstHandshake(clientBytes);
  if (hello[0] !== 1) throw new Error(`the first handshake message is type ${hello[0]}, not a ClientHello`);
  const name = (code: number): string => GROUP_NAMES[code] ?? `0x${code.toString(16).padStart(4, '0')}`;
  let at = 4 + 2 + 32;
  at += 1 + hello[at]!; // session id
  at += 2 + hello.readUInt16BE(at); // cipher suites
  at += 1 + hello[at]!; // compression methods
  const end = at + 2 + hello.readUInt16BE(at);
  at += 2;
  const supported: string[] = [];
  const keyShares: string[] = [];
  while (at + 4 <= end) {
    const type = hello.readUInt16BE(at);
    const data = hello.subarray(at + 4, at + 4 + hello.readUInt16BE(at + 2));
    at += 4 + data.length;
    if (type === 10) for (let i = 2; i + 2 <= 2 + data.readUInt16BE(0); i += 2) supported.push(name(data.readUInt16BE(i)));
    if (type === 51) {
      for (let i = 2; i + 4 <= 2 + data.readUInt16BE(0); ) {
        keyShares.push(name(data.readUInt16BE(i)));
        i += 4 + data.readUInt16BE(i + 2);
      }
    }
  }
  return { supported, keyShares };
}

/** Whether the server's first handshake message is a HelloRetryRequest rather than a ServerHello. */
export function helloRetried(serverBytes: Buffer): boolean {
  const hello = firstHandshake(serverBytes);
  if (hello[0] !== 2) throw new Error(`the first handshake message is type ${hello[0]}, not a ServerHello`);
  return hello.subarray(6, 38).equals(HRR_RANDOM);
}
