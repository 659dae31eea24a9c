// Zero-downtime binary replacement by hand-off (docs/upgrades.md): on SIGUSR2 the daemon starts its
// successor with the listening sockets inherited, waits for it to be ready, then drains.
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { get } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { readFileSync } from 'node:fs';
import { once } from 'node:events';
import { echoBackend, type Backend } from '../helpers/backends.ts';
import { readBytes } from '../helpers/clients.ts';
import { datagramSink, type DatagramSink } from '../helpers/datagram-sink.ts';
import { runGhostunnel, type Daemon, type LogLine } from '../helpers/daemon.ts';
import { issue, makeCa, tempDir, type Ca, type Issued } from '../helpers/pki.ts';
import { linuxOnly } from '../helpers/platform.ts';
import { isAlive, terminate, waitGone } from '../helpers/processes.ts';
import { listeningOrder } from '../helpers/status.ts';

function httpStatus(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path: '/_status' }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    }).on('error', reject);
  });
}

describe('hand-off upgrade (SIGUSR2)', { skip: linuxOnly('a hand-off upgrade passes listening descriptors') }, () => {
  let ca: Ca, server: Issued, client: Issued, backend: Backend;
  const daemons: Daemon[] = [];
  const successors: number[] = [];
  const sinks: DatagramSink[] = [];
  const start = (listen: string, extra: string[] = [], env: NodeJS.ProcessEnv = {}): Daemon => {
    const gt = runGhostunnel(['server', '--listen', listen, '--target', `127.0.0.1:${backend.port}`, '--cert', server.cert, '--key', server.key, '--cacert', ca.cert, '--allow-cn', 'client', ...extra], { env });
    daemons.push(gt);
    return gt;
  };
  const tls = async (to: { port: number } | { path: string }): Promise<TLSSocket> => {
    const s = tlsConnect({ ...('port' in to ? { host: '127.0.0.1', port: to.port } : to), servername: 'localhost', ca: readFileSync(ca.cert), cert: readFileSync(client.cert), key: readFileSync(client.key) });
    s.on('error', () => {});
    await once(s, 'secureConnect');
    return s;
  };
  const echo = async (s: TLSSocket, text: string): Promise<string> => {
    const got = readBytes(s, text.length);
    s.write(text);
    return (await got).toString();
  };
  /** Sends SIGUSR2 to `pid` and resolves with the successor's pid once it has taken over. */
  const upgrade = async (gt: Daemon, pid: number): Promise<number> => {
    const from = gt.lines.length;
    process.kill(pid, 'SIGUSR2');
    const line = await waitForLine(gt, /^upgrade: successor pid \d+ is accepting, handing over$/, from);
    assert.equal(line.pid, pid);
    const successor = Number(line.successor);
    successors.push(successor);
    return successor;
  };
  /** Like gt.waitForLog, but for lines of any process writing to the same stdout (successors too). */
  const waitForLine = async (gt: Daemon, pattern: RegExp, from = 0, pid?: number, timeoutMs = 30_000): Promise<LogLine> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = gt.lines.slice(from).find((l) => pattern.test(l.msg) && (pid === undefined || l.pid === pid));
      if (hit) return hit;
      if (Date.now() > deadline) throw new Error(`no log line ${pattern}; got:\n${gt.stdout()}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  before(async () => {
    ca = makeCa();
    server = issue(ca, 'server', { cn: 'localhost' });
    client = issue(ca, 'client', { cn: 'client' });
    backend = await echoBackend();
  });
  after(async () => {
    for (const pid of new Set([...successors, ...daemons.flatMap((gt) => gt.lines.map((l) => Number(l.pid)))])) if (pid > 0) await terminate(pid);
    for (const gt of daemons) await gt.stop();
    for (const s of sinks) s.close();
    await backend.close();
  });

  it('TCP listener and status port: the successor accepts on the same sockets, the old process drains and exits 0', async () => {
    const gt = start('127.0.0.1:0', ['--status', 'http://127.0.0.1:0']);
    const { port } = await gt.address();
    const statusPort = Number(String((await gt.waitForLog(/^status server listening/)).address).split(':').pop());
    const old = gt.proc.pid!;
    const open = await tls({ port });
    assert.equal(await echo(open, 'before'), 'before');

    const successor = await upgrade(gt, old);
    const taken = await waitForLine(gt, /^listening for connections on 127\.0\.0\.1:0$/, 0, successor);
    assert.equal(taken.pid, successor);
    assert.equal(taken.taken_over_from, old);
    assert.equal(taken.address, `127.0.0.1:${port}`, 'the successor accepts on the inherited socket');
    await waitForLine(gt, /^status server listening/, 0, successor);
    assert.deepEqual(listeningOrder(gt.lines, successor), ['listening for connections', 'status server listening'], "the successor's status port accepts once its tunnel does");

    // The old process serves its open connection to the end, while new ones go to the successor.
    const fresh = await tls({ port });
    assert.equal(await echo(fresh, 'new'), 'new');
    await waitForLine(gt, /^opening pipe/, 0, successor);
    assert.equal(await echo(open, 'still-old'), 'still-old');
    assert.ok(isAlive(old), 'the old process waits for its connection');
    open.end();
    open.resume();
    assert.equal(await gt.exited(), 0);
    await waitForLine(gt, /^drain complete, exiting$/, 0, old);

    assert.equal(await echo(fresh, 'after-old-exit'), 'after-old-exit');
    fresh.destroy();
    assert.equal(await httpStatus(statusPort), 200, 'the status port was handed over too');

    // And the successor can itself be replaced.
    const third = await upgrade(gt, successor);
    await waitGone(successor);
    const again = await tls({ port });
    assert.equal(await echo(again, 'third'), 'third');
    again.destroy();
    await waitForLine(gt, /^opening pipe/, 0, third);
  });

  it('UNIX listener: the path survives the hand-off and is removed when the last owner stops', async () => {
    const path = join(tempDir(), 'gt.sock');
    const gt = start(`unix:${path}`);
    await gt.waitForLog(/^listening for connections/);
    const successor = await upgrade(gt, gt.proc.pid!);
    assert.equal(await gt.exited(), 0);
    assert.ok(statSync(path).isSocket(), 'the old process left the path to its successor');
    const s = await tls({ path });
    assert.equal(await echo(s, 'unix'), 'unix');
    s.destroy();
    await terminate(successor);
    assert.equal(existsSync(path), false, 'the successor unlinked its socket at shutdown');
  });

  it('a successor that fails to start changes nothing: the old process keeps serving', async () => {
    const gt = start('127.0.0.1:0', ['--upgrade-exec', '/bin/false']);
    const { port } = await gt.address();
    gt.signal('SIGUSR2');
    await gt.waitForLog(/^upgrade failed: successor exited \(code 1\) before it was ready; still serving$/);
    const s = await tls({ port });
    assert.equal(await echo(s, 'unchanged'), 'unchanged');
    s.destroy();
    assert.equal(await gt.stop(), 0);
  });

  it('under systemd: the successor reports MAINPID= with READY=1 and takes over the watchdog; the old one sends no STOPPING=1', async () => {
    const notify = await datagramSink(join(tempDir(), 'notify.sock'));
    sinks.push(notify);
    const gt = start('127.0.0.1:0', [], { NOTIFY_SOCKET: notify.path, WATCHDOG_USEC: '400000' });
    await gt.address();
    const old = gt.proc.pid!;
    await notify.waitFor(/READY=1/);
    const successor = await upgrade(gt, old);
    assert.equal(await notify.waitFor(/MAINPID=/), `MAINPID=${successor}\nREADY=1\nSTATUS=listening | server proxying 127.0.0.1:0 => 127.0.0.1:${backend.port}`);
    assert.equal(await gt.exited(), 0);
    const mark = notify.messages.length;
    await notify.waitFor(/^WATCHDOG=1$/, 5000, mark);
    assert.equal(notify.messages.some((m) => m.includes('STOPPING=1')), false, 'the old process did not stop the service');
    process.kill(successor, 'SIGTERM');
    await notify.waitFor(/STOPPING=1/);
    await waitGone(successor);
  });
});
