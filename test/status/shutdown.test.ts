import assert from 'node:assert/strict';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { describe, it } from 'node:test';
import { echoBackend } from '../helpers/backends.ts';
import { connectTls, readBytes } from '../helpers/clients.ts';
import { runGhostunnel, runToExit } from '../helpers/daemon.ts';
import { issue, makeCa } from '../helpers/pki.ts';
import { curl, statusAddress } from '../helpers/status.ts';

function bindPlain(port = 0): Promise<Server> {
  const server = createServer();
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

describe('status: POST /_shutdown', () => {
  it('GET is 405, POST drains the open connection and exits 0', async () => {
    const ca = makeCa();
    const server = issue(ca, 'server', { cn: 'localhost' });
    const client = issue(ca, 'client', { cn: 'client' });
    const backend = await echoBackend();
    const gt = runGhostunnel([
      'server', '--listen', '127.0.0.1:0', '--target', `127.0.0.1:${backend.port}`, '--cert', server.cert, '--key', server.key,
      '--cacert', ca.cert, '--allow-cn', 'client', '--status', '127.0.0.1:0', '--enable-shutdown',
    ]);
    const addr = await statusAddress(gt);
    const { port } = await gt.address();
    const url = `https://${addr}/_shutdown`;

    for (const method of ['GET', 'PUT', 'DELETE']) {
      const r = await curl(['--cacert', ca.cert, '-X', method, url]);
      assert.equal(r.status, 405, method);
    }
    const head = await curl(['--cacert', ca.cert, '-i', url]);
    assert.match(head.body, /^allow: POST\r$/im);
    assert.equal(gt.lines.some((l) => /shutting down/.test(l.msg)), false, 'no shutdown on GET');

    const open = await connectTls(port, { cert: client.cert, key: client.key, ca: ca.cert });
    open.write('before');
    assert.equal((await readBytes(open, 6)).toString(), 'before');

    const posted = await curl(['--cacert', ca.cert, '-X', 'POST', url]);
    assert.equal(posted.status, 200);
    await gt.waitForLog(/^shutdown proxy, waiting for drain$/);
    // The drain lets the established connection finish its work.
    open.write('during');
    assert.equal((await readBytes(open, 6)).toString(), 'during');
    assert.equal(gt.proc.exitCode, null, 'still draining while a connection is open');
    open.end();
    assert.equal(await gt.exited(), 0);
    await gt.waitForLog(/^drain complete, exiting$/);
    await backend.close();
  });

  it('is 404 without --enable-shutdown', async () => {
    const ca = makeCa();
    const server = issue(ca, 'server', { cn: 'localhost' });
    const gt = runGhostunnel(['server', '--listen', '127.0.0.1:0', '--target', '127.0.0.1:1', '--cert', server.cert, '--key', server.key, '--allow-all', '--status', 'http://127.0.0.1:0']);
    const addr = await statusAddress(gt);
    assert.equal((await curl(['-X', 'POST', `http://${addr}/_shutdown`])).status, 404);
    assert.equal(await gt.stop(), 0);
  });
});

describe('status: start-up failures and flags', () => {
  it('a status port in use: exit 1, and the listen port is left free', async () => {
    const ca = makeCa();
    const server = issue(ca, 'server', { cn: 'localhost' });
    const taken = await bindPlain();
    const statusPort = (taken.address() as AddressInfo).port;
    const probe = await bindPlain();
    const listenPort = (probe.address() as AddressInfo).port;
    await closeServer(probe);
    try {
      const r = await runToExit(['server', '--listen', `127.0.0.1:${listenPort}`, '--target', '127.0.0.1:1', '--cert', server.cert, '--key', server.key, '--allow-all', '--status', `127.0.0.1:${statusPort}`]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, new RegExp(`^error: --status 127\\.0\\.0\\.1:${statusPort}: unable to listen on 127\\.0\\.0\\.1:${statusPort}: listen tcp 127\\.0\\.0\\.1:${statusPort}: bind: address already in use$`, 'm'));
      assert.equal(r.lines.some((l) => /^listening for connections/.test(l.msg)), false);
      // Nothing holds the listen port: it can be bound at once.
      await closeServer(await bindPlain(listenPort));
    } finally {
      await closeServer(taken);
    }
  });

  const base = ['server', '--listen', '127.0.0.1:0', '--target', '127.0.0.1:1', '--allow-all'];
  const cases: Array<[string, string[], string]> = [
    ['--enable-shutdown needs --status', ['--enable-shutdown'], '--enable-shutdown requires --status to be set'],
    ['--enable-pprof needs --status', ['--enable-pprof'], '--enable-pprof requires --status to be set'],
    ['a status address without port', ['--status', 'localhost'], 'invalid --status address: address localhost: missing port in address'],
    ['a scheme on a UNIX status address', ['--status', 'http://unix:/tmp/status.sock'], 'invalid --status network "unix": http(s):// scheme requires a HOST:PORT target'],
    ['a --metrics-url without scheme', ['--metrics-url', 'collector:8080'], '--metrics-url should start with http:// or https://'],
  ];
  for (const [what, extra, message] of cases) {
    it(`usage error: ${what}`, async () => {
      const r = await runToExit([...base, ...extra]);
      assert.equal(r.code, 1);
      assert.equal(r.stderr, `ghostunnel: error: ${message}, try --help\n`);
    });
  }
});
