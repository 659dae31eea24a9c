// The ClientHello reader of the TLS-ALPN-01 port and the node plane (src/engine/client-hello.ts): real
// hellos read whole, cut short or split over records; anything else never throws.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { readClientHello } from '../../src/engine/client-hello.ts';
import { clientHelloOf } from '../helpers/hostile-clients.ts';

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
    const hello = await clientHelloOf({ servername: 'acme.ghostunnel.test', ALPNProtocols: ['acme-tls/1'] });
    assert.deepEqual(readClientHello(hello), { serverName: 'acme.ghostunnel.test', alpn: ['acme-tls/1'] });
    for (let n = 0; n < hello.length; n++) assert.equal(readClientHello(hello.subarray(0, n)), undefined, `${n} of ${hello.length} bytes`);
  });

  it('reads a hello without SNI or ALPN, and one split over records of any size', async () => {
    const bare = await clientHelloOf({ ALPNProtocols: [] });
    assert.deepEqual(readClientHello(bare), { serverName: undefined, alpn: [] });
    const hello = await clientHelloOf({ servername: 'tunnel.ghostunnel.test', ALPNProtocols: ['h2', 'http/1.1'] });
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 600 }), (size) => {
        assert.deepEqual(readClientHello(refragment(hello, size)), { serverName: 'tunnel.ghostunnel.test', alpn: ['h2', 'http/1.1'] });
      }),
    );
  });

  it('never throws: arbitrary bytes and damaged hellos read as incomplete, malformed, or names', async () => {
    const hello = await clientHelloOf({ servername: 'acme.ghostunnel.test', ALPNProtocols: ['acme-tls/1'] });
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
