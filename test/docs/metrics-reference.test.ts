// docs/metrics.md against a running daemon: every series it exports is documented, and every name
// the page gives is one it exports.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { echoBackend, type Backend } from '../helpers/backends.ts';
import { connectTls, roundTrip } from '../helpers/clients.ts';
import { runGhostunnel, type Daemon } from '../helpers/daemon.ts';
import { issue, makeCa } from '../helpers/pki.ts';
import { statusAddress } from '../helpers/status.ts';

const page = readFileSync(new URL('../../docs/metrics.md', import.meta.url), 'utf8');
/** Names in inline code outside the fenced blocks. */
const inline = new Set([...page.replace(/```[\s\S]*?```/g, '').matchAll(/`([^`]+)`/g)].map((m) => m[1]!));
const TIMER_GAUGES = /^(.*)_(count|sum|min|max|mean|std_dev|variance|rate1|rate5|rate15|rate_mean)$/;

describe('docs/metrics.md', () => {
  let backend: Backend;
  let gt: Daemon;
  let prometheus: Map<string, string>;
  let json: string[];

  before(async () => {
    const ca = makeCa();
    const server = issue(ca, 'server', { cn: 'localhost' });
    const client = issue(ca, 'client', { cn: 'client' });
    backend = await echoBackend();
    gt = runGhostunnel(['server', '--listen', '127.0.0.1:0', '--target', `127.0.0.1:${backend.port}`, '--cert', server.cert, '--key', server.key, '--cacert', ca.cert, '--allow-cn', 'client', '--status', 'http://127.0.0.1:0']);
    const { port } = await gt.address();
    const status = await statusAddress(gt);
    const socket = await connectTls(port, { cert: client.cert, key: client.key, ca: ca.cert });
    assert.equal((await roundTrip(socket, 'ping')).toString(), 'ping');
    const text = await (await fetch(`http://${status}/_metrics/prometheus`)).text();
    prometheus = new Map([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1]!, m[2]!]));
    json = ((await (await fetch(`http://${status}/_metrics/json`)).json()) as Array<{ metric: string }>).map((m) => m.metric);
  });
  after(async () => {
    await gt?.stop();
    await backend?.close();
  });

  it('documents every Prometheus family', () => {
    assert.ok(prometheus.size > 40);
    for (const [family, type] of prometheus) {
      if (!family.startsWith('ghostunnel_')) {
        assert.match(family, /^(process|nodejs)_/, `${family}: only Node.js process series besides ghostunnel_*`);
        continue;
      }
      const timer = TIMER_GAUGES.exec(family);
      const documented = inline.has(family) || [...inline].some((n) => n.startsWith(`${family}{`)) || (timer !== null && inline.has(`${timer[1]}_*`) && inline.has(`_${timer[2]}`));
      assert.ok(documented, `${family} (${type}) is not in docs/metrics.md`);
    }
  });

  it('documents every JSON metric', () => {
    assert.ok(json.length > 30);
    for (const metric of json) {
      const head = metric.slice(0, metric.lastIndexOf('.'));
      const last = metric.slice(metric.lastIndexOf('.'));
      const documented = inline.has(metric) || ([...inline].some((n) => n === head || n.startsWith(`${head}.`)) && inline.has(last));
      assert.ok(documented, `${metric} is not in docs/metrics.md`);
    }
  });

  it('every name the page gives is exported', () => {
    for (const name of inline) {
      if (/^ghostunnel_[a-z0-9_]+(\{\w+\})?$/.test(name)) assert.ok(prometheus.has(name.replace(/\{\w+\}$/, '')), `${name} is documented but not exported`);
      if (/^ghostunnel\.[a-z0-9.-]+$/.test(name)) assert.ok(json.some((m) => m === name || m.startsWith(`${name}.`)), `${name} is documented but not exported`);
    }
  });
});
