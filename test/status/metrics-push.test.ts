import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { hostname } from 'node:os';
import { after, before, describe, it } from 'node:test';
import { echoBackend, type Backend } from '../helpers/backends.ts';
import { connectTls, readBytes } from '../helpers/clients.ts';
import { runGhostunnel, runToExit, type Daemon } from '../helpers/daemon.ts';
import { issue, makeCa, type Ca, type Issued } from '../helpers/pki.ts';
import { eventually } from '../helpers/status.ts';

interface Post {
  readonly method: string | undefined;
  readonly url: string | undefined;
  readonly contentType: string | undefined;
  readonly body: string;
}

const TIMER_FIELDS = ['count', 'count_ps', 'min', 'max', 'mean', 'std-dev', '50-percentile', '75-percentile', '95-percentile', '99-percentile', '999-percentile', 'one-minute', 'five-minute', 'fifteen-minute', 'mean-rate'];

describe('metrics: pushed to a Graphite listener and an HTTPS collector', () => {
  let ca: Ca, server: Issued, client: Issued, backend: Backend, gt: Daemon, port: number;
  let graphite: Server, collector: ReturnType<typeof createHttpsServer>;
  const graphiteConnections: string[] = [];
  const posts: Post[] = [];

  /** The lines of the latest Graphite flush that carried `name`. */
  const latestFlush = (name: string): string[] => {
    const flush = graphiteConnections.findLast((text) => text.includes(`${name} `));
    if (flush === undefined) throw new Error(`no flush with ${name} yet (${graphiteConnections.length} flushes)`);
    return flush.trimEnd().split('\n');
  };
  const graphiteValue = (name: string): number => {
    const line = latestFlush(name).find((l) => l.startsWith(`${name} `));
    return Number(line!.split(' ')[1]);
  };

  before(async () => {
    ca = makeCa();
    server = issue(ca, 'server', { cn: 'localhost' });
    client = issue(ca, 'client', { cn: 'client' });
    backend = await echoBackend();
    graphite = createServer((s) => {
      let text = '';
      s.setEncoding('utf8').on('data', (c: string) => (text += c));
      s.on('end', () => graphiteConnections.push(text));
    });
    await new Promise<void>((resolve) => graphite.listen(0, '127.0.0.1', resolve));
    // The collector's certificate comes from the tunnel's CA: the push verifies it against --cacert.
    collector = createHttpsServer({ cert: readFileSync(server.cert), key: readFileSync(server.key) }, (req, res) => {
      let body = '';
      req.setEncoding('utf8').on('data', (c: string) => (body += c));
      req.on('end', () => {
        posts.push({ method: req.method, url: req.url, contentType: req.headers['content-type'], body });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
    gt = runGhostunnel([
      'server', '--listen', '127.0.0.1:0', '--target', `127.0.0.1:${backend.port}`, '--cert', server.cert, '--key', server.key, '--cacert', ca.cert,
      '--allow-cn', 'client', '--metrics-prefix', 'edge.tunnel',
      '--metrics-graphite', `127.0.0.1:${(graphite.address() as AddressInfo).port}`,
      '--metrics-url', `https://localhost:${(collector.address() as AddressInfo).port}/ingest?src=gt`, '--metrics-interval', '200ms',
    ]);
    ({ port } = await gt.address());
  });
  after(async () => {
    assert.equal(await gt.stop(), 0);
    await backend.close();
    graphite.close();
    collector.close();
  });

  it('Graphite receives the plaintext lines every second, with the prefix, and counts move', async () => {
    await eventually(() => assert.equal(graphiteValue('edge.tunnel.accept.total.count'), 0));
    const lines = latestFlush('edge.tunnel.accept.total.count');
    for (const line of lines) assert.match(line, /^edge\.tunnel\.[a-z0-9.-]+\.[a-z0-9_-]+ -?\d+(\.\d+)? \d{10}$/, line);
    const names = new Set(lines.map((l) => l.split(' ')[0]));
    for (const counter of ['accept.total', 'accept.success', 'accept.error', 'accept.timeout', 'conn.open', 'conn.timeout']) {
      assert.ok(names.has(`edge.tunnel.${counter}.count`), counter);
      assert.ok(names.has(`edge.tunnel.${counter}.count_ps`), counter);
    }
    for (const timer of ['conn.handshake', 'conn.lifetime']) for (const field of TIMER_FIELDS) assert.ok(names.has(`edge.tunnel.${timer}.${field}`), `${timer}.${field}`);
    assert.ok(names.has('edge.tunnel.certificate.expiry.server.value'));
    const ts = Number(lines[0]!.split(' ')[2]);
    assert.ok(Math.abs(ts - Date.now() / 1000) < 3600, 'unix seconds');

    const s = await connectTls(port, { cert: client.cert, key: client.key, ca: ca.cert });
    s.write('ping');
    assert.equal((await readBytes(s, 4)).toString(), 'ping');
    await eventually(() => {
      assert.equal(graphiteValue('edge.tunnel.accept.total.count'), 1);
      assert.equal(graphiteValue('edge.tunnel.conn.open.count'), 1);
      assert.equal(graphiteValue('edge.tunnel.conn.handshake.count'), 1);
    });
    s.end();
    await eventually(() => {
      assert.equal(graphiteValue('edge.tunnel.conn.open.count'), 0);
      assert.equal(graphiteValue('edge.tunnel.conn.lifetime.count'), 1);
      assert.equal(graphiteValue('edge.tunnel.bytes.forwarded.count'), 4);
    });
  });

  it('the collector receives POSTs of the JSON array every --metrics-interval, verified against --cacert', async () => {
    await eventually(() => assert.ok(posts.length >= 2, `${posts.length} posts`));
    const post = posts.at(-1)!;
    assert.equal(post.method, 'POST');
    assert.equal(post.url, '/ingest?src=gt');
    assert.equal(post.contentType, 'application/json');
    const items = JSON.parse(post.body) as Array<Record<string, unknown>>;
    for (const item of items) assert.deepEqual(Object.keys(item), ['timestamp', 'metric', 'value', 'hostname']);
    assert.ok(items.every((i) => i.hostname === hostname() && String(i.metric).startsWith('edge.tunnel.')));
    const byName = new Map(items.map((i) => [i.metric, i.value]));
    assert.equal(byName.get('edge.tunnel.accept.total'), 1);
    assert.equal(byName.get('edge.tunnel.accept.success'), 1);
    assert.ok(byName.has('edge.tunnel.conn.handshake.99-percentile'));
    assert.equal(gt.lines.some((l) => /error reporting metrics/.test(l.msg)), false);
  });
});

describe('metrics: sink flags', () => {
  it('an unresolvable --metrics-graphite is a usage error', async () => {
    const r = await runToExit(['server', '--listen', '127.0.0.1:0', '--target', '127.0.0.1:1', '--cert', 'x', '--key', 'y', '--allow-all', '--metrics-graphite', 'nosuch.invalid:2003']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^ghostunnel: error: 'nosuch\.invalid:2003' is not a valid TCP address: lookup nosuch\.invalid: .+, try --help\n$/);
  });

  it('a --metrics-graphite without a port is a usage error', async () => {
    const r = await runToExit(['server', '--listen', '127.0.0.1:0', '--target', '127.0.0.1:1', '--allow-all', '--metrics-graphite', 'localhost']);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, "ghostunnel: error: 'localhost' is not a valid TCP address: address localhost: missing port in address, try --help\n");
  });

  it('a failing collector is logged as "error reporting metrics"', async () => {
    const ca = makeCa();
    const server = issue(ca, 'server', { cn: 'localhost' });
    const refused = createServer();
    await new Promise<void>((resolve) => refused.listen(0, '127.0.0.1', resolve));
    const deadPort = (refused.address() as AddressInfo).port;
    await new Promise((resolve) => refused.close(resolve));
    const gt = runGhostunnel(['server', '--listen', '127.0.0.1:0', '--target', '127.0.0.1:1', '--cert', server.cert, '--key', server.key, '--allow-all', '--metrics-url', `http://127.0.0.1:${deadPort}/`, '--metrics-interval', '100ms']);
    const line = await gt.waitForLog(/^error reporting metrics: /);
    assert.match(line.msg, new RegExp(`^error reporting metrics: http://127\\.0\\.0\\.1:${deadPort}/: connect ECONNREFUSED`));
    assert.equal(await gt.stop(), 0);
  });
});
