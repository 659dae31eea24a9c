// The README's test command and the system packages: `npm run test:all` (what .ci/run runs) sets
// up, then tests; scripts/setup.sh (npm run setup) installs only what is missing, through apt-get
// as root or sudo otherwise, or names the packages and stops; a test that finds a program missing
// fails in one line naming its Debian package; every program a test checks for is listed.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { REPO } from '../helpers/package-install.ts';
import { linuxOnly } from '../helpers/platform.ts';
import { tempDir } from '../helpers/pki.ts';

const TABLE = readFileSync(join(REPO, 'scripts', 'system-packages.txt'), 'utf8');
const LISTED = new Set(TABLE.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#')).map((l) => l.split(/\s+/)[0]!));

/** A copy of scripts/setup.sh with `extra` lines in its table, and a bin/ of fake commands that log their calls. */
function stagedSetup(extra: string, fakes: readonly string[]): { script: string; bin: string; calls: () => string[] } {
  const dir = tempDir('gt-setup-');
  mkdirSync(join(dir, 'scripts'));
  copyFileSync(join(REPO, 'scripts', 'setup.sh'), join(dir, 'scripts', 'setup.sh'));
  writeFileSync(join(dir, 'scripts', 'system-packages.txt'), `${TABLE}${extra}`);
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  const log = join(dir, 'calls.log');
  writeFileSync(log, '');
  for (const fake of fakes) {
    const body = fake === 'id' ? 'echo 1000' : `echo "${fake} $*" >> ${log}`;
    writeFileSync(join(bin, fake), `#!/bin/sh\n${body}\n`);
    chmodSync(join(bin, fake), 0o755);
  }
  return { script: join(dir, 'scripts', 'setup.sh'), bin, calls: () => readFileSync(log, 'utf8').split('\n').filter(Boolean) };
}

function run(script: string, bin: string): { status: number | null; stdout: string; stderr: string } {
  return spawnSync('bash', [script], { encoding: 'utf8', env: { ...process.env, PATH: `${bin}:${process.env.PATH}` } });
}

const MISSING = 'no-such-program-gt  no-such-package-gt\nno-such-lib-gt.so  no-such-lib-package-gt  /nonexistent/*/no-such-lib-gt.so\n';

describe("the README's test command", () => {
  it('is npm run test:all, which .ci/run runs: setup, npm ci, then npm test', () => {
    const blocks = [...readFileSync(join(REPO, 'README.md'), 'utf8').matchAll(/```sh\n([^\n]*)\n```/g)].map((m) => m[1]);
    assert.deepEqual(blocks.slice(0, 2), ['npm ci && npm start', 'npm run test:all']);
    const commands = readFileSync(join(REPO, '.ci', 'run'), 'utf8').split('\n').filter((l) => l !== '' && !l.startsWith('#'));
    assert.deepEqual(commands, ['set -euo pipefail', 'cd "$(dirname "$0")/.."', 'npm run test:all']);
    const { scripts } = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    assert.equal(scripts['test:all'], 'bash scripts/setup.sh && npm ci --no-audit --no-fund && npm test');
    assert.equal(scripts.setup, 'bash scripts/setup.sh');
  });
});

describe('npm run setup (scripts/setup.sh)', { skip: linuxOnly('runs scripts/setup.sh, an apt-get installer') }, () => {
  it('with every listed program present, does nothing and says so', () => {
    const { script, bin, calls } = stagedSetup('', ['apt-get', 'sudo']);
    const r = run(script, bin);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, 'setup: the system packages the build and the tests use are all installed\n');
    assert.deepEqual(calls(), []);
  });

  it('as root, installs exactly the packages of the missing programs with apt-get', { skip: process.getuid?.() !== 0 && 'not root' }, () => {
    const { script, bin, calls } = stagedSetup(MISSING, ['apt-get', 'sudo']);
    const r = run(script, bin);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(calls(), ['apt-get update -qq', 'apt-get install -y -qq --no-install-recommends no-such-package-gt no-such-lib-package-gt']);
  });

  it('not root, through sudo', () => {
    const { script, bin, calls } = stagedSetup(MISSING, ['apt-get', 'sudo', 'id']);
    const r = run(script, bin);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(calls(), ['sudo apt-get update -qq', 'sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends no-such-package-gt no-such-lib-package-gt']);
  });

  it('not root and no sudo: names the missing packages and the command, exit 1', () => {
    const { script, bin, calls } = stagedSetup(MISSING, ['apt-get', 'id']);
    const r = spawnSync('bash', [script], { encoding: 'utf8', env: { ...process.env, PATH: `${bin}:${pathWithout('sudo')}` } });
    assert.equal(r.status, 1);
    assert.equal(
      r.stderr,
      'setup: missing Debian packages: no-such-package-gt no-such-lib-package-gt\n' +
        'setup: as root, run: apt-get update && apt-get install -y -qq --no-install-recommends no-such-package-gt no-such-lib-package-gt\n',
    );
    assert.deepEqual(calls(), []);
  });
});

/** A directory of links to every command on PATH but `hidden`, to stand for PATH. */
function pathWithout(hidden: string): string {
  const dir = tempDir('gt-path-');
  for (const entry of (process.env.PATH ?? '').split(':')) {
    let names: string[];
    try {
      names = readdirSync(entry);
    } catch {
      continue;
    }
    for (const name of names) if (name !== hidden && !existsSync(join(dir, name))) symlinkSync(join(entry, name), join(dir, name));
  }
  return dir;
}

describe('test/helpers/programs.ts', () => {
  it('a test that finds a program missing fails in one line naming the Debian package', () => {
    const dir = tempDir('gt-programs-');
    const file = join(dir, 'needs-curl.test.mjs');
    const helper = pathToFileURL(join(REPO, 'test', 'helpers', 'programs.ts')).href;
    writeFileSync(file, `import { it } from 'node:test';\nimport { requireProgram } from '${helper}';\nit('needs curl', () => requireProgram('curl'));\n`);
    const env: NodeJS.ProcessEnv = { ...process.env, PATH: '/nonexistent' };
    delete env.NODE_TEST_CONTEXT; // else the inner runner reports to this one instead of printing
    const r = spawnSync(process.execPath, ['--test', '--test-reporter=spec', file], { encoding: 'utf8', env });
    assert.equal(r.status, 1);
    const report = r.stdout.slice(r.stdout.indexOf('failing tests:'));
    const afterName = report.slice(report.indexOf('✖ needs curl'));
    const lines = afterName.split('\n').slice(1).filter((l) => l.trim() !== '');
    assert.deepEqual(lines, ['  [curl not found on PATH: install the Debian package curl (npm run setup installs every package the tests use)]'], r.stdout);
  });

  it('every program a test checks for is in scripts/system-packages.txt', () => {
    const files = readdirSync(join(REPO, 'test'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
    const named = new Set<string>();
    for (const file of files) {
      const text = readFileSync(join(REPO, 'test', file), 'utf8');
      for (const call of text.matchAll(/requirePrograms?\(([^)]*)\)/g)) for (const m of call[1]!.matchAll(/'([^']+)'/g)) named.add(m[1]!);
      for (const m of text.matchAll(/wrap: \['([^']+)'/g)) named.add(m[1]!);
    }
    assert.ok(named.has('openssl') && named.has('go') && named.has('systemd-socket-activate'), [...named].join(' '));
    assert.deepEqual([...named].filter((n) => !LISTED.has(n)), []);
  });
});
