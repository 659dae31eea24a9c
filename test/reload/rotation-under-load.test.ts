// 100 rotations picked up by --auto-reload while the Go load generator makes full handshakes as
// fast as it can: not one handshake may fail, and every rotation must really swap.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { echoBackend, type Backend } from '../helpers/backends.ts';
import { runGhostunnel } from '../helpers/daemon.ts';
import { buildLoadgen, handshakeLoad } from '../helpers/loadgen.ts';
import { issue, makeCa, tempDir, type Ca, type Issued } from '../helpers/pki.ts';
import { inPlaceLayout } from '../helpers/rotation.ts';

const ROTATIONS = 100;
const LOAD_MS = 20_000;

describe('--auto-reload under handshake load', () => {
  let ca: Ca, pairs: Issued[], client: Issued, backend: Backend, loadgen: string;
  before(async () => {
    loadgen = buildLoadgen();
    ca = makeCa();
    pairs = ['a', 'b', 'c'].map((n) => issue(ca, `server-${n}`, { cn: 'localhost' }));
    client = issue(ca, 'client', { cn: 'client' });
    backend = await echoBackend();
  });
  after(() => backend.close());

  it(`${ROTATIONS} rotations during loadgen hs: 0 failed handshakes`, async (t) => {
    const files = inPlaceLayout(tempDir('gt-load-'), pairs[0]!);
    const gt = runGhostunnel([
      'server', '--listen', '127.0.0.1:0', '--target', `127.0.0.1:${backend.port}`, '--cert', files.cert, '--key', files.key,
      '--cacert', ca.cert, '--allow-cn', 'client', '--auto-reload', '--quiet', 'conns',
    ]);
    let code: number | string;
    try {
      const { port } = await gt.address();
      await gt.waitForLog(/^watching/);
      const loadStart = Date.now();
      const load = handshakeLoad(loadgen, port, { client: { cert: client.cert, key: client.key, ca: ca.cert }, concurrency: 4, durationMs: LOAD_MS });
      await sleep(500);
      let rotated = 0;
      for (let i = 1; i <= ROTATIONS; i++) {
        const next = pairs[i % pairs.length]!;
        const from = gt.lines.length;
        await files.rotate(next);
        const loaded = await gt.waitForLog(/^loaded certificate:/, 10_000, from);
        assert.equal(loaded.serial, next.serial, `rotation ${i} swapped in ${String(loaded.serial)}`);
        rotated++;
      }
      const rotationsDoneMs = Date.now() - loadStart;
      const result = await load;
      t.diagnostic(`${rotated} rotations in ${rotationsDoneMs} ms of a ${LOAD_MS} ms run; loadgen: ${result.ok} handshakes ok, ${result.errors} failed, ${result.per_s.toFixed(0)}/s, p50 ${result.p50_ms} ms, p99 ${result.p99_ms} ms`);
      assert.ok(rotationsDoneMs < LOAD_MS, 'all rotations happened while the load ran');
      assert.equal(result.errors, 0, `failed handshakes, e.g. ${result.error_sample}`);
      assert.ok(result.ok > 0);
      assert.ok(!gt.lines.some((l) => /^error reloading/.test(l.msg)));
    } finally {
      code = await gt.stop();
    }
    assert.equal(code, 0);
  });
});
