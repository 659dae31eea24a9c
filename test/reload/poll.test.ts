// --auto-reload-interval alone: no file-system events at all (no watcher is started), the poller
// compares stat and content hash every interval and picks a change up within it.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { echoBackend, type Backend } from '../helpers/backends.ts';
import { runGhostunnel, runToExit } from '../helpers/daemon.ts';
import { issue, makeCa, tempDir, type Ca, type Issued } from '../helpers/pki.ts';
import { kubernetesLayout, renameLayout, type CredentialLayout } from '../helpers/rotation.ts';
import { firstSerialSeen } from '../helpers/serials.ts';

const INTERVAL_MS = 1000;
/** A timer's lateness on a busy machine. */
const TIMER_SLACK_MS = 300;
/** Detection, plus the reload itself (read, validate, swap) and the client's handshakes. */
const SERVED_WITHIN_MS = INTERVAL_MS + 1000;

describe('--auto-reload-interval without --auto-reload (polling only)', () => {
  let ca: Ca, v1: Issued, v2: Issued, client: Issued, backend: Backend;
  before(async () => {
    ca = makeCa();
    v1 = issue(ca, 'server-v1', { cn: 'localhost' });
    v2 = issue(ca, 'server-v2', { cn: 'localhost' });
    client = issue(ca, 'client', { cn: 'client' });
    backend = await echoBackend();
  });
  after(() => backend.close());

  const cases: Array<[string, (dir: string, initial: Issued) => CredentialLayout]> = [
    ['write temp then rename', renameLayout],
    ['Kubernetes Secret ..data symlink swap', kubernetesLayout],
  ];
  for (const [name, make] of cases) {
    it(`${name}: picked up within the ${INTERVAL_MS} ms interval`, async (t) => {
      const files = make(tempDir('gt-poll-'), v1);
      const gt = runGhostunnel([
        'server', '--listen', '127.0.0.1:0', '--target', `127.0.0.1:${backend.port}`, '--cert', files.cert, '--key', files.key,
        '--cacert', ca.cert, '--allow-cn', 'client', '--auto-reload-interval', `${INTERVAL_MS}ms`,
      ]);
      let code: number | string;
      try {
        const { port } = await gt.address();
        await gt.waitForLog(new RegExp(`^watching 3 credential files for changes \\(polling every ${INTERVAL_MS} ms\\)$`));
        const opts = { cert: client.cert, key: client.key, ca: ca.cert };
        await files.rotate(v2);
        const rotatedAt = Date.now();
        const seen = await firstSerialSeen(port, opts, v2.serial, SERVED_WITHIN_MS);
        assert.equal(seen.serial, v2.serial, `not served within ${SERVED_WITHIN_MS} ms`);
        const trigger = await gt.waitForLog(/^credential files changed \(seen by polling\), reloading TLS configuration$/);
        const detectedMs = Date.parse(String(trigger.time)) - rotatedAt;
        t.diagnostic(`change seen by the poller ${detectedMs} ms after the rotation; new serial served after ${seen.ms.toFixed(0)} ms`);
        assert.ok(detectedMs <= INTERVAL_MS + TIMER_SLACK_MS, `detected after ${detectedMs} ms, interval ${INTERVAL_MS} ms`);
        assert.ok(!gt.lines.some((l) => l.msg === 'credential files changed, reloading TLS configuration'), 'no event watcher runs');
      } finally {
        code = await gt.stop();
      }
      assert.equal(code, 0);
    });
  }

  it('a negative interval is a usage error', async () => {
    const r = await runToExit(['server', '--listen', '127.0.0.1:0', '--target', '127.0.0.1:1', '--cert', v1.cert, '--key', v1.key, '--allow-all', '--auto-reload-interval', '-1s']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^ghostunnel: error: --auto-reload-interval duration must not be negative \(use 0 to turn polling off\), try --help$/m);
  });
});
