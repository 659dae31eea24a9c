// The ClientHello reader of the TLS-ALPN-01 port (src/credentials/acme/client-hello.ts): real
// hellos read whole, cut short or split over records; anything else never throws.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import fc from 'fast-check';
import { readClientHello } from '../../src/credentials/acme/client-hello.ts';

/** The first record a Node.js TLS client sends with `options` (its ClientHello). */
async function captureHello(options: ConnectionOptions): Promise<Buffer> {
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
  return hello;
}

/** The same handshake message in records of at most `size` bytes each. */
function refragment(record: Buffer, size: number): Buffer {
  const message = record.subarray(5);
  const records: Buffer[] = [];
  for (let at = 0; at < message.length; at += size) {
    const fragment = message.subarray(at, at + size);
    records.push(Buffer.from([22, 3, 1, fragment.length >> 8, fragment.length & 0xff]), fragment);
  }
  return Buffer.concat(records);
}

describe('readClientHello', () => {
  it('reads SNI and ALPN from a validator-like hello, only once it is complete', async () => {
    const hello = await captureHello({ servername: 'acme.ghostunnel.test', ALPNProtocols: ['acme-tls/1'] });
    assert.deepEqual(readClientHello(hello), { serverName: 'acme.ghostunnel.test', alpn: ['acme-tls/1'] });
    for (let n = 0; n < hello.length; n++) assert.equal(readClientHello(hello.subarray(0, n)), undefined, `${n} of ${hello.length} bytes`);
  });

  it('reads a hello without SNI or ALPN, and one split over records of any size', async () => {
    const bare = await captureHello({ ALPNProtocols: [] });
    assert.deepEqual(readClientHello(bare), { serverName: undefined, alpn: [] });
    const hello = await captureHello({ servername: 'tunnel.ghostunnel.test', ALPNProtocols: ['h2', 'http/1.1'] });
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 600 }), (size) => {
        assert.deepEqual(readClientHello(refragment(hello, size)), { serverName: 'tunnel.ghostunnel.test', alpn: ['h2', 'http/1.1'] });
      }),
    );
  });

  it('never throws: arbitrary bytes and damaged hellos read as incomplete, malformed, or names', async () => {
    const hello = await captureHello({ servername: 'acme.ghostunnel.test', ALPNProtocols: ['acme-tls/1'] });
    const readable = (bytes: Buffer): void => {
      const r = readClientHello(bytes);
      assert.ok(r === undefined || r === 'malformed' || (Array.isArray(r.alpn) && (r.serverName === undefined || typeof r.serverName === 'string')));
    };
    fc.assert(fc.property(fc.uint8Array({ maxLength: 2048 }), (bytes) => readable(Buffer.from(bytes))));
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }), (edits) => {
        const damaged = Buffer.from(hello);
        for (const [at, value] of edits) damaged[at % damaged.length] = value;
        readable(damaged);
      }),
    );
    assert.equal(readClientHello(Buffer.from('GET / HTTP/1.1\r\n\r\n')), 'malformed');
  });
});
