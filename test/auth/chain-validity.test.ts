// A context remembers the peer chains that verified (native/verify.cc). These tests fail if a
// remembered pass outlives a certificate's validity, or if a failure is remembered.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { echoBackend, type Backend } from '../helpers/backends.ts';
import { sClient } from '../helpers/clients.ts';
import { runGhostunnel, type Daemon } from '../helpers/daemon.ts';
import { issue, makeCa, stamp, type Ca, type Issued } from '../helpers/pki.ts';
import { plainExchange } from '../helpers/plain-client.ts';
import { tlsTarget, type TlsTarget } from '../helpers/tls-target.ts';

/** Waits until a moment past `date` (the validity boundaries have a resolution of one second). */
async function until(date: Date): Promise<void> {
  const wait = date.getTime() + 1500 - Date.now();
  if (wait > 0) await sleep(wait);
}

function validity(cert: Issued): { from: Date; to: Date } {
  const x = new X509Certificate(readFileSync(cert.cert));
  return { from: new Date(x.validFrom), to: new Date(x.validTo) };
}

describe('server mode: remembered client chains and their validity', { concurrency: true }, () => {
  let ca: Ca, server: Issued, backend: Backend, gt: Daemon, port: number;

  before(async () => {
    ca = makeCa('validity-ca');
    server = issue(ca, 'server', { cn: 'localhost' });
    backend = await echoBackend();
    gt = runGhostunnel(['server', '--listen', '127.0.0.1:0', '--target', `127.0.0.1:${backend.port}`, '--cert', server.cert, '--key', server.key, '--cacert', ca.cert, '--allow-all']);
    port = (await gt.address()).port;
  });
  after(async () => {
    assert.equal(await gt.stop(), 0);
    await backend.close();
  });

  /** Sends a line through the tunnel with `who`'s certificate; true if the echo came back. */
  async function reaches(who: Issued): Promise<boolean> {
    const r = await sClient(port, ['-cert', who.cert, '-key', who.key, '-CAfile', ca.cert, '-quiet'], 'ping\n', { until: /ping/, timeoutMs: 5000 });
    return r.stdout.includes('ping');
  }

  it('admits a certificate until its notAfter and refuses it from then on', async () => {
    const expiring = issue(ca, 'expiring', { cn: 'expiring', endDate: stamp(8_000) });
    assert.equal(await reaches(expiring), true);
    assert.equal(await reaches(expiring), true, 'the second handshake uses the remembered chain');
    await until(validity(expiring).to);
    const from = gt.lines.length;
    assert.equal(await reaches(expiring), false);
    await gt.waitForLog(/error on TLS handshake from tcp:127\.0\.0\.1:\d+: certificate verification failed: CERT_HAS_EXPIRED/, 5000, from);
  });

  it('refuses a certificate before its notBefore and admits it once valid: failures are not remembered', async () => {
    const early = issue(ca, 'early', { cn: 'early', startDate: stamp(5_000) });
    const from = gt.lines.length;
    assert.equal(await reaches(early), false);
    await gt.waitForLog(/certificate verification failed: CERT_NOT_YET_VALID/, 5000, from);
    await until(validity(early).from);
    assert.equal(await reaches(early), true);
  });
});

describe('client mode: remembered target chains and their validity', () => {
  let ca: Ca, client: Issued, expiring: Issued, target: TlsTarget, gt: Daemon, port: number;

  before(async () => {
    ca = makeCa('target-validity-ca');
    client = issue(ca, 'client', { cn: 'client' });
    expiring = issue(ca, 'target', { cn: 'localhost', endDate: stamp(8_000) });
    target = await tlsTarget({ cert: expiring.cert, key: expiring.key });
    gt = runGhostunnel(['client', '--listen', '127.0.0.1:0', '--target', `localhost:${target.port}`, '--keystore', client.pem, '--cacert', ca.cert]);
    port = (await gt.address()).port;
  });
  after(async () => {
    assert.equal(await gt.stop(), 0);
    await target.close();
  });

  it('dials a target until its certificate expires and refuses it from then on', async () => {
    for (let i = 0; i < 2; i++) assert.equal((await plainExchange(port, 'ping\n')).data.toString(), 'ping\n');
    await until(validity(expiring).to);
    const from = gt.lines.length;
    const r = await plainExchange(port, 'ping\n');
    assert.equal(r.data.length, 0);
    await gt.waitForLog(/^error on dial: certificate verification failed: certificate has expired \(CERT_HAS_EXPIRED\)$/, 5000, from);
  });
});
