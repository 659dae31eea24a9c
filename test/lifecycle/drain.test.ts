// Graceful shutdown (spec §2.11): stop accepting, let open connections finish, exit 0; exit 1 when
// --shutdown-timeout runs out; reload signals during the drain change nothing; a connection
// accepted before the signal finishes its handshake and is served (unlike Ghostunnel, which
// cancels it), within --connect-timeout.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { echoBackend, type Backend } from '../helpers/backends.ts';
import { connectTls, readBytes } from '../helpers/clients.ts';
import { runGhostunnel, type Daemon } from '../helpers/daemon.ts';
import { tlsOver } from '../helpers/hostile-clients.ts';
import { issue, makeCa, type Ca, type Issued } from '../helpers/pki.ts';
import { unixOnly } from '../helpers/platform.ts';

describe('graceful shutdown', { skip: unixOnly('sends SIGTERM, SIGHUP and SIGUSR1') }, () => {
  let ca: Ca, server: Issued, client: Issued, backend: Backend;
  const start = (extra: string[] = []): Daemon =>
    runGhostunnel(['server', '--listen', '127.0.0.1:0', '--target', `127.0.0.1:${backend.port}`, '--cert', server.cert, '--key', server.key, '--cacert', ca.cert, '--allow-cn', 'client', ...extra]);
  const tls = (port: number) => connectTls(port, { cert: client.cert, key: client.key, ca: ca.cert });
  const echo = async (s: Awaited<ReturnType<typeof tls>>, text: string): Promise<string> => {
    const got = readBytes(s, text.length);
    s.write(text);
    return (await got).toString();
  };
  const refused = (port: number): Promise<string> =>
    new Promise((resolve) => {
      const s = connect({ port, host: '127.0.0.1' });
      s.once('connect', () => {
        s.destroy();
        resolve('connected');
      });
      s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    });

  before(async () => {
    ca = makeCa();
    server = issue(ca, 'server', { cn: 'localhost' });
    client = issue(ca, 'client', { cn: 'client' });
    backend = await echoBackend();
  });
  after(() => backend.close());

  it('SIGTERM: stops accepting, lets the open connection finish, exits 0', async () => {
    const gt = start();
    const { port } = await gt.address();
    const s = await tls(port);
    assert.equal(await echo(s, 'before'), 'before');
    gt.signal('SIGTERM');
    await gt.waitForLog(/^shutdown proxy, waiting for drain$/);
    assert.equal(await refused(port), 'ECONNREFUSED');
    assert.equal(await echo(s, 'during-drain'), 'during-drain');
    assert.equal(gt.proc.exitCode, null, 'still running while a connection is open');
    s.end();
    assert.equal(await gt.exited(), 0);
    assert.ok(gt.lines.some((l) => l.msg === 'drain complete, exiting'));
  });

  it('--shutdown-timeout 1s with a stuck connection: exit 1 after about a second', async () => {
    const gt = start(['--shutdown-timeout', '1s']);
    const { port } = await gt.address();
    const s = await tls(port);
    assert.equal(await echo(s, 'x'), 'x');
    const t0 = performance.now();
    gt.signal('SIGTERM');
    assert.equal(await gt.exited(), 1);
    const elapsed = performance.now() - t0;
    assert.ok(elapsed >= 1000, `exited after ${elapsed} ms, before the timeout`);
    assert.ok(gt.lines.some((l) => l.msg === 'graceful shutdown timeout: forcing exit'));
    s.destroy();
  });

  it('SIGHUP and SIGUSR1 during the drain change nothing', async () => {
    const gt = start();
    const { port } = await gt.address();
    const s = await tls(port);
    assert.equal(await echo(s, 'a'), 'a');
    gt.signal('SIGTERM');
    await gt.waitForLog(/^shutdown proxy, waiting for drain$/);
    gt.signal('SIGHUP');
    await gt.waitForLog(/^ignoring reload \(SIGHUP\) during shutdown$/);
    gt.signal('SIGUSR1');
    await gt.waitForLog(/^ignoring reload \(SIGUSR1\) during shutdown$/);
    gt.signal('SIGTERM');
    assert.equal(await echo(s, 'still-here'), 'still-here');
    assert.equal(gt.proc.exitCode, null);
    assert.equal(await refused(port), 'ECONNREFUSED');
    s.end();
    assert.equal(await gt.exited(), 0);
    assert.ok(!gt.lines.some((l) => /reload/.test(l.msg) && !/^ignoring reload/.test(l.msg)), 'no reload ran');
  });

  it('a client that half-closes right after its handshake does not hold up the drain', async () => {
    const gt = start();
    const { port } = await gt.address();
    const s = await tls(port);
    s.end();
    s.resume();
    await once(s, 'close');
    gt.signal('SIGTERM');
    assert.equal(await gt.exited(), 0);
    assert.ok(gt.lines.some((l) => /^closed pipe/.test(l.msg)), 'the pipe was closed, not left open');
  });

  it('a connection accepted before SIGTERM finishes its handshake during the drain and is served', async () => {
    const gt = start();
    const { port } = await gt.address();
    const raw: Socket = connect({ port, host: '127.0.0.1' });
    await once(raw, 'connect');
    // A good connection accepted after it proves the accept loop has taken the raw one.
    const s = await tls(port);
    assert.equal(await echo(s, 'ok'), 'ok');
    s.destroy();
    gt.signal('SIGTERM');
    await gt.waitForLog(/^shutdown proxy, waiting for drain$/);
    const late = await tlsOver(raw, { cert: readFileSync(client.cert), key: readFileSync(client.key), ca: readFileSync(ca.cert) });
    assert.equal(await echo(late, 'handshake after SIGTERM'), 'handshake after SIGTERM');
    late.end();
    assert.equal(await gt.exited(), 0);
    assert.equal(gt.lines.some((l) => /context canceled/.test(l.msg)), false);
  });

  it('a connection that never completes its handshake ends the drain at --connect-timeout', async () => {
    const gt = start(['--connect-timeout', '2s']);
    const { port } = await gt.address();
    const silent: Socket = connect({ port, host: '127.0.0.1' });
    await once(silent, 'connect');
    silent.on('error', () => {});
    silent.resume();
    const s = await tls(port);
    assert.equal(await echo(s, 'ok'), 'ok');
    s.destroy();
    gt.signal('SIGTERM');
    await once(silent, 'close');
    assert.equal(await gt.exited(), 0);
    await gt.waitForLog(/timed out \(--connect-timeout\)/);
  });
});
