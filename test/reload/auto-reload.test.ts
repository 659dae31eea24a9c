// --auto-reload: every rotation pattern real rotators produce is picked up with no signal, new
// connections get the new certificate, and a connection opened before keeps transferring.
import assert from 'node:assert/strict';
import { utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TLSSocket } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { echoBackend, type Backend } from '../helpers/backends.ts';
import { connectTls, peerSerial, readBytes } from '../helpers/clients.ts';
import { runGhostunnel, type Daemon } from '../helpers/daemon.ts';
import { issue, makeCa, tempDir, type Ca, type Issued } from '../helpers/pki.ts';
import { unixOnly } from '../helpers/platform.ts';
import { directorySwapLayout, LAYOUTS } from '../helpers/rotation.ts';
import { firstSerialSeen } from '../helpers/serials.ts';

const WITHIN_MS = 2000;

describe('--auto-reload: rotation patterns, no signal', () => {
  let ca: Ca, v1: Issued, v2: Issued, client: Issued, backend: Backend;
  before(async () => {
    ca = makeCa();
    v1 = issue(ca, 'server-v1', { cn: 'localhost' });
    v2 = issue(ca, 'server-v2', { cn: 'localhost' });
    client = issue(ca, 'client', { cn: 'client' });
    backend = await echoBackend();
  });
  after(() => backend.close());

  for (const layout of LAYOUTS) {
    it(`${layout.name}: new connections get the new serial within ${WITHIN_MS} ms, an open one keeps transferring`, async (t) => {
      const files = layout.make(tempDir('gt-rotate-'), v1);
      const gt: Daemon = runGhostunnel([
        'server', '--listen', '127.0.0.1:0', '--target', `127.0.0.1:${backend.port}`, '--cert', files.cert, '--key', files.key,
        '--cacert', ca.cert, '--allow-cn', 'client', '--auto-reload',
      ]);
      let open: TLSSocket | undefined;
      let code: number | string;
      try {
        const { port } = await gt.address();
        await gt.waitForLog(/^watching 3 credential files for changes \(file events\)/);
        const opts = { cert: client.cert, key: client.key, ca: ca.cert };
        open = await connectTls(port, opts);
        assert.equal(peerSerial(open), v1.serial);
        open.write('before');
        assert.equal((await readBytes(open, 6)).toString(), 'before');

        await files.rotate(v2);
        const seen = await firstSerialSeen(port, opts, v2.serial, WITHIN_MS);
        assert.equal(seen.serial, v2.serial, `new serial not served within ${WITHIN_MS} ms (saw ${seen.serial})`);
        t.diagnostic(`new serial served ${seen.ms.toFixed(0)} ms after the rotation finished`);

        open.write('after-rotation');
        assert.equal((await readBytes(open, 14)).toString(), 'after-rotation');
        open.destroy();

        const trigger = await gt.waitForLog(/^credential files changed, reloading TLS configuration$/);
        assert.equal((await gt.waitForLog(/^loaded certificate:/, 5000, gt.lines.indexOf(trigger))).serial, v2.serial);
        assert.ok(!gt.lines.some((l) => /^received (hangup|user defined)/.test(l.msg)));
        assert.ok(!gt.lines.some((l) => /^error reloading/.test(l.msg)), gt.stdout());
      } finally {
        open?.destroy();
        code = await gt.stop();
      }
      assert.equal(code, 0);
    });
  }
});

describe('--auto-reload: after the directory itself was replaced', () => {
  it('a later in-place rewrite inside the new directory is seen too', async () => {
    const ca = makeCa();
    const [v1, v2, v3] = ['v1', 'v2', 'v3'].map((n) => issue(ca, `server-${n}`, { cn: 'localhost' })) as [Issued, Issued, Issued];
    const client = issue(ca, 'client', { cn: 'client' });
    const backend = await echoBackend();
    const files = directorySwapLayout(tempDir('gt-rotate-'), v1);
    const gt = runGhostunnel([
      'server', '--listen', '127.0.0.1:0', '--target', `127.0.0.1:${backend.port}`, '--cert', files.cert, '--key', files.key,
      '--cacert', ca.cert, '--allow-cn', 'client', '--auto-reload',
    ]);
    let code: number | string;
    try {
      const { port } = await gt.address();
      await gt.waitForLog(/^watching/);
      const opts = { cert: client.cert, key: client.key, ca: ca.cert };
      await files.rotate(v2);
      assert.equal((await firstSerialSeen(port, opts, v2.serial, WITHIN_MS)).serial, v2.serial);
      files.rewrite(v3);
      assert.equal((await firstSerialSeen(port, opts, v3.serial, WITHIN_MS)).serial, v3.serial);
    } finally {
      code = await gt.stop();
      await backend.close();
    }
    assert.equal(code, 0);
  });
});

describe('--auto-reload: what does not rotate', () => {
  let ca: Ca, v1: Issued, client: Issued, backend: Backend, dir: string;
  before(async () => {
    ca = makeCa();
    v1 = issue(ca, 'server-v1', { cn: 'localhost' });
    client = issue(ca, 'client', { cn: 'client' });
    backend = await echoBackend();
    dir = tempDir('gt-rotate-');
  });
  after(() => backend.close());

  it('a broken rotation is retried for a bounded time, logged once, and never served', async () => {
    const files = LAYOUTS[0]!.make(dir, v1);
    const gt = runGhostunnel([
      'server', '--listen', '127.0.0.1:0', '--target', `127.0.0.1:${backend.port}`, '--cert', files.cert, '--key', files.key,
      '--cacert', ca.cert, '--allow-cn', 'client', '--auto-reload',
    ]);
    let code: number | string;
    try {
      const { port } = await gt.address();
      await gt.waitForLog(/^watching/);
      writeFileSync(files.cert, '-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n');
      await gt.waitForLog(/^new credentials do not load yet, retrying/);
      const opts = { cert: client.cert, key: client.key, ca: ca.cert };
      const during = await connectTls(port, opts);
      assert.equal(peerSerial(during), v1.serial);
      during.destroy();
      const failed = await gt.waitForLog(/^error reloading TLS configuration:/, 15_000);
      assert.match(failed.msg, /server\.crt/);
      assert.equal(gt.lines.filter((l) => /^new credentials do not load yet/.test(l.msg)).length, 1);
      assert.equal(gt.lines.filter((l) => /^error reloading/.test(l.msg)).length, 1);
      const afterwards = await connectTls(port, opts);
      assert.equal(peerSerial(afterwards), v1.serial);
      afterwards.destroy();
    } finally {
      code = await gt.stop();
    }
    assert.equal(code, 0);
  });

  it('a touch or a neighbouring file changing reloads nothing; SIGHUP and the timer log "unchanged"', { skip: unixOnly('sends SIGHUP') }, async () => {
    const files = LAYOUTS[0]!.make(tempDir('gt-rotate-'), v1);
    const gt = runGhostunnel([
      'server', '--listen', '127.0.0.1:0', '--target', `127.0.0.1:${backend.port}`, '--cert', files.cert, '--key', files.key,
      '--cacert', ca.cert, '--allow-cn', 'client', '--auto-reload', '--timed-reload', '300ms',
    ]);
    let code: number | string;
    try {
      await gt.address();
      await gt.waitForLog(/^watching/);
      utimesSync(files.cert, new Date(), new Date());
      writeFileSync(join(files.cert, '..', 'unrelated.txt'), 'x');
      await gt.waitForLog(/^timed reload/);
      gt.signal('SIGHUP');
      await gt.waitForLog(/^received hangup/);
      const completed = (trigger: string) => gt.lines.filter((l) => l.msg === 'reloading configuration complete' && l.trigger === trigger);
      while (completed('SIGHUP').length === 0 || completed('timer').length === 0) await sleep(50);
      for (const done of [...completed('SIGHUP'), ...completed('timer')]) {
        assert.equal(done.ok, true);
        assert.equal(done.changed, false);
      }
      assert.ok(gt.lines.some((l) => l.msg === 'credentials unchanged, nothing to reload'));
      assert.ok(!gt.lines.some((l) => l.msg.startsWith('credential files changed')), 'a touch must not trigger a reload');
      assert.equal(gt.lines.filter((l) => /^loaded certificate/.test(l.msg)).length, 1, 'only the start-up load');
    } finally {
      code = await gt.stop();
    }
    assert.equal(code, 0);
  });
});
