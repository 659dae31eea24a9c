// The reload path in-process: content-hash gating, the outcome record, validation before swap,
// settling on a half-written rotation, and coalescing of concurrent triggers.
import assert from 'node:assert/strict';
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { before, describe, it } from 'node:test';
import type { TlsSettings } from '../../src/config/types.ts';
import { CredentialError } from '../../src/credentials/identity.ts';
import { CredentialStore, loadCredentials } from '../../src/credentials/store.ts';
import { validateCandidate } from '../../src/credentials/validate.ts';
import { createLog } from '../../src/log/logger.ts';
import { Reloader } from '../../src/reload/reloader.ts';
import { PLANE } from '../helpers/plane.ts';
import { issue, makeCa, tempDir, type Ca, type Issued } from '../helpers/pki.ts';

const TLS: TlsSettings = { maxVersion: 'TLSv1.3', ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256' };

interface Line {
  msg: string;
  [k: string]: unknown;
}

function memoryLog(): { log: ReturnType<typeof createLog>; lines: Line[] } {
  const lines: Line[] = [];
  const log = createLog(new Set(), { write: (s: string) => void lines.push(JSON.parse(s) as Line) });
  return { log, lines };
}

function setup(ca: Ca, pair: Issued): { cert: string; key: string; store: CredentialStore } {
  const dir = tempDir('gt-reloader-');
  const cert = join(dir, 'server.crt');
  const key = join(dir, 'server.key');
  copyFileSync(pair.cert, cert);
  copyFileSync(pair.key, key);
  return { cert, key, store: new CredentialStore({ cert, key, cacert: ca.cert }, TLS, PLANE) };
}

describe('Reloader', () => {
  let ca: Ca, v1: Issued, v2: Issued;
  before(() => {
    ca = makeCa();
    v1 = issue(ca, 'v1', { cn: 'localhost' });
    v2 = issue(ca, 'v2', { cn: 'localhost' });
  });

  it('records an unchanged reload as such and keeps the same context', async () => {
    const { store } = setup(ca, v1);
    const { log, lines } = memoryLog();
    const reloader = new Reloader(store, log);
    const before = store.current;
    const outcome = await reloader.reload('SIGHUP');
    assert.equal(outcome.ok, true);
    assert.equal(outcome.changed, false);
    assert.equal(outcome.serial, v1.serial);
    assert.equal(store.current, before);
    assert.ok(lines.some((l) => l.msg === 'credentials unchanged, nothing to reload'));
    assert.deepEqual(reloader.last, outcome);
  });

  it('swaps in changed files and records the new serial', async () => {
    const { cert, key, store } = setup(ca, v1);
    const reloader = new Reloader(store, memoryLog().log);
    copyFileSync(v2.cert, cert);
    copyFileSync(v2.key, key);
    const outcome = await reloader.reload('timer');
    assert.deepEqual([outcome.ok, outcome.changed, outcome.serial], [true, true, v2.serial]);
    assert.equal(store.current.identity?.leaf.serialNumber, v2.serial);
    assert.equal(reloader.lastSuccess, outcome);
  });

  it('refuses a half rotation at once for a signal, and the old pair stays', async () => {
    const { cert, store } = setup(ca, v1);
    const { log, lines } = memoryLog();
    const reloader = new Reloader(store, log);
    copyFileSync(v2.cert, cert);
    const outcome = await reloader.reload('SIGHUP');
    assert.equal(outcome.ok, false);
    assert.match(outcome.error ?? '', /private key does not match public key/);
    assert.equal(outcome.serial, v1.serial);
    assert.equal(store.current.identity?.leaf.serialNumber, v1.serial);
    assert.ok(!lines.some((l) => /do not load yet/.test(l.msg)));
  });

  it('a file trigger waits for the key written after the certificate, logging the wait once', async () => {
    const { cert, key, store } = setup(ca, v1);
    const { log, lines } = memoryLog();
    const reloader = new Reloader(store, log);
    copyFileSync(v2.cert, cert);
    const pending = reloader.reload('file');
    await sleep(500);
    assert.equal(store.current.identity?.leaf.serialNumber, v1.serial, 'never swapped in half');
    copyFileSync(v2.key, key);
    const outcome = await pending;
    assert.deepEqual([outcome.ok, outcome.changed, outcome.serial], [true, true, v2.serial]);
    assert.equal(lines.filter((l) => /^new credentials do not load yet/.test(l.msg)).length, 1);
    assert.ok(!lines.some((l) => /^error reloading/.test(l.msg)));
  });

  it('gives up on a file trigger after the settle time, with one error line', async () => {
    const { cert, store } = setup(ca, v1);
    const { log, lines } = memoryLog();
    const reloader = new Reloader(store, log, { settleMs: 400 });
    writeFileSync(cert, 'garbage');
    const outcome = await reloader.reload('poll');
    assert.equal(outcome.ok, false);
    assert.match(outcome.error ?? '', /server\.crt/);
    assert.equal(lines.filter((l) => /^error reloading/.test(l.msg)).length, 1);
    assert.equal(lines.filter((l) => /^new credentials do not load yet/.test(l.msg)).length, 1);
  });

  it('answers a burst of triggers with at most two attempts, each after the trigger arrived', async () => {
    const { cert, key, store } = setup(ca, v1);
    const { log, lines } = memoryLog();
    const reloader = new Reloader(store, log);
    const first = reloader.reload('SIGHUP');
    copyFileSync(v2.cert, cert);
    copyFileSync(v2.key, key);
    const rest = await Promise.all([reloader.reload('SIGUSR1'), reloader.reload('api'), reloader.reload('timer')]);
    await first;
    assert.equal(lines.filter((l) => l.msg === 'reloading configuration complete').length, 2);
    for (const o of rest) assert.equal(o.serial, v2.serial, 'a trigger after the change sees the change');
  });
});

describe('validateCandidate', () => {
  let ca: Ca, v1: Issued;
  before(() => {
    ca = makeCa();
    v1 = issue(ca, 'v1', { cn: 'localhost' });
  });

  it('passes good credentials', async () => {
    await validateCandidate(loadCredentials({ cert: v1.cert, key: v1.key, cacert: ca.cert }, TLS, PLANE), v1.cert);
  });

  it('refuses a context that does not present the candidate certificate (loopback handshake)', async () => {
    const other = issue(ca, 'other', { cn: 'localhost' });
    const good = loadCredentials({ cert: v1.cert, key: v1.key, cacert: ca.cert }, TLS, PLANE);
    const wrong = loadCredentials({ cert: other.cert, key: other.key, cacert: ca.cert }, TLS, PLANE);
    await assert.rejects(validateCandidate({ ...good, context: wrong.context }, v1.cert), (err: Error) => {
      assert.ok(err instanceof CredentialError);
      assert.match(err.message, /test handshake with the new credentials from ".*v1\.crt" failed: the handshake presented another certificate/);
      return true;
    });
  });

  it('refuses a certificate not valid yet, and one claiming the --cacert CA without its signature', async () => {
    const future = issue(ca, 'future', { cn: 'localhost', startDate: '20991231000000Z', endDate: '21000101000000Z' });
    await assert.rejects(validateCandidate(loadCredentials({ cert: future.cert, key: future.key, cacert: ca.cert }, TLS, PLANE), future.cert), /is not valid until 2099-12-31/);
    const impostor = makeCa(ca.name);
    const forged = issue(impostor, 'forged', { cn: 'localhost' });
    await assert.rejects(
      validateCandidate(loadCredentials({ cert: forged.cert, key: forged.key, cacert: ca.cert }, TLS, PLANE), forged.cert),
      /does not verify against --cacert ".*test-ca\.crt": .* names CN=test-ca .* as issuer but is not signed by it/,
    );
  });
});
