import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { digestAfterEndBackend, echoBackend, type Backend } from '../helpers/backends.ts';
import { connectTls, peerSerial } from '../helpers/clients.ts';
import { runGhostunnel, type Daemon } from '../helpers/daemon.ts';
import { issue, makeCa, type KeyAlg } from '../helpers/pki.ts';
import type { TLSSocket } from 'node:tls';

/** Writes `total` pseudo-random bytes in chunks and returns their SHA-256. */
function sendRandom(socket: TLSSocket, total: number): Promise<string> {
  const hash = createHash('sha256');
  const block = randomBytes(1 << 20);
  let sent = 0;
  return new Promise((resolve, reject) => {
    const pump = (): void => {
      while (sent < total) {
        const n = Math.min(block.length, total - sent);
        // Vary the content per chunk so that a dropped or repeated chunk changes the digest.
        block.writeUInt32BE(sent >>> 0, 0);
        const chunk = Buffer.from(block.subarray(0, n));
        hash.update(chunk);
        sent += n;
        if (!socket.write(chunk)) {
          socket.once('drain', pump);
          return;
        }
      }
      socket.end(() => resolve(hash.digest('hex')));
    };
    socket.once('error', reject);
    pump();
  });
}

function receiveAll(socket: TLSSocket): Promise<{ digest: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  return new Promise((resolve, reject) => {
    socket.on('data', (c: Buffer) => {
      hash.update(c);
      bytes += c.length;
    });
    socket.once('end', () => resolve({ digest: hash.digest('hex'), bytes }));
    socket.once('error', reject);
  });
}

describe('data integrity through the server tunnel', () => {
  const ca = makeCa();
  const client = issue(ca, 'client', { cn: 'client' });
  let backend: Backend;
  let gt: Daemon;
  let port: number;

  before(async () => {
    const server = issue(ca, 'server', { cn: 'localhost' });
    backend = await echoBackend();
    gt = runGhostunnel(['server', '--listen', '127.0.0.1:0', '--target', `127.0.0.1:${backend.port}`, '--cert', server.cert, '--key', server.key, '--cacert', ca.cert, '--allow-all', '--quiet', 'conns']);
    ({ port } = await gt.address());
  });
  after(async () => {
    assert.equal(await gt.stop(), 0);
    await backend.close();
  });

  it('carries 256 MiB each way at once, every byte intact', async () => {
    const size = 256 * 1024 * 1024;
    const s = await connectTls(port, { cert: client.cert, key: client.key, ca: ca.cert });
    const [sentDigest, received] = await Promise.all([sendRandom(s, size), receiveAll(s)]);
    assert.equal(received.bytes, size);
    assert.equal(received.digest, sentDigest);
  });

  it('keeps returning bytes after the client half-closes', async () => {
    const s = await connectTls(port, { cert: client.cert, key: client.key, ca: ca.cert });
    const received = receiveAll(s);
    const sent = await sendRandom(s, 8 * 1024 * 1024);
    // The write side is closed now (close_notify + FIN); the echo keeps flowing back.
    assert.equal(s.writableEnded, true);
    const got = await received;
    assert.equal(got.bytes, 8 * 1024 * 1024);
    assert.equal(got.digest, sent);
  });
});

describe('half-close', () => {
  it('delivers the backend reply sent after the client shut its write side', async () => {
    const ca = makeCa();
    const server = issue(ca, 'server', { cn: 'localhost' });
    const client = issue(ca, 'client', { cn: 'client' });
    const tail = randomBytes(4 * 1024 * 1024);
    const backend = await digestAfterEndBackend(tail, 300);
    const gt = runGhostunnel(['server', '--listen', '127.0.0.1:0', '--target', `127.0.0.1:${backend.port}`, '--cert', server.cert, '--key', server.key, '--cacert', ca.cert, '--allow-all', '--close-timeout', '10s']);
    try {
      const { port } = await gt.address();
      const s = await connectTls(port, { cert: client.cert, key: client.key, ca: ca.cert });
      const chunks: Buffer[] = [];
      s.on('data', (c: Buffer) => chunks.push(c));
      const ended = new Promise((r) => s.once('end', r));
      const sent = await sendRandom(s, 3 * 1024 * 1024);
      await ended;
      const reply = Buffer.concat(chunks);
      assert.equal(reply.subarray(0, 64).toString(), sent);
      assert.equal(createHash('sha256').update(reply.subarray(64)).digest('hex'), createHash('sha256').update(tail).digest('hex'));
    } finally {
      await gt.stop();
      await backend.close();
    }
  });
});

describe('key types', () => {
  for (const alg of ['rsa', 'ec', 'ed25519'] as KeyAlg[]) {
    it(`serves a ${alg} certificate`, async () => {
      const ca = makeCa('ca', { alg });
      const server = issue(ca, 'server', { cn: 'localhost', alg });
      const client = issue(ca, 'client', { cn: 'client', alg });
      const backend = await echoBackend();
      const gt = runGhostunnel(['server', '--listen', '127.0.0.1:0', '--target', `127.0.0.1:${backend.port}`, '--cert', server.cert, '--key', server.key, '--cacert', ca.cert, '--allow-cn', 'client']);
      try {
        const { port } = await gt.address();
        const s = await connectTls(port, { cert: client.cert, key: client.key, ca: ca.cert });
        assert.equal(peerSerial(s), server.serial);
        s.end('key-type-check');
        const echoed = await receiveAll(s);
        assert.equal(echoed.bytes, 'key-type-check'.length);
      } finally {
        await gt.stop();
        await backend.close();
      }
    });
  }
});
