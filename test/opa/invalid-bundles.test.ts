// Must show 3: broken policies stop the start (exit 1, a message naming the flag, the file and the
// fix) and, on reload, are logged and ignored while the previous policy keeps deciding. Also the
// flag pairing rules, and that every reload trigger re-reads the policy.
import assert from 'node:assert/strict';
import { copyFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { echoBackend, type Backend } from '../helpers/backends.ts';
import { connectTls, roundTrip } from '../helpers/clients.ts';
import { runGhostunnel, runToExit, type Daemon } from '../helpers/daemon.ts';
import { tempDir } from '../helpers/pki.ts';
import { unixOnly } from '../helpers/platform.ts';
import { bundle, cert, key, OPA_DIR, ROOT, type Peer } from './fixtures.ts';

const serverArgs = (backendPort: number): string[] => ['server', '--listen', '127.0.0.1:0', '--target', `127.0.0.1:${backendPort}`, '--cert', cert('server1'), '--key', key('server1'), '--cacert', ROOT];

async function admits(port: number, peer: Peer): Promise<boolean> {
  try {
    const socket = await connectTls(port, { cert: cert(peer), key: key(peer), ca: ROOT });
    return (await roundTrip(socket, 'ping', { timeoutMs: 5000 })).toString() === 'ping';
  } catch {
    return false;
  }
}

describe('OPA policy at start', () => {
  const invalid = (name: string): string => `${OPA_DIR}invalid/${name}.tar.gz`;
  const cases: Array<[string, string, string, RegExp]> = [
    ['empty bundle', invalid('empty'), 'data.policy.allow', /the file is empty \(0 bytes\), not a \.tar\.gz bundle/],
    ['not gzip', invalid('not-gzip'), 'data.policy.allow', /not a gzip-compressed tar bundle: incorrect header check/],
    ['truncated', invalid('truncated'), 'data.policy.allow', /not a gzip-compressed tar bundle: unexpected end of file/],
    ['bad wasm', invalid('bad-wasm'), 'data.policy.allow', /policy\.wasm is not valid WebAssembly/],
    ['Rego source only, no opa on PATH', invalid('rego-only'), 'data.policy.allow', /no "opa" binary is on PATH to compile it; build a wasm bundle with `opa build -t wasm -e policy\/allow -o bundle\.tar\.gz -b /],
    ['missing file', '/nonexistent/policy.tar.gz', 'data.policy.allow', /ENOENT: no such file or directory/],
    ['unknown entrypoint', bundle('allow-all.tar.gz'), 'data.policy.deny', /has no entrypoint "policy\/deny" \(it has: policy\/allow\)/],
    ['query that is no data reference', bundle('allow-all.tar.gz'), 'xxx@invalid', /query "xxx@invalid" is not a reference to a rule under data/],
  ];
  for (const [name, path, query, message] of cases) {
    it(`exits 1: ${name}`, async () => {
      const r = await runToExit([...serverArgs(9), '--allow-policy', path, '--allow-query', query], { env: { PATH: tempDir('gt-no-opa-') } });
      assert.equal(r.code, 1);
      const line = r.stderr.trim().split('\n').pop()!;
      assert.ok(line.startsWith(`error: Invalid rego policy or query: `), line);
      if (!/xxx@invalid/.test(query)) assert.ok(line.includes(`--allow-policy ${path}: `), line);
      assert.match(line, message);
    });
  }

  it('exits 1 in client mode too (--verify-policy)', async () => {
    const r = await runToExit(['client', '--listen', '127.0.0.1:0', '--target', '127.0.0.1:9', '--disable-authentication', '--cacert', ROOT, '--verify-policy', invalid('not-gzip'), '--verify-query', 'data.policy.allow']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error: Invalid rego policy or query: --verify-policy \S+not-gzip\.tar\.gz: not a gzip-compressed tar bundle/m);
  });

  it('policy and query flags come in pairs', async () => {
    const [a, b, c] = await Promise.all([
      runToExit([...serverArgs(9), '--allow-policy', bundle('allow-all.tar.gz')]),
      runToExit([...serverArgs(9), '--allow-query', 'data.policy.allow']),
      runToExit(['client', '--listen', '127.0.0.1:0', '--target', '127.0.0.1:9', '--disable-authentication', '--verify-query', 'data.policy.allow']),
    ]);
    for (const r of [a, b]) {
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^error: --allow-policy and --allow-query have to be used together$/m);
    }
    assert.equal(c.code, 1);
    assert.match(c.stderr, /^error: --verify-policy and --verify-query have to be used together$/m);
  });
});

describe('OPA policy on reload', { skip: unixOnly('sends SIGHUP') }, () => {
  let backend: Backend;
  let gt: Daemon;
  let port: number;
  let policy: string;
  before(async () => {
    backend = await echoBackend();
    policy = join(tempDir('gt-opa-reload-'), 'policy.tar.gz');
    copyFileSync(bundle('allow-client1.tar.gz'), policy);
    gt = runGhostunnel([...serverArgs(backend.port), '--allow-policy', policy, '--allow-query', 'data.policy.allow'], { env: { PATH: tempDir('gt-no-opa-') } });
    ({ port } = await gt.address());
  });
  after(async () => {
    assert.equal(await gt.stop(), 0);
    await backend.close();
  });

  const reload = async (expect: RegExp): Promise<void> => {
    const from = gt.lines.length;
    gt.signal('SIGHUP');
    await gt.waitForLog(expect, 10_000, from);
  };

  for (const broken of ['empty', 'not-gzip', 'truncated', 'bad-wasm', 'rego-only']) {
    it(`keeps the old policy when the new one is ${broken}`, async () => {
      copyFileSync(`${OPA_DIR}invalid/${broken}.tar.gz`, policy);
      await reload(new RegExp(`^error reloading OPA policy: --allow-policy ${policy}: `));
      assert.equal(await admits(port, 'client1'), true);
      assert.equal(await admits(port, 'client2'), false);
    });
  }

  it('keeps the old policy when the file is gone', async () => {
    rmSync(policy);
    await reload(/^error reloading OPA policy: .*ENOENT/);
    assert.equal(await admits(port, 'client1'), true);
  });

  it('takes a good policy on the next reload', async () => {
    copyFileSync(bundle('allow-all.tar.gz'), policy);
    await reload(/^loaded OPA policy/);
    assert.equal(await admits(port, 'client2'), true);
    assert.equal(gt.proc.exitCode, null);
  });
});

describe('every reload trigger re-reads the policy', () => {
  for (const [name, flags, ready] of [
    ['--timed-reload', ['--timed-reload', '300ms'], /^listening for connections/],
    ['--auto-reload (file change)', ['--auto-reload'], /^watching \d+ credential files/],
  ] as const) {
    it(name, async () => {
      const policy = join(tempDir('gt-opa-trigger-'), 'policy.tar.gz');
      copyFileSync(bundle('deny-all.tar.gz'), policy);
      const gt = runGhostunnel([...serverArgs(9), '--allow-policy', policy, '--allow-query', 'data.policy.allow', ...flags]);
      try {
        await gt.waitForLog(ready);
        const from = gt.lines.length;
        copyFileSync(bundle('allow-all.tar.gz'), policy);
        await gt.waitForLog(/^loaded OPA policy/, 10_000, from);
      } finally {
        assert.equal(await gt.stop(), 0);
      }
    });
  }
});
