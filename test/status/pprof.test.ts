import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { echoBackend, type Backend } from '../helpers/backends.ts';
import { connectTls, readBytes } from '../helpers/clients.ts';
import { runGhostunnel, type Daemon } from '../helpers/daemon.ts';
import { issue, makeCa, type Ca, type Issued } from '../helpers/pki.ts';
import { linuxOnly } from '../helpers/platform.ts';
import { curl, eventually, statusAddress } from '../helpers/status.ts';

/** A goroutine profile in Go's debug=1 text: the total of its first line, and its "N @ kind" lines. */
function parseProfile(body: string): { total: number; kinds: Map<string, number> } {
  const first = /^goroutine profile: total (\d+)\n/.exec(body);
  assert.ok(first, `first line of ${JSON.stringify(body)}`);
  const kinds = new Map<string, number>();
  for (const m of body.matchAll(/^(\d+) @ (.+)$/gm)) kinds.set(m[2]!, (kinds.get(m[2]!) ?? 0) + Number(m[1]));
  return { total: Number(first[1]), kinds };
}

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

  it('goroutine: Go\'s "goroutine profile: total N", N the units of work, listed by kind; debug=2 per event loop', async () => {
    for (const query of ['', '?debug=0', '?debug=1', '?debug=x']) {
      const r = await curl([`${base}goroutine${query}`]);
      assert.equal(r.status, 200);
      assert.match(r.contentType, /^text\/plain/);
      const profile = parseProfile(r.body);
      assert.equal(profile.total, [...profile.kinds.values()].reduce((a, b) => a + b, 0), r.body);
      assert.ok([...profile.kinds.keys()].some((k) => k.startsWith('event loop: ')), r.body);
    }
    const held = await Promise.all(Array.from({ length: 5 }, () => connectTls(port, { cert: client.cert, key: client.key, ca: ca.cert })));
    for (const s of held) {
      s.write('x');
      await readBytes(s, 1);
    }
    const busy = parseProfile((await curl([`${base}goroutine?debug=1`])).body);
    assert.equal(busy.kinds.get('connection: accepted side'), 5);
    assert.equal(busy.kinds.get('connection: target side (piping)'), 5);
    const perLoop = (await curl([`${base}goroutine?debug=2`])).body;
    assert.match(perLoop, /^goroutine profile: total \d+\nevent loop 0 \(main thread\): \d+\n/);
    assert.match(perLoop, /^event loop 0 \(main thread\): \d+$/m);
    assert.match(perLoop, /^5 @ connection: accepted side$/m);
    for (const s of held) s.destroy();
    await eventually(async () => assert.equal(parseProfile((await curl([`${base}goroutine?debug=1`])).body).kinds.get('connection: accepted side'), undefined));
  });
});

describe('status: the goroutine count rises with the work and returns to its baseline', () => {
  let ca: Ca, server: Issued, client: Issued;
  const daemons: Daemon[] = [];
  const closers: Array<() => Promise<void> | void> = [];
  before(() => {
    ca = makeCa();
    server = issue(ca, 'server', { cn: 'localhost' });
    client = issue(ca, 'client', { cn: 'client' });
  });
  after(async () => {
    for (const gt of daemons) assert.equal(await gt.stop(), 0);
    for (const close of closers) await close();
  });

  /** A daemon with --enable-pprof in front of `targetPort`; returns its tunnel port and a reader of the count. */
  const start = async (targetPort: number, extra: string[] = []): Promise<{ gt: Daemon; port: number; total: () => Promise<number>; body: (debug: number) => Promise<string> }> => {
    const gt = runGhostunnel([
      'server', '--listen', '127.0.0.1:0', '--target', `127.0.0.1:${targetPort}`, '--cert', server.cert, '--key', server.key,
      '--cacert', ca.cert, '--allow-cn', 'client', '--status', 'http://127.0.0.1:0', '--enable-pprof', ...extra,
    ]);
    daemons.push(gt);
    const url = `http://${await statusAddress(gt)}/debug/pprof/goroutine`;
    const { port } = await gt.address();
    const body = async (debug: number): Promise<string> => (await curl([`${url}?debug=${debug}`])).body;
    return { gt, port, total: async () => parseProfile(await body(1)).total, body };
  };
  const tls = (port: number) => connectTls(port, { cert: client.cert, key: client.key, ca: ca.cert });
  /** A connection that echoed a byte, so that it is piping. */
  const piping = async (port: number) => {
    const s = await tls(port);
    s.write('x');
    await readBytes(s, 1);
    return s;
  };
  const backToBaseline = (total: () => Promise<number>, baseline: number, what: string) =>
    eventually(async () => {
      const now = await total();
      assert.ok(Math.abs(now - baseline) <= 10, `${what}: ${now}, baseline ${baseline}`);
    });
  /** Runs `count` one-connection tasks, `parallel` at a time. */
  const inBatches = async (count: number, parallel: number, task: () => Promise<void>): Promise<void> => {
    for (let done = 0; done < count; done += parallel) await Promise.all(Array.from({ length: Math.min(parallel, count - done) }, task));
  };

  it('500 handshakes, then a backend that refuses and accepts again', async () => {
    const backend = await echoBackend();
    const { gt, port, total } = await start(backend.port);
    const baseline = await total();

    const open = await Promise.all(Array.from({ length: 20 }, () => piping(port)));
    assert.ok((await total()) >= baseline + 20, 'each open connection counts');
    for (const s of open) s.destroy();
    await inBatches(500, 25, async () => (await piping(port)).destroy());
    await backToBaseline(total, baseline, 'after 500 handshakes');

    const targetPort = backend.port;
    await backend.close();
    const from = gt.lines.length;
    await inBatches(20, 10, async () => {
      const s = await tls(port).catch(() => undefined);
      if (s === undefined) return;
      await new Promise((resolve) => s.once('close', resolve).once('error', resolve).resume());
    });
    await gt.waitForLog(new RegExp(`^error on dial: dial tcp 127\\.0\\.0\\.1:${targetPort}: connect: connection refused$`), 10_000, from);
    await backToBaseline(total, baseline, 'while the backend refuses');

    const again = createServer({ allowHalfOpen: true }, (s) => s.on('error', () => {}).pipe(s));
    await new Promise<void>((resolve) => again.listen(targetPort, '127.0.0.1', resolve));
    closers.push(() => new Promise<void>((resolve) => again.close(() => resolve())));
    await inBatches(20, 10, async () => (await piping(port)).destroy());
    await backToBaseline(total, baseline, 'once the backend accepts again');
  });

  it('200 idle connections closed by --close-timeout and --max-conn-lifetime', async () => {
    // A backend that reads and never writes nor ends: only the daemon's deadlines close these.
    const sockets = new Set<Socket>();
    const silent = createServer({ allowHalfOpen: true }, (s) => {
      sockets.add(s);
      s.on('error', () => {}).resume();
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    closers.push(() => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      silent.close(() => resolve());
    }));
    const { gt, port, total } = await start((silent.address() as AddressInfo).port, ['--close-timeout', '1s', '--max-conn-lifetime', '4s']);
    const baseline = await total();
    const from = gt.lines.length;
    const held: TLSSocket[] = [];
    await inBatches(200, 25, async () => {
      const s = await tls(port);
      s.on('error', () => {});
      held.push(s);
    });
    const closed = held.map((s) => new Promise((resolve) => s.once('close', resolve)));
    // Half of them end their side: --close-timeout ends the other; the rest stay idle until --max-conn-lifetime.
    for (const s of held.slice(0, 100)) s.end();
    for (const s of held) s.resume();
    await Promise.all(closed);
    await eventually(() => assert.equal(gt.lines.slice(from).filter((l) => /^closed pipe/.test(l.msg) && l.timed_out === true).length, 200));
    await backToBaseline(total, baseline, 'after the deadlines closed 200 connections');
  });

  it('--workers 2: the count is summed over the event loops', { skip: linuxOnly('--workers shares the listening descriptor') }, async () => {
    const backend = await echoBackend();
    closers.push(() => backend.close());
    const { port, total, body } = await start(backend.port, ['--workers', '2']);
    const baseline = await total();
    assert.match(await body(2), /^event loop 1 \(worker 1\): \d+$/m);
    const open = await Promise.all(Array.from({ length: 20 }, () => piping(port)));
    const busy = parseProfile(await body(1));
    assert.equal(busy.kinds.get('connection: accepted side'), 20, 'every loop reported its connections');
    assert.ok(busy.total >= baseline + 20);
    for (const s of open) s.destroy();
    await inBatches(200, 25, async () => (await piping(port)).destroy());
    await backToBaseline(total, baseline, 'after 200 handshakes on two loops');
  });
});
