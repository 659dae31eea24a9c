// systemd integration (spec §2.2, §2.16): socket activation through systemd-socket-activate for
// the tunnel and the status port, and every sd_notify message, read from a NOTIFY_SOCKET the test
// binds.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { existsSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import { readFileSync } from 'node:fs';
import { echoBackend, type Backend } from '../helpers/backends.ts';
import { connectTls, readBytes } from '../helpers/clients.ts';
import { datagramSink, type DatagramSink } from '../helpers/datagram-sink.ts';
import { runGhostunnel, runToExit, type Daemon } from '../helpers/daemon.ts';
import { issue, makeCa, tempDir, type Ca, type Issued } from '../helpers/pki.ts';
import { linuxOnly } from '../helpers/platform.ts';
import { listeningOrder } from '../helpers/status.ts';

/** An HTTP request over a UNIX socket; resolves with status and body. */
function httpOverUnix(path: string, method: string, url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: path, method, path: url }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** CLOCK_MONOTONIC in µs, the clock of MONOTONIC_USEC (the same for every process). */
const monotonicUsec = (): bigint => process.hrtime.bigint() / 1000n;

describe('systemd', { skip: linuxOnly('runs systemd-socket-activate') }, () => {
  let ca: Ca, server: Issued, client: Issued, backend: Backend;
  const daemons: Daemon[] = [];
  const sinks: DatagramSink[] = [];
  const base = (): string[] => ['--target', `127.0.0.1:${backend.port}`, '--cert', server.cert, '--key', server.key, '--cacert', ca.cert, '--allow-cn', 'client'];

  before(async () => {
    ca = makeCa();
    server = issue(ca, 'server', { cn: 'localhost' });
    client = issue(ca, 'client', { cn: 'client' });
    backend = await echoBackend();
  });
  after(async () => {
    for (const gt of daemons) await gt.stop();
    for (const s of sinks) s.close();
    await backend.close();
  });

  it('socket activation of the tunnel and the status port; READY, WATCHDOG, RELOADING, STOPPING', async () => {
    const dir = tempDir();
    const tunnelPath = join(dir, 'tunnel.sock');
    const statusPath = join(dir, 'status.sock');
    const notify = await datagramSink(join(dir, 'notify.sock'));
    sinks.push(notify);
    const gt = runGhostunnel(['server', '--listen', 'systemd:tunnel', '--status', 'systemd:status', '--enable-shutdown', ...base()], {
      wrap: ['systemd-socket-activate', '-l', tunnelPath, '-l', statusPath, '--fdname=tunnel:status', '-E', `NOTIFY_SOCKET=${notify.path}`, '-E', 'WATCHDOG_USEC=300000'],
    });
    daemons.push(gt);
    // systemd-socket-activate starts the service on the first connection; that connection waits
    // in the socket's backlog until the daemon accepts it.
    while (!existsSync(statusPath)) await new Promise((r) => setTimeout(r, 20));
    const first = tlsConnect({ path: tunnelPath, servername: 'localhost', ca: readFileSync(ca.cert), cert: readFileSync(client.cert), key: readFileSync(client.key) });
    await once(first, 'secureConnect');
    const echoed = readBytes(first, 6);
    first.write('queued');
    assert.equal((await echoed).toString(), 'queued');
    first.destroy();

    const listening = await gt.waitForLog(/^listening for connections on systemd:tunnel$/);
    const pid = Number(listening.pid);
    await gt.waitForLog(/^status server listening on systemd:status$/);
    assert.deepEqual(listeningOrder(gt.lines), ['listening for connections', 'status server listening'], 'the status port accepts once the tunnel does');
    assert.equal(listening.address, tunnelPath);
    const statusLine = `server proxying systemd:tunnel => 127.0.0.1:${backend.port}`;
    assert.equal(await notify.waitFor(/READY=1/), `READY=1\nSTATUS=listening | ${statusLine}`);
    await notify.waitFor(/^WATCHDOG=1$/);
    const pings = notify.messages.length;
    await notify.waitFor(/^WATCHDOG=1$/, 5000, pings);

    const status = await httpOverUnix(statusPath, 'GET', '/_status');
    assert.equal(status.status, 200);
    assert.equal(JSON.parse(status.body).message, 'listening');

    const t0 = monotonicUsec();
    const mark = notify.messages.length;
    process.kill(pid, 'SIGHUP');
    const reloading = await notify.waitFor(/RELOADING=1/, 10_000, mark);
    const m = /^RELOADING=1\nMONOTONIC_USEC=(\d+)\nSTATUS=reloading \| (.*)$/.exec(reloading);
    assert.ok(m, `RELOADING message: ${JSON.stringify(reloading)}`);
    const usec = BigInt(m[1]!);
    assert.ok(usec >= t0 && usec <= monotonicUsec(), `MONOTONIC_USEC ${usec} is CLOCK_MONOTONIC now`);
    assert.equal(m[2], statusLine);
    const readyAgain = await notify.waitFor(/READY=1/, 10_000, notify.messages.indexOf(reloading) + 1);
    assert.equal(readyAgain, `READY=1\nSTATUS=listening | ${statusLine}`);

    const mark2 = notify.messages.length;
    const shutdown = await httpOverUnix(statusPath, 'POST', '/_shutdown');
    assert.equal(shutdown.status, 200);
    assert.equal(await notify.waitFor(/STOPPING=1/, 10_000, mark2), `STOPPING=1\nSTATUS=stopping | ${statusLine}`);
    await gt.exited();
    assert.ok(gt.lines.some((l) => l.msg === 'drain complete, exiting'), 'drained and exited 0');
    // The sockets belong to systemd: never unlinked by the daemon.
    assert.ok(statSync(tunnelPath).isSocket(), 'tunnel socket still there');
    assert.ok(statSync(statusPath).isSocket(), 'status socket still there');
  });

  it('abstract NOTIFY_SOCKET (@name) and a TCP listener: READY=1 then STOPPING=1 on SIGTERM', async () => {
    const notify = await datagramSink(`@gt-test-notify-${process.pid}-${Date.now()}`);
    sinks.push(notify);
    const gt = runGhostunnel(['server', '--listen', '127.0.0.1:0', ...base()], { env: { NOTIFY_SOCKET: notify.path } });
    daemons.push(gt);
    const { port } = await gt.address();
    const ready = await notify.waitFor(/READY=1/);
    assert.equal(ready, `READY=1\nSTATUS=listening | server proxying 127.0.0.1:0 => 127.0.0.1:${backend.port}`);
    const s = await connectTls(port, { cert: client.cert, key: client.key, ca: ca.cert });
    s.destroy();
    assert.equal(notify.messages.some((m) => m.includes('WATCHDOG')), false, 'no watchdog without WATCHDOG_USEC');
    gt.signal('SIGTERM');
    assert.equal(await notify.waitFor(/STOPPING=1/), `STOPPING=1\nSTATUS=stopping | server proxying 127.0.0.1:0 => 127.0.0.1:${backend.port}`);
    assert.equal(await gt.exited(), 0);
  });

  it('systemd:NAME errors: no such name, more than one socket for a name', async () => {
    const missing = await runToExit(['server', '--listen', 'systemd:nope', ...base()]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^error: expected listener with name nope, but found none$/m);

    const dir = tempDir();
    const gt = runGhostunnel(['server', '--listen', 'systemd:twice', ...base()], {
      wrap: ['systemd-socket-activate', '-l', join(dir, 'a.sock'), '-l', join(dir, 'b.sock'), '--fdname=twice:twice'],
    });
    daemons.push(gt);
    while (!existsSync(join(dir, 'b.sock'))) await new Promise((r) => setTimeout(r, 20));
    const trigger: Socket = connect(join(dir, 'a.sock'));
    trigger.on('error', () => {});
    await gt.exited();
    assert.match(gt.stderr(), /^error: expected exactly 1 listening socket configured in systemd for name twice, found 2$/m);
    trigger.destroy();
  });

  it('--listen launchd:NAME fails clearly, in one line', async () => {
    const r = await runToExit(['server', '--listen', 'launchd:tunnel', ...base()]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'error: --listen launchd:tunnel: launchd socket activation is not implemented (this is linux); use --listen HOST:PORT or unix:PATH\n');
  });
});
