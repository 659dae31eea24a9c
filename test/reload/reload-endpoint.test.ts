// --enable-reload: POST /_reload on the status port runs the reload and answers its outcome.
import assert from 'node:assert/strict';
import { copyFileSync, writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { echoBackend, type Backend } from '../helpers/backends.ts';
import { connectTls, peerSerial } from '../helpers/clients.ts';
import { runGhostunnel, runToExit, type Daemon } from '../helpers/daemon.ts';
import { issue, makeCa, tempDir, type Ca, type Issued } from '../helpers/pki.ts';
import { inPlaceLayout, type CredentialLayout } from '../helpers/rotation.ts';
import { curl, statusAddress } from '../helpers/status.ts';

interface Answer {
  ok: boolean;
  changed: boolean;
  error?: string;
  serial?: string;
  not_after?: string;
}

describe('POST /_reload (--enable-reload)', () => {
  let ca: Ca, v1: Issued, v2: Issued, client: Issued, backend: Backend, files: CredentialLayout, gt: Daemon, port: number, base: string;
  before(async () => {
    ca = makeCa();
    v1 = issue(ca, 'server-v1', { cn: 'localhost' });
    v2 = issue(ca, 'server-v2', { cn: 'localhost' });
    client = issue(ca, 'client', { cn: 'client' });
    backend = await echoBackend();
    files = inPlaceLayout(tempDir('gt-api-'), v1);
    gt = runGhostunnel([
      'server', '--listen', '127.0.0.1:0', '--target', `127.0.0.1:${backend.port}`, '--cert', files.cert, '--key', files.key,
      '--cacert', ca.cert, '--allow-cn', 'client', '--status', 'http://127.0.0.1:0', '--enable-reload',
    ]);
    ({ port } = await gt.address());
    base = `http://${await statusAddress(gt)}`;
  });
  after(async () => {
    assert.equal(await gt.stop(), 0);
    await backend.close();
  });

  const served = async (): Promise<string> => {
    const s = await connectTls(port, { cert: client.cert, key: client.key, ca: ca.cert });
    const serial = peerSerial(s);
    s.destroy();
    return serial;
  };
  const post = async (): Promise<{ status: number; answer: Answer }> => {
    const r = await curl(['-X', 'POST', `${base}/_reload`]);
    assert.equal(r.exit, 0, r.stderr);
    assert.equal(r.contentType, 'application/json');
    return { status: r.status, answer: JSON.parse(r.body) as Answer };
  };

  it('unchanged files: 200, ok, nothing rotated', async () => {
    const { status, answer } = await post();
    assert.equal(status, 200);
    assert.deepEqual(answer, { ok: true, changed: false, serial: v1.serial, not_after: answer.not_after });
    assert.match(answer.not_after ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  });

  it('a broken file: 500 with the error, and the old certificate keeps serving', async () => {
    writeFileSync(files.cert, '-----BEGIN CERTIFICATE-----\nYnJva2Vu\n-----END CERTIFICATE-----\n');
    const { status, answer } = await post();
    assert.equal(status, 500);
    assert.equal(answer.ok, false);
    assert.equal(answer.changed, false);
    assert.match(answer.error ?? '', /server\.crt/);
    assert.equal(answer.serial, v1.serial);
    assert.equal(await served(), v1.serial);
    await gt.waitForLog(/^reload requested on the status port, reloading TLS configuration$/);
    assert.match((await gt.waitForLog(/^error reloading TLS configuration: /)).msg, /server\.crt/);
  });

  it('a half rotation (new certificate, old key) is refused at once, not waited for', async () => {
    copyFileSync(v2.cert, files.cert);
    const { status, answer } = await post();
    assert.equal(status, 500);
    assert.match(answer.error ?? '', /private key does not match public key/);
    assert.equal(await served(), v1.serial);
  });

  it('a good rotation: 200 with the new serial and not_after, served to new connections', async () => {
    copyFileSync(v2.key, files.key);
    const { status, answer } = await post();
    assert.equal(status, 200);
    assert.equal(answer.ok, true);
    assert.equal(answer.changed, true);
    assert.equal(answer.serial, v2.serial);
    assert.equal(answer.error, undefined);
    assert.equal(await served(), v2.serial);
  });

  it('other methods: 405', async () => {
    const r = await curl([`${base}/_reload`]);
    assert.equal(r.status, 405);
    const put = await curl(['-X', 'PUT', `${base}/_reload`]);
    assert.equal(put.status, 405);
  });
});

describe('POST /_reload without --enable-reload', () => {
  it('is not routed (404), and --enable-reload needs --status', async () => {
    const ca = makeCa();
    const server = issue(ca, 'server', { cn: 'localhost' });
    const backend = await echoBackend();
    const gt = runGhostunnel([
      'server', '--listen', '127.0.0.1:0', '--target', `127.0.0.1:${backend.port}`, '--cert', server.cert, '--key', server.key,
      '--cacert', ca.cert, '--allow-all', '--status', 'http://127.0.0.1:0',
    ]);
    let code: number | string;
    try {
      const r = await curl(['-X', 'POST', `http://${await statusAddress(gt)}/_reload`]);
      assert.equal(r.status, 404);
    } finally {
      code = await gt.stop();
      await backend.close();
    }
    assert.equal(code, 0);
    const refused = await runToExit(['server', '--listen', '127.0.0.1:0', '--target', '127.0.0.1:1', '--cert', server.cert, '--key', server.key, '--allow-all', '--enable-reload']);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /--enable-reload requires --status to be set, try --help/);
  });
});
