// 20 successive binary replacements each way under continuous load (loadgen hs and rr, plus an
// integrity checker that verifies every echoed byte): (a) Ghostunnel's SO_REUSEPORT procedure,
// (b) the SIGUSR2 hand-off. Failed connections and corrupted transfers are counted and reported;
// the hand-off must have none.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { after, before, describe, it, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { runGhostunnel, type Daemon, type LogLine } from '../helpers/daemon.ts';
import { buildLoadgen, handshakeLoad, requestResponseLoad, startEchoBackend, type LoadClient, type LoadResult } from '../helpers/loadgen.ts';
import { issue, makeCa, type Ca, type Issued } from '../helpers/pki.ts';
import { linuxOnly } from '../helpers/platform.ts';
import { terminate, waitGone } from '../helpers/processes.ts';

const REPLACEMENTS = 20;
/** Each loadgen run; runs repeat until the replacements are done, so rr connections land on many generations. */
const RUN_MS = 3000;

interface Tally {
  hs: { ok: number; errors: number; samples: Set<string> };
  rr: { ok: number; errors: number; samples: Set<string> };
  /** Integrity checker: transfers whose echo came back complete and identical. */
  verified: number;
  failedConnections: number;
  corrupted: number;
  checkerSamples: Set<string>;
}

function newTally(): Tally {
  return { hs: { ok: 0, errors: 0, samples: new Set() }, rr: { ok: 0, errors: 0, samples: new Set() }, verified: 0, failedConnections: 0, corrupted: 0, checkerSamples: new Set() };
}

/** One connection: 8 random messages of 1–16 KiB, each echo compared byte for byte. */
async function checkTransfer(port: number, client: Issued, ca: Ca, tally: Tally): Promise<void> {
  let socket: TLSSocket | undefined;
  try {
    socket = tlsConnect({ host: '127.0.0.1', port, servername: 'localhost', ca: readFileSync(ca.cert), cert: readFileSync(client.cert), key: readFileSync(client.key) });
    socket.setTimeout(10_000, () => socket!.destroy(new Error('no progress for 10 s')));
    await once(socket, 'secureConnect');
    // From here on a reset shows as 'close' before the echo is complete (counted below).
    socket.on('error', (err) => tally.checkerSamples.add(err.message));
    for (let i = 0; i < 8; i++) {
      const message = randomBytes(1024 + Math.floor(Math.random() * 15 * 1024));
      const chunks: Buffer[] = [];
      let got = 0;
      const s = socket;
      const echoed = new Promise<Buffer>((resolve, reject) => {
        const onData = (c: Buffer): void => {
          chunks.push(c);
          got += c.length;
          if (got >= message.length) {
            s.off('data', onData);
            s.off('close', onClose);
            resolve(Buffer.concat(chunks));
          }
        };
        const onClose = (): void => reject(new Error(`closed after ${got}/${message.length} bytes`));
        s.on('data', onData);
        s.once('close', onClose);
      });
      s.write(message);
      const back = await echoed;
      if (!back.equals(message)) {
        tally.corrupted++;
        tally.checkerSamples.add(`corrupted: ${back.length} bytes back for ${message.length}`);
        return;
      }
    }
    tally.verified++;
  } catch (err) {
    tally.failedConnections++;
    tally.checkerSamples.add((err as Error).message);
  } finally {
    socket?.destroy();
  }
}

describe('binary replacement under load', { timeout: 240_000, skip: linuxOnly('a hand-off upgrade passes listening descriptors') }, () => {
  let ca: Ca, server: Issued, client: Issued, loadgen: string, echo: { proc: ChildProcess; port: number }, creds: LoadClient;
  const extraPids = new Set<number>();
  const daemons: Daemon[] = [];
  const args = (listen: string): string[] => [
    'server', '--listen', listen, '--target', `127.0.0.1:${echo.port}`, '--cert', server.cert, '--key', server.key, '--cacert', ca.cert, '--allow-cn', 'client', '--quiet', 'conns',
  ];

  before(async () => {
    loadgen = buildLoadgen();
    ca = makeCa();
    server = issue(ca, 'server', { cn: 'localhost' });
    client = issue(ca, 'client', { cn: 'client' });
    creds = { cert: client.cert, key: client.key, ca: ca.cert };
    echo = await startEchoBackend(loadgen);
  });
  after(async () => {
    for (const pid of extraPids) await terminate(pid);
    for (const gt of daemons) await gt.stop();
    echo.proc.kill();
  });

  /**
   * Runs the load (loadgen hs, loadgen rr and the integrity checker, each with 2 workers, in
   * repeated runs) until `replace` resolves, then lets the last runs finish.
   */
  async function underLoad(port: number, replace: () => Promise<void>): Promise<Tally> {
    const tally = newTally();
    let done = false;
    const add = (into: Tally['hs'], r: LoadResult): void => {
      into.ok += r.ok;
      into.errors += r.errors;
      if (r.errors > 0 && r.error_sample) into.samples.add(r.error_sample);
    };
    const loop = async (run: () => Promise<LoadResult>, into: Tally['hs']): Promise<void> => {
      while (!done) add(into, await run());
    };
    const checker = async (): Promise<void> => {
      while (!done) await checkTransfer(port, client, ca, tally);
    };
    const load = Promise.all([
      loop(() => handshakeLoad(loadgen, port, { client: creds, concurrency: 2, durationMs: RUN_MS }), tally.hs),
      loop(() => requestResponseLoad(loadgen, port, { client: creds, concurrency: 2, durationMs: RUN_MS, size: 256 }), tally.rr),
      checker(),
      checker(),
    ]);
    await sleep(500);
    try {
      await replace();
    } finally {
      done = true;
      await load;
    }
    return tally;
  }

  function report(t: TestContext, way: string, tally: Tally, elapsedMs: number): void {
    const samples = [...tally.hs.samples, ...tally.rr.samples, ...tally.checkerSamples].slice(0, 5);
    t.diagnostic(
      `${way}: ${REPLACEMENTS} replacements in ${(elapsedMs / 1000).toFixed(1)} s; ` +
        `loadgen hs ${tally.hs.ok} ok / ${tally.hs.errors} failed; loadgen rr ${tally.rr.ok} round trips ok / ${tally.rr.errors} failed connections; ` +
        `checker ${tally.verified} verified transfers / ${tally.failedConnections} failed connections / ${tally.corrupted} corrupted` +
        (samples.length ? `; errors seen: ${samples.join(' | ')}` : ''),
    );
  }

  it('(b) SIGUSR2 hand-off: 0 failed connections, 0 corrupted transfers', async (t) => {
    const gt = runGhostunnel(args('127.0.0.1:0'));
    daemons.push(gt);
    const { port } = await gt.address();
    let current = gt.proc.pid!;
    const waitForHandOver = async (from: number, pid: number): Promise<number> => {
      for (;;) {
        const hit = gt.lines.slice(from).find((l: LogLine) => l.pid === pid && /^upgrade: successor pid \d+ is accepting/.test(l.msg));
        if (hit) return Number(hit.successor);
        const failed = gt.lines.slice(from).find((l: LogLine) => /^upgrade failed/.test(l.msg));
        if (failed) throw new Error(failed.msg);
        await sleep(20);
      }
    };
    const t0 = Date.now();
    const tally = await underLoad(port, async () => {
      for (let i = 0; i < REPLACEMENTS; i++) {
        const from = gt.lines.length;
        process.kill(current, 'SIGUSR2');
        current = await waitForHandOver(from, current);
        extraPids.add(current);
        await sleep(300);
      }
    });
    const elapsed = Date.now() - t0;
    report(t, '(b) hand-off', tally, elapsed);
    const generations = new Set(gt.lines.map((l) => l.pid));
    assert.equal(generations.size, REPLACEMENTS + 1, 'every replacement started a new process');
    assert.ok(tally.hs.ok > 0 && tally.rr.ok > 0 && tally.verified > 0, 'load ran');
    assert.equal(tally.hs.errors, 0, 'loadgen hs failures');
    assert.equal(tally.rr.errors, 0, 'loadgen rr failures');
    assert.equal(tally.failedConnections, 0, 'checker connection failures');
    assert.equal(tally.corrupted, 0, 'corrupted transfers');
    await terminate(current);
    for (const pid of generations) await waitGone(Number(pid));
  });

  it('(a) SO_REUSEPORT, then SIGTERM to the old process (Ghostunnel\'s procedure): counted, never corrupted', async (t) => {
    let gt = runGhostunnel(args('127.0.0.1:0'));
    daemons.push(gt);
    const { port } = await gt.address();
    const exits: Array<Promise<number | string>> = [];
    const t0 = Date.now();
    const tally = await underLoad(port, async () => {
      for (let i = 0; i < REPLACEMENTS; i++) {
        const next = runGhostunnel(args(`127.0.0.1:${port}`));
        daemons.push(next);
        await next.address();
        gt.signal('SIGTERM');
        exits.push(gt.exited(60_000));
        gt = next;
        await sleep(300);
      }
    });
    const elapsed = Date.now() - t0;
    report(t, '(a) reusePort + SIGTERM', tally, elapsed);
    for (const code of await Promise.all(exits)) assert.equal(code, 0);
    assert.ok(tally.hs.ok > 0 && tally.rr.ok > 0 && tally.verified > 0, 'load ran');
    assert.equal(tally.corrupted, 0, 'corrupted transfers');
  });
});
