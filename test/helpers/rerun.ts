// Runs test files again in a child test runner with extra environment (GHOSTUNNEL_WORKERS=2,
// GHOSTUNNEL_DATA_PLANE=node), which test/helpers/daemon.ts passes on to every daemon they start.
// Each failing test comes back with the diagnostics TAP prints under it. The child runner leads
// its own process group, killed whole when the run ends or the outer test is cancelled, so no
// daemon of an interrupted file outlives it.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Long enough for a group on a loaded 2-core machine; the files' own waits are shorter. */
export const RERUN_TIMEOUT_MS = 15 * 60_000;

export async function rerunWith(t: TestContext, files: readonly string[], env: Readonly<Record<string, string>>, minPassed: number): Promise<void> {
  const child = spawn(process.execPath, ['--test', '--test-concurrency=1', '--test-reporter=tap', '--test-force-exit', ...files], {
    cwd: ROOT,
    // Without NODE_TEST_CONTEXT: the inner runner must run its files itself, not report to this one.
    env: { ...process.env, NODE_TEST_CONTEXT: undefined, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const killGroup = (): void => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // The group is gone already.
    }
  };
  t.signal.addEventListener('abort', killGroup, { once: true });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (out += c));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  killGroup();
  const lines = out.split('\n');
  const failures = lines.flatMap((l, i) => (/^\s*not ok /.test(l) ? [lines.slice(i, i + 30).join('\n')] : []));
  const settings = Object.entries(env).map(([k, v]) => `${k}=${v}`).join(' ');
  assert.equal(code, 0, `failing with ${settings}:\n${failures.join('\n')}`);
  const passed = Number(/^# pass (\d+)$/m.exec(out)?.[1]);
  const skipped = Number(/^# skipped (\d+)$/m.exec(out)?.[1]);
  assert.ok(passed >= minPassed, `the files ran (${passed} tests passed, ${skipped} skipped)`);
}
