// 20 successive binary replacements each way under continuous load (loadgen hs and rr, plus an
// integrity checker that verifies every echoed byte): (a) Ghostunnel's SO_REUSEPORT procedure,
// (b) the SIGUSR2 hand-off. Failed connections and corrupted transfers are counted and reported;
// the hand-off must have none. (The reusePort procedure with the kernel migrating queued
// connections is test/lifecycle/reuseport-netns.test.ts.)
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { runGhostunnel, type Daemon, type LogLine } from '../helpers/daemon.ts';
import { buildLoadgen, startEchoBackend } from '../helpers/loadgen.ts';
import { issue, makeCa, type Ca, type Issued } from '../helpers/pki.ts';
import { linuxOnly } from '../helpers/platform.ts';
import { terminate, waitGone } from '../helpers/processes.ts';
import { describeTally, underLoad, type LoadSetup } from '../helpers/replacement-load.ts';

const REPLACEMENTS = 20;

describe('binary replacement under load', { timeout: 240_000, skip: linuxOnly('a hand-off upgrade passes listening descriptors') }, () => {
  let ca: Ca, server: Issued, echo: { proc: ChildProcess; port: number }, setup: LoadSetup;
  const extraPids = new Set<number>();
  const daemons: Daemon[] = [];
  const args = (listen: string): string[] => [
    'server', '--listen', listen, '--target', `127.0.0.1:${echo.port}`, '--cert', server.cert, '--key', server.key, '--cacert', ca.cert, '--allow-cn', 'client', '--quiet', 'conns',
  ];

  before(async () => {
    const loadgen = buildLoadgen();
    ca = makeCa();
    server = issue(ca, 'server', { cn: 'localhost' });
    setup = { loadgen, client: issue(ca, 'client', { cn: 'client' }), ca };
    echo = await startEchoBackend(loadgen);
  });
  after(async () => {
    for (const pid of extraPids) await terminate(pid);
    for (const gt of daemons) await gt.stop();
    echo.proc.kill();
  });

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
    const tally = await underLoad(port, setup, async () => {
      for (let i = 0; i < REPLACEMENTS; i++) {
        const from = gt.lines.length;
        process.kill(current, 'SIGUSR2');
        current = await waitForHandOver(from, current);
        extraPids.add(current);
        await sleep(300);
      }
    });
    const elapsed = Date.now() - t0;
    t.diagnostic(describeTally('(b) hand-off', REPLACEMENTS, tally, elapsed));
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
    const tally = await underLoad(port, setup, async () => {
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
    t.diagnostic(describeTally('(a) reusePort + SIGTERM', REPLACEMENTS, tally, elapsed));
    for (const code of await Promise.all(exits)) assert.equal(code, 0);
    assert.ok(tally.hs.ok > 0 && tally.rr.ok > 0 && tally.verified > 0, 'load ran');
    assert.equal(tally.corrupted, 0, 'corrupted transfers');
  });
});
