// --data-plane: which plane serves, said once at start (and in /_status, see
// test/status/status-endpoint.test.ts); asking for native where its addon cannot load is a start-up
// error that says why and what to do, before anything is bound.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { echoBackend, type Backend } from '../helpers/backends.ts';
import { connectTls, roundTrip } from '../helpers/clients.ts';
import { runGhostunnel, runToExit } from '../helpers/daemon.ts';
import { issue, makeCa, tempDir, type Ca, type Issued } from '../helpers/pki.ts';
import { linuxOnly } from '../helpers/platform.ts';
import { chooseDataPlane } from '../../src/engine/planes.ts';

/** Whether the process has the native engine's addon in its address space; undefined off Linux (no /proc). */
function engineMapped(pid: number): boolean | undefined {
  if (linuxOnly('reads /proc')) return undefined;
  return readFileSync(`/proc/${pid}/maps`, 'utf8').includes('ghostunnel_engine.node');
}

describe('--data-plane', () => {
  let ca: Ca, server: Issued, client: Issued, backend: Backend;
  /** Every test names its plane: none inherits the re-runs' GHOSTUNNEL_DATA_PLANE. */
  const env = { GHOSTUNNEL_DATA_PLANE: undefined };
  const serverArgs = (): string[] => ['--listen', '127.0.0.1:0', '--target', `127.0.0.1:${backend.port}`, '--cert', server.cert, '--key', server.key, '--cacert', ca.cert, '--allow-cn', 'client'];
  before(async () => {
    ca = makeCa();
    server = issue(ca, 'server', { cn: 'localhost' });
    client = issue(ca, 'client', { cn: 'client' });
    backend = await echoBackend();
  });
  after(async () => {
    await backend.close();
  });

  it('GHOSTUNNEL_DATA_PLANE=node: one start-up line says so, and the tunnel serves on it', async () => {
    const gt = runGhostunnel(['server', ...serverArgs()], { env: { GHOSTUNNEL_DATA_PLANE: 'node' } });
    try {
      const { port } = await gt.address();
      assert.deepEqual(
        gt.lines.filter((l) => /^data plane:/.test(l.msg)).map((l) => [l.msg, l.data_plane]),
        [['data plane: node (Node.js tls and net, as --data-plane asks)', 'node']],
      );
      const s = await connectTls(port, { cert: client.cert, key: client.key, ca: ca.cert });
      assert.equal((await roundTrip(s, 'on the node plane')).toString(), 'on the node plane');
      assert.notEqual(engineMapped(gt.proc.pid!), true, 'the native addon was never loaded');
    } finally {
      assert.equal(await gt.stop(), 0);
    }
  });

  it('data-plane in a --config file', async () => {
    const file = join(tempDir('gt-plane-'), 'tunnel.yaml');
    writeFileSync(file, 'mode: server\ndata-plane: node\n');
    const gt = runGhostunnel(['--config', file, 'server', ...serverArgs()], { env });
    try {
      await gt.address();
      assert.equal((await gt.waitForLog(/^data plane:/)).data_plane, 'node');
    } finally {
      assert.equal(await gt.stop(), 0);
    }
  });

  it('without the flag: native where the engine loads, node elsewhere', async (t) => {
    const gt = runGhostunnel(['server', ...serverArgs()], { env });
    try {
      const line = await gt.waitForLog(/^data plane:/);
      if (chooseDataPlane(undefined).kind === 'node') {
        assert.match(line.msg, /^data plane: node \(Node\.js tls and net; the native engine cannot be used here: /);
        return t.diagnostic(line.msg);
      }
      assert.equal(line.msg, 'data plane: native (the C++ engine on Node.js OpenSSL)');
      await gt.address();
      assert.equal(engineMapped(gt.proc.pid!), true);
    } finally {
      await gt.stop();
    }
  });

  it('native where its addon cannot load: exit 1 before binding, with the loader\'s reason and what to do', async () => {
    // Node's permission model without --allow-addons stands in for a machine without the build.
    const r = await runToExit(['server', '--disable-landlock', '--data-plane', 'native', ...serverArgs()], { env, nodeArgs: ['--permission', '--allow-fs-read=*'] });
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /^error: --data-plane native: the native data plane cannot be used here: its addon did not load \(\S+ghostunnel_engine\.node: Cannot load native addon because loading addons is disabled\.\); build it with `npm run build:native` \(needs python3, make and a C\+\+ compiler\), or use --data-plane node\n$/,
    );
    assert.equal(r.lines.some((l) => /^listening/.test(l.msg)), false);
  });

  it('an unknown plane is a usage error', async () => {
    const r = await runToExit(['server', '--data-plane', 'rust', ...serverArgs()], { env });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /enum value must be one of native,node, got 'rust'/);
  });
});
