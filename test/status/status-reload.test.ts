import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import parsePrometheus from 'parse-prometheus-text-format';
import { echoBackend, type Backend } from '../helpers/backends.ts';
import { connectTls, peerSerial } from '../helpers/clients.ts';
import { runGhostunnel, type Daemon } from '../helpers/daemon.ts';
import { issue, makeCa, tempDir, type Ca, type Issued } from '../helpers/pki.ts';
import { unixOnly } from '../helpers/platform.ts';
import { curl, promValue, statusAddress, type PromFamily } from '../helpers/status.ts';

function stamp(offsetMs: number): string {
  return new Date(Date.now() + offsetMs).toISOString().replace(/[-:T]/g, '').slice(0, 14) + 'Z';
}

function goUtc(date: Date): string {
  return date.toISOString().replace('.000Z', 'Z');
}

describe('status: reloads are observable', { skip: unixOnly('sends SIGHUP') }, () => {
  let ca: Ca, first: Issued, second: Issued, backend: Backend, gt: Daemon, addr: string, port: number;
  let cert: string, key: string;

  const status = async (): Promise<Record<string, unknown>> => {
    const r = await curl(['--cacert', ca.cert, `https://${addr}/_status`]);
    assert.equal(r.exit, 0, r.stderr);
    return JSON.parse(r.body) as Record<string, unknown>;
  };
  /** The serial the status port itself presents to a new connection. */
  const statusPortSerial = async (): Promise<string> => {
    const s = await connectTls(port, { ca: ca.cert });
    const serial = peerSerial(s);
    s.destroy();
    return serial;
  };
  const reload = async (): Promise<void> => {
    const from = gt.lines.length;
    gt.signal('SIGHUP');
    await gt.waitForLog(/^reloading configuration complete$/, 10_000, from);
  };

  before(async () => {
    ca = makeCa();
    first = issue(ca, 'first', { cn: 'localhost' });
    second = issue(ca, 'second', { cn: 'localhost', endDate: stamp(45 * 86400_000) });
    const dir = tempDir();
    cert = join(dir, 'server.crt');
    key = join(dir, 'server.key');
    copyFileSync(first.cert, cert);
    copyFileSync(first.key, key);
    backend = await echoBackend();
    gt = runGhostunnel(['server', '--listen', '127.0.0.1:0', '--target', `127.0.0.1:${backend.port}`, '--cert', cert, '--key', key, '--cacert', ca.cert, '--allow-cn', 'client', '--status', '127.0.0.1:0']);
    addr = await statusAddress(gt);
    port = Number(addr.slice(addr.lastIndexOf(':') + 1));
  });
  after(async () => {
    assert.equal(await gt.stop(), 0);
    await backend.close();
  });

  it('starts with no reload and the first certificate', async () => {
    const body = await status();
    assert.equal(body.last_reload, '0001-01-01T00:00:00Z');
    assert.equal(body.last_reload_ok, true);
    assert.equal((body.certificates as Array<{ serial: string }>)[0]!.serial, first.serial);
    assert.equal(await statusPortSerial(), first.serial);
  });

  it('after a failed reload: last_reload_ok false with the error, the old certificate still in use', async () => {
    writeFileSync(cert, 'not a certificate\n');
    await reload();
    const body = await status();
    assert.notEqual(body.last_reload, '0001-01-01T00:00:00Z');
    assert.equal(body.last_reload_ok, false);
    assert.match(String(body.last_reload_error), new RegExp(`${cert.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}.*no PEM certificate found`));
    assert.equal(body.last_successful_reload, '0001-01-01T00:00:00Z');
    assert.equal(body.ok, true, 'a failed reload keeps the tunnel healthy');
    const certs = body.certificates as Array<{ serial: string; not_after: string }>;
    assert.equal(certs[0]!.serial, first.serial);
    assert.equal(await statusPortSerial(), first.serial);
  });

  it('after a good reload: the new serial and not_after, and the status port presents the new certificate', async () => {
    writeFileSync(cert, readFileSync(second.cert));
    writeFileSync(key, readFileSync(second.key));
    await reload();
    const body = await status();
    assert.equal(body.last_reload_ok, true);
    assert.equal('last_reload_error' in body, false);
    assert.equal(body.last_successful_reload, body.last_reload);
    const leaf = new X509Certificate(readFileSync(second.cert));
    const certs = body.certificates as Array<{ role: string; serial: string; not_after: string; sha256_fingerprint: string }>;
    assert.equal(certs[0]!.role, 'server');
    assert.equal(certs[0]!.serial, second.serial);
    assert.equal(certs[0]!.not_after, goUtc(leaf.validToDate));
    assert.notEqual(certs[0]!.not_after, goUtc(new X509Certificate(readFileSync(first.cert)).validToDate));
    assert.equal(certs[0]!.sha256_fingerprint, leaf.fingerprint256);
    assert.equal(await statusPortSerial(), second.serial);
  });

  it('counts reloads by result and shows the new expiry in the metrics', async () => {
    const r = await curl(['--cacert', ca.cert, `https://${addr}/_metrics/prometheus`]);
    const families = parsePrometheus(r.body) as PromFamily[];
    assert.equal(promValue(families, 'ghostunnel_reload_total', { result: 'failure' }), 1);
    assert.equal(promValue(families, 'ghostunnel_reload_total', { result: 'success' }), 1);
    assert.equal(promValue(families, 'ghostunnel_reload_total', { result: 'unchanged' }), 0);
    const notAfter = new X509Certificate(readFileSync(second.cert)).validToDate.getTime() / 1000;
    assert.equal(promValue(families, 'ghostunnel_certificate_expiry_timestamp_seconds', { role: 'server' }), notAfter);
  });
});
