import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { copyFileSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { TLSSocket } from 'node:tls';
import { echoBackend } from '../helpers/backends.ts';
import { connectTls, peerSerial } from '../helpers/clients.ts';
import { runGhostunnel, type Daemon } from '../helpers/daemon.ts';
import { issue, makeCa, tempDir, type Ca, type Issued } from '../helpers/pki.ts';
import { unixOnly } from '../helpers/platform.ts';

/**
 * A connection that keeps sending random chunks and checks that the echo matches. finish() ends
 * it and resolves with the byte counts and both digests.
 */
function transferInProgress(socket: TLSSocket): { finish(): Promise<{ sent: number; received: number; sentDigest: string; receivedDigest: string }> } {
  const sentHash = createHash('sha256');
  const receivedHash = createHash('sha256');
  let sent = 0;
  let received = 0;
  socket.on('data', (c: Buffer) => {
    receivedHash.update(c);
    received += c.length;
  });
  const timer = setInterval(() => {
    const chunk = randomBytes(64 * 1024);
    sentHash.update(chunk);
    sent += chunk.length;
    socket.write(chunk);
  }, 20);
  const ended = new Promise<void>((resolve, reject) => {
    socket.once('end', resolve);
    socket.once('error', reject);
  });
  return {
    async finish() {
      clearInterval(timer);
      socket.end();
      await ended;
      return { sent, received, sentDigest: sentHash.digest('hex'), receivedDigest: receivedHash.digest('hex') };
    },
  };
}

interface Setup {
  ca: Ca;
  client: Issued;
  first: Issued;
  dir: string;
  cert: string;
  key: string;
  cacert: string;
}

function setup(): Setup {
  const ca = makeCa();
  const first = issue(ca, 'first', { cn: 'localhost' });
  const client = issue(ca, 'client', { cn: 'client' });
  const dir = tempDir('gt-live-');
  const paths = { cert: join(dir, 'server.crt'), key: join(dir, 'server.key'), cacert: join(dir, 'ca.crt') };
  copyFileSync(first.cert, paths.cert);
  copyFileSync(first.key, paths.key);
  copyFileSync(ca.cert, paths.cacert);
  return { ca, client, first, dir, ...paths };
}

async function startTunnel(s: Setup, extra: string[] = []): Promise<{ gt: Daemon; port: number; close(): Promise<void> }> {
  const backend = await echoBackend();
  const gt = runGhostunnel(['server', '--listen', '127.0.0.1:0', '--target', `127.0.0.1:${backend.port}`, '--cert', s.cert, '--key', s.key, '--cacert', s.cacert, '--allow-cn', 'client', '--quiet', 'conns', ...extra]);
  const { port } = await gt.address();
  return {
    gt,
    port,
    async close() {
      assert.equal(await gt.stop(), 0);
      await backend.close();
    },
  };
}

const connect = (s: Setup, port: number): Promise<TLSSocket> => connectTls(port, { cert: s.client.cert, key: s.client.key, ca: s.ca.cert });

describe('reload while a connection is transferring', () => {
  for (const trigger of ['SIGHUP', 'SIGUSR1', 'timed'] as const) {
    it(`${trigger}: new connections get the new certificate, the open one keeps its bytes`, { skip: trigger !== 'timed' && unixOnly(`sends ${trigger}`) }, async () => {
      const s = setup();
      const t = await startTunnel(s, trigger === 'timed' ? ['--timed-reload', '1s'] : []);
      try {
        const old = await connect(s, t.port);
        assert.equal(peerSerial(old), s.first.serial);
        const transfer = transferInProgress(old);

        const second = issue(s.ca, 'second', { cn: 'localhost' });
        copyFileSync(second.cert, s.cert);
        copyFileSync(second.key, s.key);
        const from = t.gt.lines.length;
        if (trigger !== 'timed') t.gt.signal(trigger);
        const loaded = await t.gt.waitForLog(new RegExp(`^loaded certificate: CN=localhost`), 10_000, from);
        assert.equal(loaded.serial, second.serial);
        if (trigger === 'SIGHUP') await t.gt.waitForLog(/^received hangup, reloading TLS configuration$/, 1000, from);
        if (trigger === 'SIGUSR1') await t.gt.waitForLog(/^received user defined signal 1, reloading TLS configuration$/, 1000, from);

        const fresh = await connect(s, t.port);
        assert.equal(peerSerial(fresh), second.serial);
        fresh.destroy();

        const r = await transfer.finish();
        assert.ok(r.sent > 0);
        assert.equal(r.received, r.sent);
        assert.equal(r.receivedDigest, r.sentDigest);
      } finally {
        await t.close();
      }
    });
  }
});

describe('a broken file on reload is refused and the old certificate kept', { skip: unixOnly('sends SIGHUP') }, () => {
  const breakages: Array<{ name: string; log: RegExp; apply(s: Setup): void }> = [
    {
      name: 'truncated certificate',
      log: /error reloading TLS configuration: reading certificate file ".*server\.crt": no PEM certificate found/,
      apply: (s) => writeFileSync(s.cert, readFileSync(s.cert, 'utf8').slice(0, 200)),
    },
    {
      name: 'key of another certificate',
      log: /error reloading TLS configuration: parsing X509 key pair from ".*server\.crt": private key does not match public key/,
      apply: (s) => copyFileSync(issue(s.ca, 'other', { cn: 'localhost' }).key, s.key),
    },
    {
      name: 'expired certificate',
      log: /error reloading TLS configuration: certificate in ".*server\.crt" expired on 2020-01-02/,
      apply: (s) => {
        const expired = issue(s.ca, 'expired', { cn: 'localhost', startDate: '20200101000000Z', endDate: '20200102000000Z' });
        copyFileSync(expired.cert, s.cert);
        copyFileSync(expired.key, s.key);
      },
    },
    {
      name: 'missing file',
      log: /error reloading TLS configuration: reading private key file ".*server\.key": no such file or directory/,
      apply: (s) => rmSync(s.key),
    },
    {
      name: 'garbage CA bundle',
      log: /error reloading TLS configuration: loading trust store ".*ca\.crt": unable to read certificates from CA bundle/,
      apply: (s) => writeFileSync(s.cacert, randomBytes(2048)),
    },
  ];
  for (const b of breakages) {
    it(b.name, async () => {
      const s = setup();
      const t = await startTunnel(s);
      try {
        b.apply(s);
        const from = t.gt.lines.length;
        t.gt.signal('SIGHUP');
        const line = await t.gt.waitForLog(/^error reloading TLS configuration/, 10_000, from);
        assert.match(line.msg, b.log);
        assert.equal(line.level, 'error');
        await t.gt.waitForLog(/^reloading configuration complete$/, 5000, from);
        const after = await connect(s, t.port);
        assert.equal(peerSerial(after), s.first.serial);
        after.destroy();
      } finally {
        await t.close();
      }
    });
  }
});
