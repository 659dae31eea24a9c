// A rotation in progress: the certificate is written, the key only 500 ms later. Clients
// connecting in a tight loop meanwhile see the old certificate or the new one, never an error.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { echoBackend, type Backend } from '../helpers/backends.ts';
import { connectTls, peerSerial, readBytes } from '../helpers/clients.ts';
import { runGhostunnel } from '../helpers/daemon.ts';
import { issue, makeCa, tempDir, type Ca, type Issued } from '../helpers/pki.ts';
import { inPlaceLayout } from '../helpers/rotation.ts';

const LOOPS = 3;

describe('--auto-reload: certificate written, key 500 ms later', () => {
  let ca: Ca, v1: Issued, v2: Issued, client: Issued, backend: Backend;
  before(async () => {
    ca = makeCa();
    v1 = issue(ca, 'server-v1', { cn: 'localhost' });
    v2 = issue(ca, 'server-v2', { cn: 'localhost' });
    client = issue(ca, 'client', { cn: 'client' });
    backend = await echoBackend();
  });
  after(() => backend.close());

  it('clients in a tight loop see the old or the new certificate and nothing else', async (t) => {
    const files = inPlaceLayout(tempDir('gt-half-'), v1);
    const gt = runGhostunnel([
      'server', '--listen', '127.0.0.1:0', '--target', `127.0.0.1:${backend.port}`, '--cert', files.cert, '--key', files.key,
      '--cacert', ca.cert, '--allow-cn', 'client', '--auto-reload',
    ]);
    let code: number | string;
    try {
      const { port } = await gt.address();
      await gt.waitForLog(/^watching/);
      const opts = { cert: client.cert, key: client.key, ca: ca.cert };
      let stop = false;
      const errors: string[] = [];
      const loop = async (): Promise<string[]> => {
        const seen: string[] = [];
        while (!stop) {
          try {
            const s = await connectTls(port, opts);
            seen.push(peerSerial(s));
            s.write('x');
            assert.equal((await readBytes(s, 1)).toString(), 'x');
            s.destroy();
          } catch (err) {
            errors.push((err as Error).message);
          }
        }
        return seen;
      };
      const loops = Array.from({ length: LOOPS }, loop);
      await sleep(200);
      writeFileSync(files.cert, readFileSync(v2.cert));
      await sleep(500);
      writeFileSync(files.key, readFileSync(v2.key));
      const trigger = await gt.waitForLog(/^credential files changed, reloading TLS configuration$/);
      await gt.waitForLog(/^loaded certificate:/, 5000, gt.lines.indexOf(trigger));
      await sleep(300);
      stop = true;
      const perLoop = await Promise.all(loops);

      assert.deepEqual(errors, []);
      for (const seen of perLoop) {
        assert.ok(seen.every((s) => s === v1.serial || s === v2.serial), `unexpected serial in ${seen.join(',')}`);
        const firstNew = seen.indexOf(v2.serial);
        assert.ok(firstNew > 0, 'the old certificate was served during the rotation, then the new one');
        assert.ok(seen.slice(firstNew).every((s) => s === v2.serial), 'once swapped, never back to the old certificate');
      }
      const total = perLoop.reduce((n, s) => n + s.length, 0);
      t.diagnostic(`${total} handshakes during the rotation, 0 errors`);
      assert.equal(gt.lines.filter((l) => /^new credentials do not load yet/.test(l.msg)).length, 1, 'the wait is logged once');
      assert.ok(!gt.lines.some((l) => /^error reloading/.test(l.msg)));
      assert.equal(gt.lines.filter((l) => /^loaded certificate:/.test(l.msg)).length, 2, 'start-up, then the complete new pair');
    } finally {
      code = await gt.stop();
    }
    assert.equal(code, 0);
  });
});
