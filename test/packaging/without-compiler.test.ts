// Installing on a machine without a usable C++ compiler: a fresh checkout (the files git has, no
// node_modules, no build/) installed with `CXX=/bin/false CC=/bin/false npm ci`. The install
// succeeds with one line saying that the portable data plane will be used; nothing native is
// built (the engine, pkcs11js); the TypeScript build does not need pkcs11js; and the daemon,
// with its default data plane, serves mutual TLS. One install serves every assertion.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { echoBackend, type Backend } from '../helpers/backends.ts';
import { sClient } from '../helpers/clients.ts';
import { runGhostunnel } from '../helpers/daemon.ts';
import { copyOfWorkingTree } from '../helpers/package-install.ts';
import { issue, makeCa, tempDir } from '../helpers/pki.ts';
import { linuxOnly } from '../helpers/platform.ts';
import { softhsmModule } from '../helpers/softhsm.ts';

/** The machine's own npm and Node.js, as on a fresh machine: nothing of the project's is on PATH. */
const SYSTEM_PATH = '/usr/local/bin:/usr/bin:/bin';
const NO_COMPILER = { CXX: '/bin/false', CC: '/bin/false' };

describe('npm ci without a C++ compiler', { skip: linuxOnly('the native data plane is built on Linux only') }, () => {
  let root: string, tree: string, install: { status: number | null; output: string };
  before(() => {
    root = tempDir('gt-no-compiler-');
    tree = copyOfWorkingTree(join(root, 'tree'));
    // A fresh checkout: without what `npm ci` made here (copyOfWorkingTree links it in).
    for (const built of ['node_modules', 'build']) rmSync(join(tree, built));
    const env = { ...process.env, ...NO_COMPILER, PATH: SYSTEM_PATH, npm_config_update_notifier: 'false' };
    const r = spawnSync('npm', ['ci', '--no-audit', '--no-fund', '--prefer-offline'], { cwd: tree, env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    install = { status: r.status, output: `${r.stdout}${r.stderr}` };
  }, { timeout: 600_000 });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('succeeds, and says in one line that the portable data plane will be used and how to get the native one', () => {
    assert.equal(install.status, 0, install.output);
    const ours = install.output.split('\n').filter((l) => l.startsWith('build-native-addons:'));
    assert.deepEqual(ours, [
      'build-native-addons: the portable data plane will be used: no C++ toolchain for the native data plane (/bin/false cannot compile C++); install python3, make and a C++ compiler, then run `npm run build:native` (and install ghostunnel-ts again for PKCS#11)',
    ]);
    assert.doesNotMatch(install.output, /gyp (info|ERR)|make: /, 'no compiler was run');
  });

  it('built nothing native: no engine, no pkcs11js; koffi is there, prebuilt', () => {
    assert.equal(existsSync(join(tree, 'build', 'Release', 'ghostunnel_engine.node')), false);
    assert.equal(existsSync(join(tree, 'node_modules', 'pkcs11js')), false, 'npm leaves the optional package out');
    assert.ok(existsSync(join(tree, 'node_modules', '@koromix', `koffi-${process.platform}-${process.arch}`)), 'koffi loads a prebuilt binary');
  });

  describe('then', () => {
    const node = (): string => join(tree, 'node_modules', '.bin', 'node');
    const launcher = (): string => join(tree, 'bin', 'ghostunnel');

    it('the TypeScript build works without pkcs11js, and --version says pkcs11: false', () => {
      const build = spawnSync('npm', ['run', 'build'], { cwd: tree, env: { ...process.env, PATH: SYSTEM_PATH }, encoding: 'utf8' });
      assert.equal(build.status, 0, `${build.stdout}${build.stderr}`);
      const version = spawnSync(node(), [launcher(), '--version'], { encoding: 'utf8' });
      assert.match(version.stdout, /^rev v\S+ built with node\S+ \(pkcs11: false, keychain: false, openssl /);
    });

    it('a PKCS#11 flag is refused at start in one line naming the package and how to get it', () => {
      const ca = makeCa();
      const server = issue(ca, 'server', { cn: 'localhost' });
      const args = ['server', '--listen', '127.0.0.1:0', '--target', '127.0.0.1:9', '--cert', server.cert, '--pkcs11-module', softhsmModule(), '--pkcs11-token-label', 'none', '--cacert', ca.cert, '--allow-all'];
      const r = spawnSync(node(), [launcher(), ...args], { encoding: 'utf8' });
      assert.equal(r.status, 1);
      assert.equal(r.stderr, 'error: PKCS#11 needs the optional package pkcs11js, which is not installed: npm leaves it out where it cannot compile it; install python3, make and a C++ compiler, then install ghostunnel-ts again (`npm ci` in a checkout)\n');
    });

    describe('the daemon with its default data plane', () => {
      let backend: Backend;
      before(async () => {
        backend = await echoBackend();
      });
      after(() => backend?.close());

      it('serves mutual TLS: openssl s_client with a client certificate, through to the backend and back', async () => {
        const ca = makeCa();
        const server = issue(ca, 'server', { cn: 'localhost', ips: ['127.0.0.1'] });
        const client = issue(ca, 'client', { cn: 'client' });
        const gt = runGhostunnel(['server', '--listen', '127.0.0.1:0', '--target', `127.0.0.1:${backend.port}`, '--cert', server.cert, '--key', server.key, '--cacert', ca.cert, '--allow-cn', 'client'], { entry: launcher() });
        const { port } = await gt.address();
        const r = await sClient(port, ['-cert', client.cert, '-key', client.key, '-CAfile', ca.cert, '-quiet'], 'through-the-portable-plane\n', { until: /through-the-portable-plane/ });
        assert.match(r.stdout, /through-the-portable-plane/);
        assert.equal(backend.accepted(), 1);
        assert.equal(await gt.stop(), 0);
      });
    });
  });
});
