import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { hostname } from 'node:os';
import { after, before, describe, it } from 'node:test';
import parsePrometheus from 'parse-prometheus-text-format';
import { echoBackend, type Backend } from '../helpers/backends.ts';
import { connectTls, readBytes } from '../helpers/clients.ts';
import { runGhostunnel, type Daemon } from '../helpers/daemon.ts';
import { issue, makeCa, type Ca, type Issued } from '../helpers/pki.ts';
import { curl, eventually, promValue, statusAddress, type PromFamily } from '../helpers/status.ts';

const BASE = ['accept_total', 'accept_success', 'accept_error', 'accept_timeout', 'conn_open', 'conn_timeout'];

describe('metrics: Prometheus and JSON on the status port', () => {
  let ca: Ca, server: Issued, client: Issued, intruder: Issued, backend: Backend, gt: Daemon, addr: string, port: number;

  const scrape = async (path = '/_metrics/prometheus'): Promise<PromFamily[]> => {
    const r = await curl([`http://${addr}${path}`]);
    assert.equal(r.status, 200);
    assert.match(r.contentType, /^text\/plain; version=0\.0\.4/);
    return parsePrometheus(r.body) as PromFamily[];
  };
  const value = async (name: string, labels: Record<string, string> = {}): Promise<number> => promValue(await scrape(), name, labels);
  /** Waits until the daemon has counted what the test just did. */
  const expectValue = (name: string, expected: number, labels: Record<string, string> = {}): Promise<void> =>
    eventually(async () => assert.equal(await value(name, labels), expected, `${name}${JSON.stringify(labels)}`));

  before(async () => {
    ca = makeCa();
    server = issue(ca, 'server', { cn: 'localhost' });
    client = issue(ca, 'client', { cn: 'client' });
    intruder = issue(ca, 'intruder', { cn: 'intruder' });
    backend = await echoBackend();
    gt = runGhostunnel([
      'server', '--listen', '127.0.0.1:0', '--target', `127.0.0.1:${backend.port}`, '--cert', server.cert, '--key', server.key,
      '--cacert', ca.cert, '--allow-cn', 'client', '--status', 'http://127.0.0.1:0', '--connect-timeout', '1s',
    ]);
    addr = await statusAddress(gt);
    ({ port } = await gt.address());
  });
  after(async () => {
    assert.equal(await gt.stop(), 0);
    await backend.close();
  });

  it('parses, with Ghostunnel names at zero, the timer series, and Node process metrics', async () => {
    const families = await scrape();
    for (const name of BASE) {
      const family = families.find((f) => f.name === `ghostunnel_${name}`);
      assert.ok(family, `ghostunnel_${name} present`);
      assert.equal(family.type, 'GAUGE', 'Ghostunnel exports every metric as a gauge');
      assert.equal(promValue(families, `ghostunnel_${name}`), 0);
    }
    for (const suffix of ['count', 'sum', 'min', 'max', 'mean']) assert.equal(promValue(families, `ghostunnel_conn_handshake_${suffix}`), 0);
    const histogram = families.find((f) => f.name === 'ghostunnel_conn_lifetime_seconds');
    assert.equal(histogram?.type, 'HISTOGRAM');
    assert.ok(families.some((f) => f.name === 'process_cpu_user_seconds_total'));
    assert.ok(families.some((f) => f.name === 'nodejs_heap_size_used_bytes'));
    const notAfter = new X509Certificate(readFileSync(server.cert)).validToDate.getTime() / 1000;
    assert.equal(promValue(families, 'ghostunnel_certificate_expiry_timestamp_seconds', { role: 'server' }), notAfter);
    assert.equal(promValue(families, 'ghostunnel_certificate_expiry_timestamp_seconds', { role: 'ca' }), new X509Certificate(readFileSync(ca.cert)).validToDate.getTime() / 1000);
    assert.equal(promValue(families, 'ghostunnel_reload_total', { result: 'success' }), 0);
  });

  it('counts a connection made, piped and closed; conn.open goes back to 0', async () => {
    const s = await connectTls(port, { cert: client.cert, key: client.key, ca: ca.cert });
    s.write('hello');
    assert.equal((await readBytes(s, 5)).toString(), 'hello');
    await expectValue('ghostunnel_conn_open', 1);
    let families = await scrape();
    assert.equal(promValue(families, 'ghostunnel_accept_total'), 1);
    assert.equal(promValue(families, 'ghostunnel_accept_success'), 1);
    assert.equal(promValue(families, 'ghostunnel_conn_handshake_count'), 1);
    assert.ok(promValue(families, 'ghostunnel_conn_handshake_max') > 0, 'handshake time recorded in ns');
    const handshake = families.find((f) => f.name === 'ghostunnel_conn_handshake_seconds')!.metrics[0]!;
    assert.equal(handshake.count, '1');
    assert.equal(handshake.buckets!['+Inf'], '1');

    s.end();
    await expectValue('ghostunnel_conn_open', 0);
    families = await scrape();
    assert.equal(promValue(families, 'ghostunnel_conn_lifetime_count'), 1);
    assert.equal(promValue(families, 'ghostunnel_bytes_total', { direction: 'forwarded' }), 5);
    assert.equal(promValue(families, 'ghostunnel_bytes_total', { direction: 'returned' }), 5);
    assert.equal(promValue(families, 'ghostunnel_accept_error'), 0);
  });

  it('counts refused connections by reason: denied, failed handshake, handshake timeout', async () => {
    const denied = await connectTls(port, { cert: intruder.cert, key: intruder.key, ca: ca.cert });
    denied.resume();
    await expectValue('ghostunnel_handshake_failures_total', 1, { reason: 'denied' });
    denied.destroy();

    const noCert = await connectTls(port, { ca: ca.cert }).catch(() => undefined);
    noCert?.on('error', () => {}).resume();
    await expectValue('ghostunnel_handshake_failures_total', 1, { reason: 'tls' });
    noCert?.destroy();

    // A client that never says a word: reaped by --connect-timeout, counted as accept.timeout.
    const silent = connect(port, '127.0.0.1');
    silent.on('error', () => {});
    await expectValue('ghostunnel_accept_timeout', 1);
    silent.destroy();

    const families = await scrape();
    assert.equal(promValue(families, 'ghostunnel_accept_total'), 4);
    assert.equal(promValue(families, 'ghostunnel_accept_error'), 2);
    assert.equal(promValue(families, 'ghostunnel_accept_success'), 1);
    assert.equal(promValue(families, 'ghostunnel_handshake_failures_total', { reason: 'timeout' }), 1);
    assert.equal(promValue(families, 'ghostunnel_conn_open'), 0);
  });

  it('serves the same numbers as a JSON array at /_metrics and /_metrics/json, and ?format= picks', async () => {
    for (const path of ['/_metrics', '/_metrics/json', '/_metrics?format=json']) {
      const r = await curl([`http://${addr}${path}`]);
      assert.equal(r.status, 200, path);
      const items = JSON.parse(r.body) as Array<Record<string, unknown>>;
      assert.ok(Array.isArray(items));
      for (const item of items) {
        assert.deepEqual(Object.keys(item), ['timestamp', 'metric', 'value', 'hostname']);
        assert.equal(item.hostname, hostname());
        assert.ok(Number.isInteger(item.timestamp));
      }
      const byName = new Map(items.map((i) => [i.metric, i.value]));
      assert.equal(byName.get('ghostunnel.accept.total'), 4, path);
      assert.equal(byName.get('ghostunnel.accept.error'), 2, path);
      assert.equal(byName.get('ghostunnel.conn.open'), 0, path);
      assert.equal(byName.get('ghostunnel.conn.lifetime.count'), 1, path);
      for (const field of ['count', 'min', 'max', 'mean', '50-percentile', '75-percentile', '95-percentile', '99-percentile']) {
        assert.ok(byName.has(`ghostunnel.conn.handshake.${field}`), `${path}: conn.handshake.${field}`);
      }
      assert.equal(byName.get('ghostunnel.handshake.failure.denied'), 1, path);
    }
    const prom = await scrape('/_metrics?format=prometheus');
    assert.equal(promValue(prom, 'ghostunnel_accept_total'), 4);
    assert.equal((await curl([`http://${addr}/_metrics?format=xml`])).status, 400);
  });
});
