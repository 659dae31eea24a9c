// The suite on macOS and Windows, as far as Linux can check it: the GitHub Actions workflow that
// runs it there (parsed as YAML: jobs, the OS matrix, the commands), the helper that decides which
// tests skip on which platform (and the reason it prints), and that every test file running a
// Linux-only program or reading /proc asks that helper.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { linuxOnly, unixOnly } from '../helpers/platform.ts';

const ROOT = new URL('../../', import.meta.url).pathname;

interface Step {
  readonly uses?: string;
  readonly run?: string;
  readonly with?: Record<string, unknown>;
}
interface Workflow {
  readonly name: string;
  readonly on: Record<string, unknown>;
  readonly jobs: Record<string, { 'runs-on': string; strategy: { 'fail-fast': boolean; matrix: { os: string[] } }; env: Record<string, string>; steps: Step[] }>;
}

describe('the portable CI workflow', () => {
  const workflow = parse(readFileSync(join(ROOT, '.github/workflows/portable.yml'), 'utf8')) as Workflow;

  it('runs npm ci then npm test on macOS and Windows, on every push and pull request', () => {
    assert.deepEqual(Object.keys(workflow.on).sort(), ['pull_request', 'push']);
    const jobs = Object.values(workflow.jobs);
    assert.equal(jobs.length, 1);
    const job = jobs[0]!;
    assert.equal(job['runs-on'], '${{ matrix.os }}');
    assert.deepEqual(job.strategy.matrix.os, ['macos-latest', 'windows-latest']);
    assert.equal(job.strategy['fail-fast'], false, 'one OS failing does not cancel the other');
    assert.deepEqual(job.steps.filter((s) => s.run !== undefined).map((s) => s.run), ['npm ci', 'npm test']);
    assert.equal(job.env.GHOSTUNNEL_DATA_PLANE, 'node');
  });

  it('checks out first and sets up Node.js 24, the major the project runs on; actions are pinned to a major version', () => {
    const [checkout, setup, ...rest] = Object.values(workflow.jobs)[0]!.steps;
    assert.match(checkout!.uses!, /^actions\/checkout@v\d+$/);
    assert.match(setup!.uses!, /^actions\/setup-node@v\d+$/);
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { devDependencies: Record<string, string>; scripts: Record<string, string> };
    assert.equal(String(setup!.with!['node-version']), /\d+/.exec(pkg.devDependencies.node!)![0]);
    assert.deepEqual(rest.filter((s) => s.uses !== undefined), []);
    // cmd.exe, npm's script shell on Windows, keeps single quotes: the glob is in double quotes.
    assert.match(pkg.scripts.test!, /--test\b.* "test\/\*\*\/\*\.test\.ts"$/);
  });
});

describe('which tests skip where', () => {
  it('linuxOnly and unixOnly skip elsewhere with the reason and the platform, and run where they can', () => {
    assert.equal(linuxOnly('runs systemd-socket-activate', 'linux'), false);
    assert.equal(linuxOnly('runs systemd-socket-activate', 'darwin'), 'needs Linux: runs systemd-socket-activate (this is darwin)');
    assert.equal(linuxOnly('reads /proc', 'win32'), 'needs Linux: reads /proc (this is win32)');
    assert.equal(unixOnly('sends SIGHUP', 'linux'), false);
    assert.equal(unixOnly('sends SIGHUP', 'darwin'), false);
    assert.equal(unixOnly('sends SIGHUP', 'win32'), 'needs Unix: sends SIGHUP (this is win32)');
    assert.equal(linuxOnly('x'), linuxOnly('x', process.platform));
  });

  it('every test file that runs a Linux-only program, or reads /proc, decides its skip with linuxOnly', () => {
    const linuxOnlyUse = [
      /systemd-socket-activate|systemd-analyze|\bunshare\b|prlimit/,
      /makeToken|softhsmModule/,
      /startTinyproxy|startMicrosocks|startDante/,
      /startPebble/,
      /\/proc\//,
      /helpers\/(listening-port|processes|datagram-sink)\.ts/,
      /['"]--(workers|syslog)['"]|GHOSTUNNEL_WORKERS/,
    ];
    const files = (dir: string): string[] => readdirSync(dir).flatMap((n) => (statSync(join(dir, n)).isDirectory() ? files(join(dir, n)) : n.endsWith('.test.ts') ? [join(dir, n)] : []));
    const unmarked = files(join(ROOT, 'test'))
      .filter((f) => !relative(ROOT, f).startsWith('test/platform/'))
      .filter((f) => {
        const text = readFileSync(f, 'utf8');
        return linuxOnlyUse.some((p) => p.test(text)) && !/\blinuxOnly\(/.test(text);
      })
      .map((f) => relative(ROOT, f));
    assert.deepEqual(unmarked, []);
  });
});
