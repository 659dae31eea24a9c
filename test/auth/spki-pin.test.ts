import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { matchesSpkiPins, spkiPinOf } from '../../src/auth/spki-pin.ts';
import { decodeStdBase64, parseSpkiPin } from '../../src/config/spki-pins.ts';
import { echoBackend, type Backend } from '../helpers/backends.ts';
import { sClient } from '../helpers/clients.ts';
import { runGhostunnel, runToExit, type Daemon } from '../helpers/daemon.ts';
import { issue, makeCa, type Ca, type Issued } from '../helpers/pki.ts';
import { plainExchange } from '../helpers/plain-client.ts';
import { selfSigned, type SelfSigned } from '../helpers/self-signed.ts';
import { tlsTarget, type TlsTarget } from '../helpers/tls-target.ts';

const EXPIRED = { startDate: '20200101000000Z', endDate: '20210101000000Z' };

function pinOf(certPath: string, hash: 'sha256' | 'sha384' | 'sha512' = 'sha256'): string {
  return spkiPinOf(new X509Certificate(readFileSync(certPath)), hash);
}

describe('SPKI pin syntax (spec §1.7 messages)', () => {
  it('accepts sha256/384/512, any case, and decodes the digest', () => {
    const digest = createHash('sha384').update('x').digest();
    const pin = parseSpkiPin(`SHA384:${digest.toString('base64')}`);
    assert.equal(pin.hash, 'sha384');
    assert.deepEqual(pin.digest, digest);
  });

  it('gives the spec message for each kind of malformed pin', () => {
    const cases: Array<[string, string]> = [
      ['sha256', 'invalid pin "sha256": expected format <algo>:<base64-digest>'],
      [':AAAA', 'invalid pin ":AAAA": expected format <algo>:<base64-digest>'],
      ['sha256:', 'invalid pin "sha256:": expected format <algo>:<base64-digest>'],
      ['md5:AAAA', 'invalid pin "md5:AAAA": unsupported hash algorithm "md5" (supported: sha256, sha384, sha512)'],
      ['sha256:abc', 'invalid pin "sha256:abc": base64 decode failed: illegal base64 data at input byte 0'],
      ['sha256:AA*A', 'invalid pin "sha256:AA*A": base64 decode failed: illegal base64 data at input byte 2'],
      ['sha256:AAAA', 'invalid pin "sha256:AAAA": expected 32 bytes for sha256, got 3'],
      [`sha512:${Buffer.alloc(32).toString('base64')}`, `invalid pin "sha512:${Buffer.alloc(32).toString('base64')}": expected 64 bytes for sha512, got 32`],
    ];
    for (const [text, message] of cases) assert.throws(() => parseSpkiPin(text), { message }, text);
  });

  it('decodes standard padded base64 exactly as Buffer does for well-formed input, and refuses what Go refuses', () => {
    for (let n = 0; n < 70; n++) {
      const bytes = createHash('sha512').update(String(n)).digest().subarray(0, n % 65);
      assert.deepEqual(decodeStdBase64(bytes.toString('base64')), bytes);
    }
    assert.throws(() => decodeStdBase64('AA=A'), { message: 'illegal base64 data at input byte 2' });
    assert.throws(() => decodeStdBase64('AAA=AAAA'), { message: 'illegal base64 data at input byte 4' });
    assert.throws(() => decodeStdBase64('AA-_'), { message: 'illegal base64 data at input byte 2' });
  });

  it('matches a certificate by any of several pins and by no other', () => {
    const a = selfSigned('a', { startDate: '20200101000000Z', endDate: '20300101000000Z' });
    const b = selfSigned('b', { startDate: '20200101000000Z', endDate: '20300101000000Z' });
    const certA = new X509Certificate(readFileSync(a.cert));
    const pins = [parseSpkiPin(pinOf(b.cert, 'sha512')), parseSpkiPin(pinOf(a.cert, 'sha384'))];
    assert.equal(matchesSpkiPins(certA, pins), true);
    assert.equal(matchesSpkiPins(certA, pins.slice(0, 1)), false);
  });
});

describe('server --allow-spki-pin: only the client key counts', () => {
  let ca: Ca, server: Issued, trustedClient: Issued, pinned: SelfSigned, rotated: SelfSigned, backend: Backend, gt: Daemon, port: number;
  before(async () => {
    ca = makeCa();
    server = issue(ca, 'server', { cn: 'localhost' });
    trustedClient = issue(ca, 'trusted-client', { cn: 'client' });
    pinned = selfSigned('pinned', EXPIRED);
    rotated = selfSigned('rotated', { startDate: '20200101000000Z', endDate: '20300101000000Z', alg: 'rsa' });
    backend = await echoBackend();
    gt = runGhostunnel([
      'server', '--listen', '127.0.0.1:0', '--target', `127.0.0.1:${backend.port}`, '--cert', server.cert, '--key', server.key, '--cacert', ca.cert,
      '--allow-spki-pin', pinOf(pinned.cert), '--allow-spki-pin', pinOf(rotated.cert, 'sha512'),
    ]);
    ({ port } = await gt.address());
  });
  after(async () => {
    assert.equal(await gt.stop(), 0);
    await backend.close();
  });

  it('admits an untrusted, expired, self-signed certificate whose key is pinned, and names no CA in the request', async () => {
    const r = await sClient(port, ['-cert', pinned.cert, '-key', pinned.key, '-CAfile', ca.cert], 'pinned-key-ping\n', { until: /pinned-key-ping/ });
    assert.match(r.stdout, /pinned-key-ping/);
    assert.match(r.stdout, /No client certificate CA names sent/);
    const opened = await gt.waitForLog(/^opening pipe: .*\[CN=pinned\]/);
    assert.equal(opened.subject, 'CN=pinned');
  });

  it('admits the second pin (a sha512 pin of an RSA key): rotation', async () => {
    const r = await sClient(port, ['-cert', rotated.cert, '-key', rotated.key, '-CAfile', ca.cert, '-quiet'], 'rotated-key-ping\n', { until: /rotated-key-ping/ });
    assert.match(r.stdout, /rotated-key-ping/);
  });

  it('refuses a certificate with any other key, even one the CA issued, and a client with none', async () => {
    const before = backend.accepted();
    const trusted = await sClient(port, ['-cert', trustedClient.cert, '-key', trustedClient.key, '-CAfile', ca.cert, '-quiet'], 'must-not-pass\n');
    assert.doesNotMatch(trusted.stdout, /must-not-pass/);
    const none = await sClient(port, ['-CAfile', ca.cert, '-quiet'], 'must-not-pass\n');
    assert.doesNotMatch(none.stdout, /must-not-pass/);
    assert.equal(backend.accepted(), before);
    await gt.waitForLog(/^error on TLS handshake from .*: unauthorized: invalid principal, or principal not allowed/);
  });
});

describe('client --verify-spki-pin: pin-only server check', () => {
  let target: TlsTarget, serverCert: SelfSigned;
  before(async () => {
    // Expired, self-signed, and named self-signed.invalid: only the pin can make it acceptable.
    serverCert = selfSigned('pinned-server', EXPIRED);
    target = await tlsTarget({ cert: serverCert.cert, key: serverCert.key });
  });
  after(() => target.close());

  it('reaches a server whose key is pinned, with --disable-authentication (no client certificate)', async () => {
    const gt = runGhostunnel(['client', '--listen', '127.0.0.1:0', '--target', `localhost:${target.port}`, '--disable-authentication', '--verify-spki-pin', pinOf(serverCert.cert, 'sha384')]);
    try {
      const { port } = await gt.address();
      const r = await plainExchange(port, 'pinned server');
      assert.equal(r.data.toString(), 'pinned server');
    } finally {
      assert.equal(await gt.stop(), 0);
    }
  });

  it('refuses the same server when the pin is of another key', async () => {
    const other = selfSigned('other', { startDate: '20200101000000Z', endDate: '20300101000000Z' });
    const gt = runGhostunnel(['client', '--listen', '127.0.0.1:0', '--target', `localhost:${target.port}`, '--disable-authentication', '--verify-spki-pin', pinOf(other.cert)]);
    try {
      const { port } = await gt.address();
      const r = await plainExchange(port, 'must not arrive');
      assert.equal(r.closed, true);
      assert.equal(r.data.length, 0);
      await gt.waitForLog(/unauthorized: invalid principal, or principal not allowed/);
    } finally {
      assert.equal(await gt.stop(), 0);
    }
  });
});

describe('pin flags at start: syntax and exclusivity', () => {
  const base = {
    server: ['server', '--listen', '127.0.0.1:0', '--target', '127.0.0.1:9', '--keystore', '/nonexistent.pem'],
    client: ['client', '--listen', '127.0.0.1:0', '--target', 'localhost:9', '--disable-authentication'],
  };
  const zeros = `sha256:${Buffer.alloc(32).toString('base64')}`;
  const cases: Array<['server' | 'client', string[], string]> = [
    ['server', ['--allow-spki-pin', 'sha256'], '--allow-spki-pin: invalid pin "sha256": expected format <algo>:<base64-digest>'],
    ['server', ['--allow-spki-pin', 'md5:AAAA'], '--allow-spki-pin: invalid pin "md5:AAAA": unsupported hash algorithm "md5" (supported: sha256, sha384, sha512)'],
    ['server', ['--allow-spki-pin', 'sha256:a$bc'], '--allow-spki-pin: invalid pin "sha256:a$bc": base64 decode failed: illegal base64 data at input byte 1'],
    ['server', ['--allow-spki-pin', 'sha256:AAAA'], '--allow-spki-pin: invalid pin "sha256:AAAA": expected 32 bytes for sha256, got 3'],
    ['server', ['--allow-spki-pin', zeros, '--allow-cn', 'x'], '--allow-spki-pin is mutually exclusive with other access control flags'],
    ['server', ['--allow-spki-pin', zeros, '--allow-all'], '--allow-all is mutually exclusive with other access control flags'],
    ['client', ['--verify-spki-pin', 'sha1:AAAA'], '--verify-spki-pin: invalid pin "sha1:AAAA": unsupported hash algorithm "sha1" (supported: sha256, sha384, sha512)'],
    ['client', ['--verify-spki-pin', zeros, '--verify-cn', 'x'], '--verify-spki-pin is mutually exclusive with other verification flags'],
  ];
  for (const [mode, extra, message] of cases) {
    it(`refuses ${mode} ${extra.join(' ')}`, async () => {
      const r = await runToExit([...base[mode], ...extra]);
      assert.equal(r.code, 1);
      assert.equal(r.stderr, `error: ${message}\n`);
    });
  }
});
