// Runs test files again in a child test runner with GHOSTUNNEL_DATA_PLANE=node, so that every
// daemon they start serves on the portable data plane (test/helpers/daemon.ts passes the
// environment on). Each failing test comes back with the diagnostics TAP prints under it.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chooseDataPlane } from '../../src/engine/planes.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Long enough for a group on a loaded 2-core machine; the files' own waits are shorter. */
export const GROUP_TIMEOUT_MS = 15 * 60_000;

export async function onNodePlane(t: TestContext, files: readonly string[]): Promise<void> {
  // Where the native engine does not load, the whole suite already ran on the node plane.
  if (chooseDataPlane(undefined).kind === 'node') return t.skip('the suite already runs on the node data plane here (no native engine)');
  const child = spawn(process.execPath, ['--test', '--test-concurrency=1', '--test-reporter=tap', '--test-force-exit', ...files], {
    cwd: ROOT,
    // Without NODE_TEST_CONTEXT: the inner runner must run its files itself, not report to this one.
    env: { ...process.env, NODE_TEST_CONTEXT: undefined, GHOSTUNNEL_DATA_PLANE: 'node' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (out += c));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  const lines = out.split('\n');
  const failures = lines.flatMap((l, i) => (/^\s*not ok /.test(l) ? [lines.slice(i, i + 30).join('\n')] : []));
  assert.equal(code, 0, `failing on the node data plane:\n${failures.join('\n')}`);
  const passed = Number(/^# pass (\d+)$/m.exec(out)?.[1]);
  const skipped = Number(/^# skipped (\d+)$/m.exec(out)?.[1]);
  assert.ok(passed >= files.length, `the files ran (${passed} tests passed, ${skipped} skipped)`);
}
