// Ghostunnel's binary replacement by SO_REUSEPORT, under load: a successor binds the same port,
// is awaited until its status port answers, then the old process gets SIGTERM; N times. Run by
// test/lifecycle/reuseport-netns.test.ts inside a private network namespace (where it can set
// net.ipv4.tcp_migrate_req); prints one JSON line: what the load saw, and the exit codes.
//   node test/helpers/reuseport-replacements.ts REPLACEMENTS
import { get } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { runGhostunnel, type Daemon } from './daemon.ts';
import { buildLoadgen, startEchoBackend } from './loadgen.ts';
import { issue, makeCa } from './pki.ts';
import { describeTally, underLoad } from './replacement-load.ts';

/** Resolves once the daemon's status port answers GET /_status with 200. */
async function statusAnswers(gt: Daemon): Promise<void> {
  const line = await gt.waitForLog(/^status server listening on /, 30_000);
  const address = String(line.address);
  for (;;) {
    const code = await new Promise<number>((resolve) => {
      const req = get(`http://${address}/_status`, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', () => resolve(0));
    });
    if (code === 200) return;
    await sleep(10);
  }
}

const replacements = Number(process.argv[2] ?? 20);
const loadgen = buildLoadgen();
const ca = makeCa();
const server = issue(ca, 'server', { cn: 'localhost' });
const setup = { loadgen, client: issue(ca, 'client', { cn: 'client' }), ca };
const echo = await startEchoBackend(loadgen);
const args = (listen: string): string[] => [
  'server', '--listen', listen, '--target', `127.0.0.1:${echo.port}`, '--cert', server.cert, '--key', server.key, '--cacert', ca.cert, '--allow-cn', 'client',
  '--status', 'http://127.0.0.1:0', '--quiet', 'conns',
];

let gt = runGhostunnel(args('127.0.0.1:0'));
const { port } = await gt.address();
await statusAnswers(gt);
const warnings = gt.lines.filter((l) => l.level === 'warn').map((l) => l.msg);
const exits: Array<Promise<number | string>> = [];
const t0 = Date.now();
const tally = await underLoad(port, setup, async () => {
  for (let i = 0; i < replacements; i++) {
    const next = runGhostunnel(args(`127.0.0.1:${port}`));
    await statusAnswers(next);
    gt.signal('SIGTERM');
    exits.push(gt.exited(60_000));
    gt = next;
    await sleep(300);
  }
});
const elapsedMs = Date.now() - t0;
exits.push(gt.stop());
echo.proc.kill();
process.stdout.write(
  `${JSON.stringify({
    summary: describeTally('reusePort + SIGTERM', replacements, tally, elapsedMs),
    handshakes: { ok: tally.hs.ok, failed: tally.hs.errors },
    roundTrips: { ok: tally.rr.ok, failedConnections: tally.rr.errors },
    checker: { verified: tally.verified, failedConnections: tally.failedConnections, corrupted: tally.corrupted },
    exits: await Promise.all(exits),
    warnings,
  })}\n`,
);
process.exit(0);
