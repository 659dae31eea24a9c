// The npm package and the Docker image's entrypoint. `npm pack` of the working tree, installed
// from the tarball into an empty directory (production dependencies only): what it contains, that
// `npx ghostunnel` works on the project's Node.js and refuses the system's Node.js 20, and that the
// Dockerfile's entrypoint (the same files: package.json, node_modules, dist, bin, proto) gets its
// signals as PID 1 of a PID namespace, as in a container.
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { echoBackend, type Backend } from '../helpers/backends.ts';
import { connectTls, readBytes } from '../helpers/clients.ts';
import { runGhostunnel } from '../helpers/daemon.ts';
import { readDockerfile, type DockerInstruction } from '../helpers/dockerfile.ts';
import { NODE24_PATH, packAndInstall, REPO, type InstalledPackage } from '../helpers/package-install.ts';
import { issue, makeCa, type Ca, type Issued } from '../helpers/pki.ts';
import { linuxOnly } from '../helpers/platform.ts';
import { curl, eventually, statusAddress } from '../helpers/status.ts';
import { cert as opaCert, decisionCases, key as opaKey, ROOT as OPA_ROOT } from '../opa/fixtures.ts';

const run = promisify(execFile);
const SYSTEM_NODE = '/usr/bin/node';
const VERSION = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }).version;

describe('npm package', { skip: linuxOnly('the install builds the native data plane; runs unshare') }, () => {
  let pkg: InstalledPackage;
  before(() => {
    pkg = packAndInstall();
  }, { timeout: 600_000 });
  after(() => pkg?.remove());

  it('holds the launcher and compiled JavaScript only: no TypeScript sources, no tests', () => {
    const files = pkg.files;
    assert.ok(files.includes('bin/ghostunnel'));
    assert.ok(files.includes('dist/main.cjs'));
    assert.ok(files.includes('docs/ghostunnel.1'));
    assert.deepEqual(files.filter((f) => f.endsWith('.ts') || /^(src|test|bench)\//.test(f) || /(^|\/)[^/]*\.test\./.test(f)), []);
    const top = new Set(files.map((f) => f.split('/')[0]));
    assert.deepEqual([...top].sort(), ['README.md', 'bin', 'binding.gyp', 'deploy', 'dist', 'docs', 'ghostunnel.service', 'native', 'package.json', 'proto', 'scripts']);
    // The data plane ships as source and is built by the package's install script.
    assert.ok(files.includes('native/connection.cc'));
    assert.ok(existsSync(join(pkg.packageDir, 'build', 'Release', 'ghostunnel_engine.node')), 'the install built the data plane');
    const manifest = JSON.parse(readFileSync(join(pkg.packageDir, 'package.json'), 'utf8')) as { engines: { node: string }; bin: Record<string, string>; man: string };
    assert.equal(manifest.engines.node, '>=22.12.0');
    assert.equal(manifest.bin.ghostunnel, 'bin/ghostunnel');
    assert.ok(existsSync(join(pkg.packageDir, manifest.man)));
    assert.equal(existsSync(join(pkg.app, 'node_modules', 'typescript')), false, 'development dependencies are not installed');
  });

  it('npx ghostunnel --version and server --help', async () => {
    const env = { ...process.env, PATH: NODE24_PATH };
    const version = await run('npx', ['--no-install', 'ghostunnel', '--version'], { cwd: pkg.app, env });
    assert.equal(version.stdout, `rev v${VERSION} built with node${process.versions.node} (pkcs11: true, keychain: false, openssl ${process.versions.openssl})\n`);
    const help = await run(join(pkg.app, 'node_modules', '.bin', 'ghostunnel'), ['server', '--help'], { cwd: pkg.app, env });
    assert.match(help.stdout, /^Usage: ghostunnel server \[options\]/);
    assert.match(help.stdout, /^ {2}--allow-cn <CN> /m);
    assert.match(help.stdout, /^ {2}--auto-reload /m);
  });

  it('under the system Node.js 20, the launcher refuses in one line and exits 1', (t) => {
    const probe = spawnSync(SYSTEM_NODE, ['-p', 'process.versions.node'], { encoding: 'utf8' });
    const [major, minor] = (probe.stdout ?? '').trim().split('.').map(Number);
    if (probe.status !== 0 || major! > 22 || (major === 22 && minor! >= 12)) return t.skip(`${SYSTEM_NODE} is not older than 22.12`);
    for (const bin of [join(pkg.packageDir, 'bin', 'ghostunnel'), join(REPO, 'bin', 'ghostunnel')]) {
      const result = spawnSync(SYSTEM_NODE, [bin, 'server', '--help'], { encoding: 'utf8' });
      assert.equal(result.status, 1, bin);
      assert.equal(result.stdout, '');
      assert.match(result.stderr, new RegExp(`^ghostunnel: error: Node\\.js ${probe.stdout.trim().replace(/\./g, '\\.')} is too old; ghostunnel needs Node\\.js >= 22\\.12 [^\\n]*\\n$`));
    }
  });

  it('an idle server tunnel with the default flags loads no module and maps no library for a feature that is off', async () => {
    const backend = await echoBackend();
    const ca = makeCa();
    const server = issue(ca, 'server', { cn: 'localhost', dns: ['localhost'], ips: ['127.0.0.1'] });
    // Inside the installed package: the sandbox lets the daemon read its own files only.
    const probe = join(pkg.packageDir, 'loaded-modules-probe.cjs');
    copyFileSync(join(REPO, 'test', 'helpers', 'loaded-modules-probe.cjs'), probe);
    const loaded = async (extra: string[]): Promise<{ milestones: string[]; sandboxed: boolean; builtins: string[]; packages: string[]; natives: string[] }> => {
      const gt = runGhostunnel(['server', '--listen', '127.0.0.1:0', '--target', `127.0.0.1:${backend.port}`, '--cert', server.cert, '--key', server.key, '--cacert', ca.cert, '--allow-all', ...extra], {
        entry: join(pkg.packageDir, 'bin', 'ghostunnel'),
        nodeArgs: ['--require', probe],
      });
      try {
        await gt.address();
        await eventually(() => assert.match(gt.stderr(), /^loaded-modules /m));
        return JSON.parse(/^loaded-modules (.*)$/m.exec(gt.stderr())![1]!);
      } finally {
        await gt.stop();
      }
    };
    try {
      const idle = await loaded([]);
      assert.equal(idle.sandboxed, true);
      assert.deepEqual(idle.milestones, ['parsed', 'modules', 'credentials', 'listening'], 'the sandboxed image (the first published parsed and exec before it)');
      // (node:stream is: node:crypto loads it.)
      for (const off of ['tls', 'net', 'http', 'https', 'child_process', 'cluster', 'dgram', 'dns', 'dns/promises', 'worker_threads', 'perf_hooks']) {
        assert.ok(!idle.builtins.includes(off), `node:${off} is not loaded`);
      }
      const dependencies = (l: { packages: string[] }): string[] => l.packages.filter((name) => name !== 'ghostunnel-ts');
      assert.deepEqual(dependencies(idle), [], 'no dependency from node_modules (commander is bundled)');
      assert.deepEqual(idle.natives.map((p) => p.split('/').pop()), ['ghostunnel_engine.node'], 'no koffi, no pkcs11js');
      // A status port needs Node's HTTP (and TLS for HTTPS), but prom-client waits for the first scrape.
      const status = await loaded(['--status', 'http://127.0.0.1:0']);
      assert.ok(status.builtins.includes('http'));
      assert.deepEqual(dependencies(status), []);
    } finally {
      backend.close();
    }
  });

  it('the bundle in dist/ runs what it loads apart: worker threads (--workers), OPA evaluator threads, metrics', async () => {
    const backend = await echoBackend();
    const admitsClient1 = decisionCases().find((c) => c.allowed.client1 && !c.allowed.client2)!;
    const gt = runGhostunnel(
      ['server', '--listen', '127.0.0.1:0', '--target', `127.0.0.1:${backend.port}`, '--cert', opaCert('server1'), '--key', opaKey('server1'), '--cacert', OPA_ROOT,
        '--allow-policy', admitsClient1.bundle, '--allow-query', admitsClient1.query, '--workers', '2', '--status', 'http://127.0.0.1:0'],
      { entry: join(pkg.packageDir, 'bin', 'ghostunnel') },
    );
    try {
      const status = await statusAddress(gt);
      await gt.waitForLog(/^serving on 2 event loops/);
      const echoes = async (peer: 'client1' | 'client2'): Promise<boolean> => {
        try {
          const s = await connectTls((await gt.address()).port, { cert: opaCert(peer), key: opaKey(peer), ca: OPA_ROOT });
          s.write('hello');
          const got = (await readBytes(s, 5)).toString();
          s.end();
          return got === 'hello';
        } catch {
          return false;
        }
      };
      // Enough connections that both loops take some; each is decided by the policy on an evaluator thread.
      for (let i = 0; i < 8; i++) assert.equal(await echoes('client1'), true);
      assert.equal(await echoes('client2'), false);
      // Workers report their connections to the main thread once per turn of their loop.
      await eventually(async () => {
        const metrics = await curl([`http://${status}/_metrics/prometheus`]);
        assert.equal(metrics.status, 200);
        assert.match(metrics.body, /^ghostunnel_accept_total\b.* 9$/m);
      });
    } finally {
      await gt.stop();
      backend.close();
    }
  });

  describe('Docker image', () => {
    const dockerfile = readDockerfile(join(REPO, 'Dockerfile'));
    const finalStage = dockerfile.stages.at(-1)!;
    const json = (i: DockerInstruction): string[] => JSON.parse(i.args) as string[];
    const one = (keyword: string): DockerInstruction => {
      const found = finalStage.instructions.filter((i) => i.keyword === keyword);
      assert.equal(found.length, 1, keyword);
      return found[0]!;
    };
    const env = Object.fromEntries(finalStage.instructions.filter((i) => i.keyword === 'ENV').flatMap((i) => [...i.args.matchAll(/(\w+)=(\S+)/g)].map((m) => [m[1]!, m[2]!])));

    it('multi-stage on Node 24 slim; the final stage runs nothing, as a non-root user', () => {
      assert.ok(dockerfile.stages.length >= 2);
      for (const stage of dockerfile.stages) assert.match(stage.from, /^node:24-bookworm-slim( AS \w+)?$/);
      assert.deepEqual(finalStage.instructions.filter((i) => i.keyword === 'RUN'), [], 'no toolchain or npm run in the final stage');
      assert.doesNotMatch(one('USER').args, /^(0|root)(:|$)/);
      assert.deepEqual(json(one('VOLUME')), ['/etc/ghostunnel']);
      const copied = finalStage.instructions.filter((i) => i.keyword === 'COPY').map((i) => i.args.split(/\s+/).at(-1));
      assert.deepEqual(copied.sort(), ['./', 'bin/', 'build/Release/', 'dist/', 'node_modules/', 'proto/']);
    });

    it('.dockerignore lets in every file the Dockerfile copies from the context', () => {
      const rules = readFileSync(join(REPO, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
      const included = (path: string): boolean => {
        let keep = true;
        for (const rule of rules) {
          const negated = rule.startsWith('!');
          const pattern = (negated ? rule.slice(1) : rule).replace(/\/$/, '');
          if (pattern === '*' || path === pattern || path.startsWith(`${pattern}/`)) keep = negated;
        }
        return keep;
      };
      const sources = dockerfile.stages.flatMap((s) => s.instructions).filter((i) => i.keyword === 'COPY' && !i.args.startsWith('--from'));
      assert.ok(sources.length > 0);
      for (const copy of sources) {
        for (const source of copy.args.split(/\s+/).slice(0, -1)) {
          assert.ok(existsSync(join(REPO, source)), `${source} exists`);
          assert.ok(included(source.replace(/\/$/, '')), `.dockerignore keeps ${source} out`);
        }
      }
      assert.equal(included('node_modules'), false);
      assert.equal(included('test'), false);
    });

    describe('its entrypoint as PID 1, outside Docker', () => {
      let ca: Ca, server: Issued, client: Issued, backend: Backend;
      before(async () => {
        ca = makeCa();
        server = issue(ca, 'server', { cn: 'localhost', dns: ['localhost'], ips: ['127.0.0.1'] });
        client = issue(ca, 'client', { cn: 'client' });
        backend = await echoBackend();
      });
      after(() => backend?.close());

      it('SIGHUP reloads, the HEALTHCHECK follows /_status, SIGTERM drains and exits 0', async () => {
        const [node, launcher] = json(one('ENTRYPOINT'));
        assert.equal(node, 'node');
        const workdir = one('WORKDIR').args;
        assert.ok(launcher!.startsWith(`${workdir}/`), 'the launcher is in the image\'s WORKDIR, where the package files are');
        const entry = join(pkg.packageDir, launcher!.slice(workdir.length + 1));
        // As in the image: node is PID 1 of its own PID namespace, where a signal without a handler is ignored.
        const gt = runGhostunnel(
          ['server', '--listen', '127.0.0.1:0', '--target', `127.0.0.1:${backend.port}`, '--cert', server.cert, '--key', server.key, '--cacert', ca.cert, '--allow-cn', 'client', '--status', 'http://127.0.0.1:0'],
          { entry, env, wrap: ['unshare', '--pid', '--fork', '--kill-child'] },
        );
        const { port } = await gt.address();
        const listening = gt.lines.find((l) => /^listening for connections/.test(l.msg))!;
        assert.equal(listening.pid, 1, 'node is PID 1');
        const status = await statusAddress(gt);
        const pid = Number(readFileSync(`/proc/${gt.proc.pid}/task/${gt.proc.pid}/children`, 'utf8').trim());
        assert.ok(pid > 1, 'the PID of node outside its namespace');

        const health = one('HEALTHCHECK').args;
        assert.match(health, /^--interval=\S+ --timeout=\S+ .*CMD \[/);
        const [healthNode, ...healthArgs] = JSON.parse(health.slice(health.indexOf('CMD [') + 4)) as string[];
        assert.equal(healthNode, 'node');
        const healthcheck = (): number | null =>
          spawnSync(process.execPath, healthArgs, { env: { ...process.env, GHOSTUNNEL_STATUS_URL: env.GHOSTUNNEL_STATUS_URL!.replace('127.0.0.1:8444', status) } }).status;
        assert.match(env.GHOSTUNNEL_STATUS_URL!, /^http:\/\/127\.0\.0\.1:8444\/_status$/);
        assert.equal(healthcheck(), 0, 'healthy while listening');

        const from = gt.lines.length;
        process.kill(pid, 'SIGHUP');
        const reloaded = await gt.waitForLog(/reload/, 10_000, from);
        assert.equal(reloaded.trigger, 'SIGHUP');

        const open = await connectTls(port, { cert: client.cert, key: client.key, ca: ca.cert });
        open.write('before');
        assert.equal((await readBytes(open, 6)).toString(), 'before');
        process.kill(pid, 'SIGTERM');
        await gt.waitForLog(/received SIGTERM, shutting down/);
        open.write('during');
        assert.equal((await readBytes(open, 6)).toString(), 'during', 'an open connection carries on while draining');
        assert.equal(healthcheck(), 1, 'unhealthy once draining');
        open.end();
        assert.equal(await gt.exited(), 0);
      });
    });
  });
});
