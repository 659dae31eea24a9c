import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { echoBackend, type Backend } from '../helpers/backends.ts';
import { connectTls, readBytes } from '../helpers/clients.ts';
import { runGhostunnel, type Daemon } from '../helpers/daemon.ts';
import { issue, makeCa, type Ca, type Issued } from '../helpers/pki.ts';
import { curl, eventually, statusAddress } from '../helpers/status.ts';

describe('status: --enable-pprof serves Node.js diagnostics', () => {
  let ca: Ca, client: Issued, backend: Backend, gt: Daemon, base: string, port: number, serverKey: string;
  before(async () => {
    ca = makeCa();
    const server = issue(ca, 'server', { cn: 'localhost' });
    serverKey = server.key;
    client = issue(ca, 'client', { cn: 'client' });
    backend = await echoBackend();
    gt = runGhostunnel([
      'server', '--listen', '127.0.0.1:0', '--target', `127.0.0.1:${backend.port}`, '--cert', server.cert, '--key', server.key,
      '--cacert', ca.cert, '--allow-cn', 'client', '--status', 'http://127.0.0.1:0', '--enable-pprof',
    ]);
    base = `http://${await statusAddress(gt)}/debug/pprof/`;
    ({ port } = await gt.address());
  });
  after(async () => {
    assert.equal(await gt.stop(), 0);
    await backend.close();
  });

  it('lists what it serves', async () => {
    const r = await curl([base]);
    assert.equal(r.status, 200);
    for (const name of ['profile', 'heap', 'goroutine']) assert.match(r.body, new RegExp(`/debug/pprof/${name}`));
  });

  it('takes a CPU profile in the .cpuprofile format', async () => {
    const r = await curl([`${base}profile?seconds=0.5`]);
    assert.equal(r.status, 200);
    const profile = JSON.parse(r.body) as { nodes: Array<{ callFrame: { functionName: string } }>; startTime: number; endTime: number };
    assert.ok(profile.nodes.length > 0);
    assert.ok(profile.nodes.some((n) => n.callFrame.functionName === '(root)'));
    assert.ok(profile.endTime > profile.startTime);
    assert.equal((await curl([`${base}profile?seconds=forever`])).status, 400);
  });

  it('serves a sampling heap profile: allocation sites and sizes, not the memory (no key material)', async () => {
    const r = await curl([`${base}heap`]);
    assert.equal(r.status, 200);
    const profile = JSON.parse(r.body) as { head: { callFrame: { functionName: string }; children: unknown[] }; samples: Array<{ size: number }> };
    assert.equal(profile.head.callFrame.functionName, '(root)');
    assert.ok(profile.head.children.length > 0);
    assert.ok(profile.samples.length > 0 && profile.samples.every((s) => s.size > 0));
    const key = readFileSync(serverKey, 'utf8').split('\n')[1]!;
    assert.ok(key.length > 20);
    assert.ok(!r.body.includes(key) && !r.body.includes('PRIVATE KEY'), 'the private key is nowhere in the profile');
  });

  it('counts open connections and active event-loop resources in place of goroutines', async () => {
    const idle = JSON.parse((await curl([`${base}goroutine`])).body) as { open_connections: number; active_resources: number; active_resources_by_type: Record<string, number> };
    assert.equal(idle.open_connections, 0);
    const s = await connectTls(port, { cert: client.cert, key: client.key, ca: ca.cert });
    s.write('x');
    await readBytes(s, 1);
    const busy = JSON.parse((await curl([`${base}goroutine`])).body) as typeof idle;
    assert.equal(busy.open_connections, 1);
    assert.equal(busy.active_resources, Object.values(busy.active_resources_by_type).reduce((a, b) => a + b, 0));
    s.end();
    await eventually(async () => assert.equal((JSON.parse((await curl([`${base}goroutine`])).body) as typeof idle).open_connections, 0));
  });
});
