// --workers must not change what the reload, status, drain and service-manager tests see (socket
// activation, sd_notify, syslog, PROXY headers included): they run here again with
// GHOSTUNNEL_WORKERS=2, so every daemon they start serves on two event loops. (The pprof test
// is not among them: its handle counts are those of the main thread.)
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { linuxOnly } from '../helpers/platform.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SUITES = [
  'test/server/reload.test.ts',
  'test/server/resumption.test.ts',
  'test/reload/reload-endpoint.test.ts',
  'test/config/hot-reload.test.ts',
  'test/opa/invalid-bundles.test.ts',
  'test/status/status-endpoint.test.ts',
  'test/status/status-reload.test.ts',
  'test/status/metrics.test.ts',
  'test/status/shutdown.test.ts',
  'test/lifecycle/drain.test.ts',
  'test/lifecycle/limits.test.ts',
  'test/lifecycle/upgrade.test.ts',
  'test/lifecycle/systemd.test.ts',
  'test/lifecycle/syslog.test.ts',
  'test/lifecycle/proxy-protocol.test.ts',
];

it('the reload, status, drain and systemd suites pass with --workers 2', { skip: linuxOnly('--workers shares the listening descriptor') }, async () => {
  const child = spawn(process.execPath, ['--test', '--test-concurrency=1', '--test-reporter=tap', '--test-force-exit', ...SUITES], {
    cwd: ROOT,
    // Without NODE_TEST_CONTEXT: the inner runner must run its files itself, not report to this one.
    env: { ...process.env, NODE_TEST_CONTEXT: undefined, GHOSTUNNEL_WORKERS: '2' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (out += c));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  // Each failing test with the diagnostics TAP prints under it (error, expected, actual, location).
  const lines = out.split('\n');
  const failures = lines.flatMap((l, i) => (/^\s*not ok /.test(l) ? [lines.slice(i, i + 30).join('\n')] : []));
  assert.equal(code, 0, `failing with --workers 2:\n${failures.join('\n')}`);
  const passed = Number(/^# pass (\d+)$/m.exec(out)?.[1]);
  assert.ok(passed > 50, `the suites ran (${passed} tests passed)`);
});
