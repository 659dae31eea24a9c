// A reload is reported complete (log line, /_status, READY=1 to systemd) only once the policy it
// read decides new connections: here a Rego source compiled by a stand-in `opa` that takes 300 ms.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import { echoBackend, type Backend } from '../helpers/backends.ts';
import { datagramSink, type DatagramSink } from '../helpers/datagram-sink.ts';
import { runGhostunnel, runToExit, type Daemon } from '../helpers/daemon.ts';
import { failingOpa, standInOpa } from '../helpers/opa-stand-in.ts';
import { issue, makeCa, tempDir, type Ca, type Issued } from '../helpers/pki.ts';
import { linuxOnly } from '../helpers/platform.ts';
import { curl, statusAddress } from '../helpers/status.ts';

const QUERY = 'data.policy.allow';
const ENTRYPOINT = 'policy/allow';
const BUILD_MS = 300;

describe('reload with a Rego policy compiled by opa', { skip: linuxOnly('reads sd_notify datagrams; --workers') }, () => {
  let ca: Ca, server: Issued, client: Issued, backend: Backend, opaDir: string;
  const daemons: Daemon[] = [];
  const sinks: DatagramSink[] = [];

  before(async () => {
    ca = makeCa();
    server = issue(ca, 'server', { cn: 'localhost' });
    client = issue(ca, 'client', { cn: 'client' });
    backend = await echoBackend();
    opaDir = standInOpa(join(tempDir('gt-opa-'), 'bin'), ENTRYPOINT, BUILD_MS);
  });
  after(async () => {
    for (const gt of daemons) await gt.stop();
    for (const s of sinks) s.close();
    await backend.close();
  });

  /** Whether the tunnel admits the client: a byte echoed back, or the connection refused. */
  const admitted = (port: number): Promise<boolean> =>
    new Promise((resolve) => {
      const s = tlsConnect({ host: '127.0.0.1', port, servername: 'localhost', ca: readFileSync(ca.cert), cert: readFileSync(client.cert), key: readFileSync(client.key) });
      const done = (ok: boolean): void => {
        s.destroy();
        resolve(ok);
      };
      s.once('secureConnect', () => s.write('x'));
      s.once('data', (d: Buffer) => done(d.toString() === 'x'));
      s.once('error', () => done(false));
      s.once('close', () => done(false));
    });

  /** A daemon whose policy (a .rego file) denies everyone until it is rewritten. */
  const start = async (extra: string[]): Promise<{ gt: Daemon; policy: string; port: number; status: string; notify: DatagramSink }> => {
    const dir = tempDir('gt-policy-');
    const policy = join(dir, 'policy.rego');
    writeFileSync(policy, 'package policy\nallow = false\n');
    const notify = await datagramSink(join(dir, 'notify.sock'));
    sinks.push(notify);
    const gt = runGhostunnel(
      [
        'server', '--listen', '127.0.0.1:0', '--target', `127.0.0.1:${backend.port}`, '--cert', server.cert, '--key', server.key, '--cacert', ca.cert,
        '--allow-policy', policy, '--allow-query', QUERY, '--status', 'http://127.0.0.1:0', ...extra,
      ],
      { env: { PATH: `${opaDir}:${process.env.PATH}`, NOTIFY_SOCKET: notify.path } },
    );
    daemons.push(gt);
    const { port } = await gt.address();
    const status = `http://${await statusAddress(gt)}/_status`;
    assert.equal(await admitted(port), false, 'the first policy denies');
    return { gt, policy, port, status, notify };
  };

  const lastReload = async (status: string): Promise<string> => (JSON.parse((await curl([status])).body) as { last_reload: string }).last_reload;

  for (const workers of [1, 2]) {
    const extra = workers === 1 ? [] : ['--workers', String(workers)];
    // Enough connections that, with --workers, every loop takes some (the kernel spreads them).
    const tries = 4 * workers;

    it(`the log line, /_status and READY=1 come once the new policy decides (--workers ${workers})`, async () => {
      const { gt, policy, port, status, notify } = await start(extra);

      writeFileSync(policy, 'package policy\nallow = true\n');
      const from = gt.lines.length;
      gt.proc.kill('SIGHUP');
      await gt.waitForLog(/^reloading configuration complete$/, 10_000, from);
      for (let i = 0; i < tries; i++) assert.equal(await admitted(port), true, `connection ${i} right after "reloading configuration complete"`);

      writeFileSync(policy, 'package policy\nallow = false\n');
      const before = await lastReload(status);
      gt.proc.kill('SIGHUP');
      while ((await lastReload(status)) === before) await new Promise((r) => setTimeout(r, 5));
      for (let i = 0; i < tries; i++) assert.equal(await admitted(port), false, `connection ${i} right after /_status's last_reload moved`);

      writeFileSync(policy, 'package policy\nallow = true\n');
      const mark = notify.messages.length;
      gt.proc.kill('SIGHUP');
      const reloading = await notify.waitFor(/^RELOADING=1/, 10_000, mark);
      await notify.waitFor(/^READY=1/, 10_000, notify.messages.indexOf(reloading) + 1);
      for (let i = 0; i < tries; i++) assert.equal(await admitted(port), true, `connection ${i} right after READY=1`);
    });
  }

  it("a failed opa build: OPA's reason (on its standard output) is in the error", async () => {
    const dir = tempDir('gt-policy-');
    const policy = join(dir, 'policy.rego');
    writeFileSync(policy, 'package policy\nallow := \n');
    const reason = '1 error occurred: policy.rego:2: rego_parse_error: unexpected eof token';
    const r = await runToExit(
      ['server', '--listen', '127.0.0.1:0', '--target', `127.0.0.1:${backend.port}`, '--cert', server.cert, '--key', server.key, '--cacert', ca.cert, '--allow-policy', policy, '--allow-query', QUERY],
      { env: { PATH: `${failingOpa(join(dir, 'bin'), reason)}:${process.env.PATH}` } },
    );
    assert.equal(r.code, 1);
    assert.ok(r.stderr.includes(reason), r.stderr);
    assert.match(r.stderr, /^error: Invalid rego policy or query: --allow-policy .*policy\.rego: .*opa build -t wasm -e policy\/allow .* failed: 1 error occurred/m);
  });
});
