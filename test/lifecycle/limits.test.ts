// Connection limits (spec §2.10): --max-concurrent-conns stops accepting when full (new
// connections wait in the kernel backlog, none refused, no slot leaks under abrupt closes),
// --connect-timeout reaps clients that never finish a handshake, and descriptor exhaustion is
// survived and recovered from.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { echoBackend, type Backend } from '../helpers/backends.ts';
import { connectTls, readBytes } from '../helpers/clients.ts';
import { runGhostunnel, type Daemon } from '../helpers/daemon.ts';
import { PLANE } from '../helpers/plane.ts';
import { issue, makeCa, type Ca, type Issued } from '../helpers/pki.ts';
import { linuxOnly } from '../helpers/platform.ts';
import { requireProgram } from '../helpers/programs.ts';

describe('connection limits', () => {
  let ca: Ca, server: Issued, client: Issued, backend: Backend;
  const daemons: Daemon[] = [];
  const start = (extra: string[]): Daemon => {
    const gt = runGhostunnel(['server', '--listen', '127.0.0.1:0', '--target', `127.0.0.1:${backend.port}`, '--cert', server.cert, '--key', server.key, '--cacert', ca.cert, '--allow-cn', 'client', ...extra]);
    daemons.push(gt);
    return gt;
  };
  const tls = (port: number): Promise<TLSSocket> => connectTls(port, { cert: client.cert, key: client.key, ca: ca.cert });
  /** TLS over a TCP socket of our own, which can then be reset (a TLSSocket cannot). */
  const tlsOverRaw = async (port: number): Promise<{ raw: Socket; secure: TLSSocket }> => {
    const raw = await rawConnect(port);
    const secure = tlsConnect({ socket: raw, cert: readFileSync(client.cert), key: readFileSync(client.key), ca: readFileSync(ca.cert), servername: 'localhost' });
    secure.on('error', () => {});
    await once(secure, 'secureConnect');
    return { raw, secure };
  };
  const echo = async (s: TLSSocket, text: string): Promise<string> => {
    const got = readBytes(s, text.length);
    s.write(text);
    return (await got).toString();
  };
  const closeAndWait = async (s: Socket): Promise<void> => {
    s.resume();
    s.end();
    if (!s.closed) await once(s, 'close');
  };
  const rawConnect = async (port: number): Promise<Socket> => {
    const s = connect({ port, host: '127.0.0.1' });
    s.on('error', () => {});
    await once(s, 'connect');
    return s;
  };
  /** A TLS connection attempt whose completion is observed without awaiting it. */
  const pending = (port: number): { done: () => boolean; socket: Promise<TLSSocket> } => {
    let finished = false;
    const socket = tls(port);
    void socket.then(() => (finished = true));
    return { done: () => finished, socket };
  };
  /** Exactly `n` slots: n connections are served at once, and the next one waits for a free slot. */
  const assertCapacity = async (port: number, n: number): Promise<void> => {
    const held: TLSSocket[] = [];
    for (let i = 0; i < n; i++) {
      held.push(await tls(port));
      assert.equal(await echo(held[i]!, `held-${i}`), `held-${i}`);
    }
    const next = pending(port);
    await sleep(700);
    assert.equal(next.done(), false, `connection ${n + 1} completed its handshake while ${n} were open`);
    await closeAndWait(held.shift()!);
    const third = await next.socket;
    assert.equal(await echo(third, 'after-slot-freed'), 'after-slot-freed');
    for (const s of [...held, third]) await closeAndWait(s);
  };

  before(async () => {
    ca = makeCa();
    server = issue(ca, 'server', { cn: 'localhost' });
    client = issue(ca, 'client', { cn: 'client' });
    backend = await echoBackend();
  });
  after(async () => {
    for (const gt of daemons) await gt.stop();
    await backend.close();
  });

  it('--max-concurrent-conns 2: a third handshake waits in the backlog and completes once a slot frees', async () => {
    const gt = start(['--max-concurrent-conns', '2']);
    const { port } = await gt.address();
    const before = backend.accepted();
    await assertCapacity(port, 2);
    assert.equal(backend.accepted() - before, 3);
    assert.equal(await gt.stop(), 0);
  });

  it('--max-concurrent-conns 2: abrupt closes under churn never leak a slot', async () => {
    const gt = start(['--max-concurrent-conns', '2', '--connect-timeout', '3s']);
    const { port } = await gt.address();
    const churn = async (i: number): Promise<void> => {
      switch (i % 4) {
        case 0: {
          // Reset before sending anything (possibly while still in the backlog).
          (await rawConnect(port)).resetAndDestroy();
          break;
        }
        case 1: {
          // Garbage instead of a ClientHello: a handshake error.
          const s = await rawConnect(port);
          s.end('GET / HTTP/1.0\r\n\r\n');
          s.resume();
          await once(s, 'close');
          break;
        }
        case 2: {
          // Reset in the middle of a pipe.
          const { raw, secure } = await tlsOverRaw(port);
          assert.equal(await echo(secure, `churn-${i}`), `churn-${i}`);
          raw.resetAndDestroy();
          break;
        }
        default: {
          // Reset right after the handshake, before the backend was dialed or while it is.
          (await tlsOverRaw(port)).raw.resetAndDestroy();
        }
      }
    };
    for (let round = 0; round < 10; round++) await Promise.all(Array.from({ length: 8 }, (_, i) => churn(round * 8 + i)));
    await assertCapacity(port, 2);
    assert.equal(await gt.stop(), 0);
  });

  it('reaps 500 silent connections after --connect-timeout while a good client keeps working', async () => {
    const gt = start(['--connect-timeout', '2s', '--quiet', 'handshake-errs']);
    const { port } = await gt.address();
    const silent = await Promise.all(Array.from({ length: 500 }, () => rawConnect(port)));
    const closed = silent.map((s) => {
      s.resume();
      return once(s, 'close');
    });
    let rounds = 0;
    let reaped = false;
    void Promise.all(closed).then(() => (reaped = true));
    while (!reaped) {
      const s = await tls(port);
      assert.equal(await echo(s, `good-${rounds}`), `good-${rounds}`);
      await closeAndWait(s);
      rounds++;
    }
    assert.ok(rounds > 1, `the good client completed ${rounds} round trips while the silent ones were held`);
    assert.equal(await gt.stop(), 0);
  });

  it('survives descriptor exhaustion (prlimit --nofile) and recovers once descriptors free up', { skip: linuxOnly('reads /proc and runs prlimit') }, async () => {
    const gt = start(['--connect-timeout', '5s']);
    const { port } = await gt.address();
    const pid = gt.proc.pid!;
    const inUse = readdirSync(`/proc/${pid}/fd`).length;
    requireProgram('prlimit');
    execFileSync('prlimit', ['--pid', String(pid), `--nofile=${inUse + 10}:${inUse + 10}`]);
    // Connections that never start a handshake each hold a descriptor until --connect-timeout.
    const silent = await Promise.all(Array.from({ length: 40 }, () => rawConnect(port)));
    const closedEarly = new Set<Socket>();
    for (const s of silent) {
      s.resume();
      s.once('close', () => closedEarly.add(s));
    }
    if (PLANE === 'native') {
      // Out of descriptors, accept() fails with EMFILE: the daemon says so and backs off, as Go's
      // accept loop does, and the connections it could not take wait in the kernel backlog.
      await gt.waitForLog(new RegExp(`^error accepting connection: accept tcp 127\\.0\\.0\\.1:${port}: accept4: too many open files \\(retrying in \\d+ ms\\)$`));
      const queued = tls(port).then(async (s) => {
        const got = await echo(s, 'queued');
        await closeAndWait(s);
        return got;
      });
      await sleep(200);
      assert.equal(closedEarly.size, 0, 'no connection was closed out of hand');
      for (const s of silent) s.destroy();
      // The one that waited gets through once descriptors come free.
      assert.equal(await queued, 'queued');
    } else {
      // The node plane accepts through libuv, which takes what it cannot serve off the queue and
      // closes it, reporting nothing (docs/data-plane.md): no back-off, no log line.
      const deadline = Date.now() + 10_000;
      while (closedEarly.size === 0 && Date.now() < deadline) await sleep(50);
      assert.ok(closedEarly.size > 0, 'libuv closed the connections it had no descriptor for');
      assert.equal(gt.lines.some((l) => /^error accepting connection/.test(l.msg)), false);
      for (const s of silent) s.destroy();
    }
    // Descriptors come free (at the latest when --connect-timeout reaps the handshakes): the
    // daemon serves new connections again, with no restart.
    let recovered: string | undefined;
    const deadline = Date.now() + 30_000;
    while (recovered === undefined && Date.now() < deadline) {
      try {
        const s = await tls(port);
        recovered = await echo(s, 'recovered');
        await closeAndWait(s);
      } catch {
        await sleep(100);
      }
    }
    assert.equal(recovered, 'recovered');
    assert.equal(gt.proc.exitCode, null, 'the daemon is still running');
    assert.equal(await gt.stop(), 0);
  });
});
