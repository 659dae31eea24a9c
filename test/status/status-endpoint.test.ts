import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage } from 'node:http';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { createServer as createTlsServer } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { echoBackend, type Backend } from '../helpers/backends.ts';
import { sClient } from '../helpers/clients.ts';
import { runGhostunnel, type Daemon } from '../helpers/daemon.ts';
import { PLANE } from '../helpers/plane.ts';
import { issue, makeCa, tempDir, type Ca, type Issued } from '../helpers/pki.ts';
import { unixOnly } from '../helpers/platform.ts';
import { curl, eventually, statusAddress } from '../helpers/status.ts';

const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

const STATUS_FIELDS = [
  'ok',
  'status',
  'listen_address',
  'forward_address',
  'backend_ok',
  'backend_status',
  'backend_error',
  'time',
  'last_reload',
  'hostname',
  'message',
  'revision',
  'compiler',
  'last_reload_ok',
  'last_reload_error',
  'last_successful_reload',
  'data_plane',
  'certificates',
];

/** The keys of a /_status body must follow Ghostunnel's order (ours after), optional ones may be absent. */
function assertFieldOrder(body: Record<string, unknown>): void {
  const keys = Object.keys(body);
  assert.deepEqual(keys, STATUS_FIELDS.filter((k) => keys.includes(k)));
}

interface Pki {
  ca: Ca;
  server: Issued;
  client: Issued;
}

function makePki(): Pki {
  const ca = makeCa();
  return { ca, server: issue(ca, 'server', { cn: 'localhost' }), client: issue(ca, 'client', { cn: 'client' }) };
}

function serverArgs(pki: Pki, target: string, status: string, extra: string[] = []): string[] {
  return ['server', '--listen', '127.0.0.1:0', '--target', target, '--cert', pki.server.cert, '--key', pki.server.key, '--cacert', pki.ca.cert, '--allow-cn', 'client', '--status', status, ...extra];
}

function json(body: string): Record<string, unknown> {
  return JSON.parse(body) as Record<string, unknown>;
}

describe('status: each address form answers curl', () => {
  let pki: Pki, backend: Backend;
  const daemons: Daemon[] = [];
  before(async () => {
    pki = makePki();
    backend = await echoBackend();
  });
  after(async () => {
    for (const gt of daemons) assert.equal(await gt.stop(), 0);
    await backend.close();
  });
  const start = (status: string): Daemon => {
    const gt = runGhostunnel(serverArgs(pki, `127.0.0.1:${backend.port}`, status));
    daemons.push(gt);
    return gt;
  };

  it('HOST:PORT is HTTPS with the tunnel certificate, and asks for no client certificate', async () => {
    const gt = start('127.0.0.1:0');
    const addr = await statusAddress(gt);
    const r = await curl(['--cacert', pki.ca.cert, `https://${addr}/_status`]);
    assert.equal(r.exit, 0, r.stderr);
    assert.equal(r.status, 200);
    assert.equal(r.contentType, 'application/json');
    assert.equal(json(r.body).ok, true);
    const plain = await curl([`http://${addr}/_status`]);
    assert.notEqual(plain.status, 200, 'plain HTTP must not be served on an HTTPS status port');
    const port = Number(addr.slice(addr.lastIndexOf(':') + 1));
    const s = await sClient(port, ['-CAfile', pki.ca.cert, '-servername', 'localhost'], 'GET /_status HTTP/1.0\r\n\r\n', { until: /"ok":true/ });
    assert.match(s.stdout, /No client certificate CA names sent/);
    assert.match(s.stdout, /Verify return code: 0 \(ok\)/);
    assert.equal(new X509Certificate(s.stdout.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/)![0]).serialNumber, pki.server.serial);
  });

  it('https://HOST:PORT is HTTPS too', async () => {
    const gt = start('https://127.0.0.1:0');
    const r = await curl(['--cacert', pki.ca.cert, `https://${await statusAddress(gt)}/_status`]);
    assert.equal(r.exit, 0, r.stderr);
    assert.equal(r.status, 200);
    assert.equal(json(r.body).status, 'ok');
  });

  it('http://HOST:PORT is plain HTTP', async () => {
    const gt = start('http://127.0.0.1:0');
    const r = await curl([`http://${await statusAddress(gt)}/_status`]);
    assert.equal(r.status, 200);
    assert.equal(json(r.body).backend_ok, true);
  });

  it('unix:PATH is plain HTTP on a UNIX socket (curl --unix-socket)', { skip: unixOnly('listens on a UNIX socket') }, async () => {
    const path = join(tempDir(), 'status.sock');
    const gt = start(`unix:${path}`);
    assert.equal(await statusAddress(gt), path);
    const r = await curl(['--unix-socket', path, 'http://localhost/_status']);
    assert.equal(r.status, 200);
    assert.equal(json(r.body).ok, true);
    const missing = await curl(['--unix-socket', path, 'http://localhost/nothing-here']);
    assert.equal(missing.status, 404);
  });
});

describe('status: /_status field by field', () => {
  let pki: Pki, backend: Backend, gt: Daemon, addr: string;
  before(async () => {
    pki = makePki();
    backend = await echoBackend();
    // A zone with a half-hour offset and no daylight saving: the offset format is visible.
    gt = runGhostunnel(serverArgs(pki, `127.0.0.1:${backend.port}`, 'http://127.0.0.1:0'), { env: { TZ: 'Asia/Kolkata' } });
    addr = await statusAddress(gt);
  });
  after(async () => {
    assert.equal(await gt.stop(), 0);
    await backend.close();
  });

  it('reports every field with Ghostunnel names, order and formats', async () => {
    const before = Date.now();
    const r = await curl([`http://${addr}/_status`]);
    const afterMs = Date.now();
    assert.equal(r.status, 200);
    const body = json(r.body);
    assertFieldOrder(body);
    assert.equal(body.ok, true);
    assert.equal(body.status, 'ok');
    assert.equal(body.listen_address, '127.0.0.1:0');
    assert.equal(body.forward_address, `127.0.0.1:${backend.port}`);
    assert.equal(body.backend_ok, true);
    assert.equal(body.backend_status, 'ok');
    assert.equal('backend_error' in body, false);
    assert.match(String(body.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?\+05:30$/);
    const t = Date.parse(String(body.time));
    assert.ok(t >= Math.floor(before / 1000) * 1000 && t <= afterMs, `time ${body.time} is the time of the request`);
    assert.equal(body.last_reload, '0001-01-01T00:00:00Z');
    assert.equal(body.hostname, hostname());
    assert.equal(body.message, 'listening');
    assert.equal(body.revision, `v${VERSION}`);
    assert.equal(body.compiler, `node${process.versions.node}`);
    assert.equal(body.last_reload_ok, true);
    assert.equal('last_reload_error' in body, false);
    assert.equal(body.last_successful_reload, '0001-01-01T00:00:00Z');
    assert.equal(body.data_plane, PLANE);

    const certs = body.certificates as Array<Record<string, string>>;
    const leaf = new X509Certificate(readFileSync(pki.server.cert));
    const ca = new X509Certificate(readFileSync(pki.ca.cert));
    assert.deepEqual(
      certs.map((c) => c.role),
      ['server', 'ca'],
    );
    assert.deepEqual(certs[0], {
      role: 'server',
      subject: 'CN=localhost',
      serial: pki.server.serial,
      sha256_fingerprint: leaf.fingerprint256,
      not_before: leaf.validFromDate.toISOString().replace('.000Z', 'Z'),
      not_after: leaf.validToDate.toISOString().replace('.000Z', 'Z'),
    });
    assert.equal(certs[1]!.serial, ca.serialNumber);
    assert.equal(certs[1]!.sha256_fingerprint, ca.fingerprint256);
  });

  it('answers 404 for other paths', async () => {
    for (const path of ['/', '/status', '/_statusx', '/_shutdown', '/debug/pprof/']) {
      assert.equal((await curl([`http://${addr}${path}`])).status, 404, path);
    }
  });

  it('checks the backend live: 503 while it is down, 200 once it is back', async () => {
    const port = backend.port;
    await backend.close();
    const down = await curl([`http://${addr}/_status`]);
    assert.equal(down.status, 503);
    const body = json(down.body);
    assertFieldOrder(body);
    assert.equal(body.ok, false);
    assert.equal(body.status, 'critical');
    assert.equal(body.backend_ok, false);
    assert.equal(body.backend_status, 'critical');
    assert.equal(body.backend_error, `dial tcp 127.0.0.1:${port}: connect: connection refused`);
    assert.equal(body.message, 'listening');

    const revived: Server = createServer((s) => s.pipe(s));
    await new Promise<void>((resolve) => revived.listen(port, '127.0.0.1', resolve));
    try {
      const up = await curl([`http://${addr}/_status`]);
      assert.equal(up.status, 200);
      assert.equal(json(up.body).backend_ok, true);
      assert.equal('backend_error' in json(up.body), false);
    } finally {
      await new Promise((resolve) => revived.close(resolve));
    }
  });
});

describe('status: --target-status', () => {
  let pki: Pki, gt: Daemon, addr: string, health: ReturnType<typeof createHttpServer>, answer: number;
  const seen: Array<{ host: string | undefined; url: string | undefined; method: string | undefined }> = [];
  before(async () => {
    pki = makePki();
    answer = 500;
    health = createHttpServer((req: IncomingMessage, res) => {
      seen.push({ host: req.headers.host, url: req.url, method: req.method });
      res.writeHead(answer).end();
    });
    await new Promise<void>((resolve) => health.listen(0, '127.0.0.1', resolve));
    const port = (health.address() as AddressInfo).port;
    // The URL's host does not resolve: the request must travel over a connection to --target.
    gt = runGhostunnel(serverArgs(pki, `127.0.0.1:${port}`, 'http://127.0.0.1:0', ['--target-status', 'http://health.invalid:7777/healthz?deep=1']));
    addr = await statusAddress(gt);
  });
  after(async () => {
    assert.equal(await gt.stop(), 0);
    health.close();
  });

  it('is 503 with the status code while the target answers 500, 200 once it answers 200', async () => {
    const bad = await curl([`http://${addr}/_status`]);
    assert.equal(bad.status, 503);
    assert.equal(json(bad.body).backend_error, 'target returned status: 500');
    assert.deepEqual(seen.at(-1), { host: 'health.invalid:7777', url: '/healthz?deep=1', method: 'GET' });
    answer = 200;
    const good = await curl([`http://${addr}/_status`]);
    assert.equal(good.status, 200);
    assert.equal(json(good.body).backend_ok, true);
    assert.equal(seen.length, 2, 'one health request per /_status request');
  });

  it('reports the dial error when the target is down', async () => {
    const port = (health.address() as AddressInfo).port;
    await new Promise((resolve) => health.close(resolve));
    const r = await curl([`http://${addr}/_status`]);
    assert.equal(r.status, 503);
    assert.equal(json(r.body).backend_error, `Get "http://health.invalid:7777/healthz?deep=1": dial tcp 127.0.0.1:${port}: connect: connection refused`);
  });
});

/** A TLS server for client mode to dial, recording client certificates; its sockets are tracked so it closes promptly. */
async function tlsServer(cert: string, key: string, ca?: string): Promise<{ port: number; clientSerials: Array<string | undefined>; close(): Promise<void> }> {
  const clientSerials: Array<string | undefined> = [];
  const server = createTlsServer({ cert: readFileSync(cert), key: readFileSync(key), ...(ca ? { ca: readFileSync(ca), requestCert: true, rejectUnauthorized: false } : {}) }, (s) => {
    clientSerials.push(s.getPeerX509Certificate()?.serialNumber);
    s.end();
  });
  const raw = new Set<Socket>();
  server.on('connection', (s: Socket) => raw.add(s.on('error', () => {})));
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    clientSerials,
    close: () => {
      for (const s of raw) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

describe('status: client mode checks the target with a full TLS dial', () => {
  it('200 with the client certificate presented, 503 with the verification error for an untrusted target', async () => {
    const pki = makePki();
    const stranger = issue(makeCa('other-ca'), 'stranger', { cn: 'localhost' });
    const target = await tlsServer(pki.server.cert, pki.server.key, pki.ca.cert);
    const untrusted = await tlsServer(stranger.cert, stranger.key);
    const start = (port: number): Daemon =>
      runGhostunnel(['client', '--listen', '127.0.0.1:0', '--target', `localhost:${port}`, '--cert', pki.client.cert, '--key', pki.client.key, '--cacert', pki.ca.cert, '--status', 'http://127.0.0.1:0']);
    const good = start(target.port);
    const bad = start(untrusted.port);
    try {
      const ok = await curl([`http://${await statusAddress(good)}/_status`]);
      assert.equal(ok.status, 200);
      const body = json(ok.body);
      assert.equal(body.forward_address, `localhost:${target.port}`);
      assert.equal((body.certificates as Array<{ role: string }>)[0]!.role, 'client');
      await eventually(() => assert.deepEqual(target.clientSerials, [pki.client.serial]));

      const refused = await curl([`http://${await statusAddress(bad)}/_status`]);
      assert.equal(refused.status, 503);
      assert.equal(json(refused.body).backend_error, 'tls: unable to verify the first certificate (UNABLE_TO_VERIFY_LEAF_SIGNATURE)');
    } finally {
      await Promise.all([good.stop(), bad.stop()]);
      await target.close();
      await untrusted.close();
    }
  });
});
