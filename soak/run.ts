// `npm run soak` (docs/soak.md): a server tunnel under continuous load (loadgen hs and rr, and
// checker clients that verify every echoed byte) while its certificate rotates every second
// (--auto-reload), its binary is replaced and handed over every 30 s (SIGUSR2), its backend flaps,
// and hostile clients misbehave. Samples RSS and descriptors of the serving process, prints a
// summary, and exits 1 on any failed well-behaved connection or corrupted byte.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { connectTls } from '../test/helpers/clients.ts';
import { EchoChecker, type CheckerFailure, type CheckerStats } from '../test/helpers/echo-checker.ts';
import { buildLoadgen, runLoadgen, type LoadResult } from '../test/helpers/loadgen.ts';
import { issue, makeCa, tempDir } from '../test/helpers/pki.ts';
import { kubernetesLayout } from '../test/helpers/rotation.ts';
import { runHostile, type Pattern } from './hostile.ts';
import { alive, FlappingBackend, ReplaceableBinary, sample, Tunnel } from './processes.ts';

const env = (name: string, fallback: number): number => (process.env[name] === undefined ? fallback : Number(process.env[name]));
const MINUTES = env('SOAK_MINUTES', 10);
const ROTATE_MS = env('SOAK_ROTATE_SECONDS', 1) * 1000;
/** 0: no upgrades (one process for the whole run, to watch a single heap). */
const UPGRADE_S = env('SOAK_UPGRADE_SECONDS', 30);
/** Load runs in segments this long; every fourth one is a flap segment (backend down in its middle). */
const SEGMENT_S = 15;
const FLAP_EVERY = 4;
const BACKEND_DOWN_MS = 3000;
const CONNECT_TIMEOUT_S = 5;
const SAMPLE_MS = 5000;
const WARM_UP_MS = 60_000;
const LOADGEN_CONCURRENCY = env('SOAK_LOADGEN_CONCURRENCY', 2);

interface Segment {
  readonly index: number;
  readonly flap: boolean;
  readonly hs: LoadResult;
  readonly rr: LoadResult;
}
interface Window {
  readonly from: number;
  readonly to: number;
}
interface Sample {
  readonly at: number;
  readonly pid: number;
  readonly rssKb: number;
  readonly fds: number;
  /** Tunnel processes alive (the current one and predecessors still draining). */
  readonly processes: number;
  /** V8 heap in use and memory outside it (TLS buffers, OpenSSL), from the serving process's metrics. */
  readonly heapKb: number;
  readonly externalKb: number;
}

/** The serving process's own view of its memory, from the Prometheus metrics on the status port. */
async function nodeMemory(status: string): Promise<{ heapKb: number; externalKb: number }> {
  try {
    const text = await (await fetch(`http://${status}/_metrics/prometheus`)).text();
    const value = (name: string): number => Math.round(Number(new RegExp(`^${name} (\\S+)`, 'm').exec(text)?.[1] ?? NaN) / 1024);
    return { heapKb: value('nodejs_heap_size_used_bytes'), externalKb: value('nodejs_external_memory_bytes') };
  } catch {
    return { heapKb: NaN, externalKb: NaN };
  }
}

const log = (msg: string): void => {
  process.stderr.write(`[soak ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
};

/** A checker failure is caused by the flap when its time span meets a backend-down window. */
const duringFlap = (f: CheckerFailure, windows: readonly Window[]): boolean => windows.some((w) => f.startedAt <= w.to && f.at >= w.from);

async function main(): Promise<number> {
  const started = Date.now();
  const deadline = started + MINUTES * 60_000;
  const loadgen = buildLoadgen();
  const dir = tempDir('gt-soak-');
  const ca = makeCa('soak-ca', { dir });
  const client = issue(ca, 'client', { cn: 'client' });
  const pool = Array.from({ length: 8 }, (_, i) => issue(ca, `server-${i}`, { cn: 'localhost' }));
  mkdirSync(join(dir, 'secret'));
  const layout = kubernetesLayout(join(dir, 'secret'), pool[0]!);
  const backend = await FlappingBackend.start(loadgen);
  const binary = new ReplaceableBinary(dir);
  const tunnel = new Tunnel(binary, [
    'server', '--listen', '127.0.0.1:0', '--target', `127.0.0.1:${backend.port}`, '--cert', layout.cert, '--key', layout.key, '--cacert', ca.cert,
    '--allow-cn', 'client', '--auto-reload', '--status', 'http://127.0.0.1:0', '--connect-timeout', `${CONNECT_TIMEOUT_S}s`, '--quiet', 'conns',
  ]);
  const listening = await tunnel.next(/^listening for connections on/, 30_000);
  const port = Number(String(listening.address).split(':').pop());
  await tunnel.next(/^watching/, 30_000).catch(() => undefined);
  log(`tunnel pid ${tunnel.current} on 127.0.0.1:${port}, backend 127.0.0.1:${backend.port}, ${MINUTES} min`);

  const stop = new AbortController();
  const clientFiles = { cert: client.cert, key: client.key, ca: ca.cert };
  const connect = () => connectTls(port, clientFiles);
  const checkers = [
    new EchoChecker({ connect, maxSize: 16 * 1024, roundsPerConnection: 500, pauseMs: 2 }),
    new EchoChecker({ connect, maxSize: 64 * 1024, roundsPerConnection: 50, pauseMs: 5 }),
    new EchoChecker({ connect, maxSize: 512, roundsPerConnection: 1, pauseMs: 10 }),
  ].map((c) => c.start());
  const hostile = runHostile({ port, client: clientFiles, stallMs: (CONNECT_TIMEOUT_S + 2) * 1000, concurrency: 8 }, stop.signal);

  let rotations = 0;
  const rotator = ROTATE_MS > 0 ? setInterval(() => void layout.rotate(pool[++rotations % pool.length]!), ROTATE_MS) : undefined;

  const samples: Sample[] = [];
  const pids = new Set<number>([tunnel.current]);
  const statusAddress = String(tunnel.lines.find((l) => /^status server listening/.test(l.msg))?.address);
  const sampler = setInterval(() => {
    pids.add(tunnel.current);
    const pid = tunnel.current;
    const s = sample(pid);
    if (s === undefined) return;
    const at = Date.now();
    const processes = alive(pids).length;
    void nodeMemory(statusAddress).then((m) => samples.push({ at, pid, ...s, processes, ...m }));
  }, SAMPLE_MS);

  const windows: Window[] = [];
  const segments: Segment[] = [];
  let upgradesAsked = 0;
  let lastUpgrade = Date.now();
  const upgrade = async (): Promise<void> => {
    binary.replace();
    upgradesAsked++;
    lastUpgrade = Date.now();
    const done = tunnel.next(/^upgrade: (successor pid \d+ is accepting|failed)/, 90_000);
    process.kill(tunnel.current, 'SIGUSR2');
    const line = await done;
    log(`upgrade ${upgradesAsked} (build ${binary.build}): ${line.msg}`);
  };

  for (let index = 0; Date.now() < deadline; index++) {
    const flap = index % FLAP_EVERY === FLAP_EVERY - 1;
    const loadArgs = ['-addr', `127.0.0.1:${port}`, '-c', String(LOADGEN_CONCURRENCY), '-d', `${SEGMENT_S}s`, '-cert', client.cert, '-key', client.key, '-ca', ca.cert, '-sni', 'localhost'];
    const hs = runLoadgen(loadgen, 'hs', loadArgs);
    const rr = runLoadgen(loadgen, 'rr', [...loadArgs, '-size', '1024']);
    const events: Array<Promise<void>> = [];
    if (flap) {
      events.push(
        (async () => {
          await sleep((SEGMENT_S * 1000 - BACKEND_DOWN_MS) / 2);
          const from = Date.now();
          await backend.down();
          await sleep(BACKEND_DOWN_MS);
          await backend.up();
          windows.push({ from, to: Date.now() });
          log(`backend flapped: down ${Date.now() - from} ms`);
        })(),
      );
    } else if (UPGRADE_S > 0 && Date.now() - lastUpgrade >= UPGRADE_S * 1000 - SEGMENT_S * 500) {
      events.push(sleep(SEGMENT_S * 300).then(upgrade));
    }
    const [hsResult, rrResult] = await Promise.all([hs, rr, ...events]);
    segments.push({ index, flap, hs: hsResult as LoadResult, rr: rrResult as LoadResult });
    const bad = (r: LoadResult): string => (r.errors > 0 ? ` (${r.errors} errors: ${r.error_sample})` : '');
    log(`segment ${index}${flap ? ' [flap]' : ''}: hs ${(hsResult as LoadResult).ok}${bad(hsResult as LoadResult)}, rr ${(rrResult as LoadResult).ok}${bad(rrResult as LoadResult)}, rss ${samples.at(-1)?.rssKb} kB, fds ${samples.at(-1)?.fds}`);
  }

  clearInterval(rotator);
  clearInterval(sampler);
  stop.abort();
  const checked: CheckerStats[] = await Promise.all(checkers.map((c) => c.stop()));
  const hostileCounts = await hostile;
  const statusLine = tunnel.lines.find((l) => /^status server listening/.test(l.msg));
  const metrics = statusLine ? await fetch(`http://${String(statusLine.address)}/_metrics`).then((r) => r.json() as Promise<Array<{ metric: string; value: number }>>).catch(() => []) : [];
  await tunnel.stop();
  await backend.down();

  return report({
    minutes: (Date.now() - started) / 60_000,
    segments,
    windows,
    checked,
    hostileCounts,
    samples,
    rotations,
    upgradesAsked,
    upgradesDone: tunnel.count(/^upgrade: successor pid \d+ is accepting/),
    upgradesFailed: tunnel.count(/^upgrade failed/),
    reloadsOk: tunnel.count(/^loaded certificate/) - 1 - tunnel.count(/^upgrade: successor pid \d+ is accepting/),
    reloadsFailed: tunnel.count(/^error reloading/),
    lingering: alive(pids),
    metrics,
  });
}

interface Findings {
  readonly minutes: number;
  readonly segments: readonly Segment[];
  readonly windows: readonly Window[];
  readonly checked: readonly CheckerStats[];
  readonly hostileCounts: Record<Pattern, number>;
  readonly samples: readonly Sample[];
  readonly rotations: number;
  readonly upgradesAsked: number;
  readonly upgradesDone: number;
  readonly upgradesFailed: number;
  readonly reloadsOk: number;
  readonly reloadsFailed: number;
  readonly lingering: readonly number[];
  readonly metrics: ReadonlyArray<{ metric: string; value: number }>;
}

const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);
const stats = (xs: readonly number[]): { min: number; median: number; max: number } => {
  const s = [...xs].sort((a, b) => a - b);
  return { min: s[0] ?? 0, median: s[Math.floor(s.length / 2)] ?? 0, max: s.at(-1) ?? 0 };
};

function report(f: Findings): number {
  f = { ...f, samples: [...f.samples].sort((a, b) => a.at - b.at) };
  const steady = f.segments.filter((s) => !s.flap);
  const flapped = f.segments.filter((s) => s.flap);
  const failures = f.checked.flatMap((c) => c.failures);
  const checkerFlap = failures.filter((x) => duringFlap(x, f.windows));
  const checkerSteady = failures.filter((x) => !duringFlap(x, f.windows));
  const loadgenSteadyErrors = sum(steady.map((s) => s.hs.errors + s.rr.errors));
  const corrupted = sum(f.checked.map((c) => c.corrupted));
  const warm = f.samples.filter((s) => s.at - f.samples[0]!.at >= WARM_UP_MS);
  const thirds = (xs: readonly Sample[]): [readonly Sample[], readonly Sample[]] => [xs.slice(0, Math.ceil(xs.length / 3)), xs.slice(Math.floor((2 * xs.length) / 3))];
  const [early, late] = thirds(warm);
  const mean = (xs: readonly Sample[], k: 'rssKb' | 'fds' | 'heapKb' | 'externalKb'): number => (xs.length === 0 ? 0 : sum(xs.map((s) => s[k])) / xs.length);
  const summary = {
    minutes: Number(f.minutes.toFixed(1)),
    well_behaved: {
      loadgen_hs_ok: sum(steady.map((s) => s.hs.ok)),
      loadgen_rr_ok: sum(steady.map((s) => s.rr.ok)),
      loadgen_errors: loadgenSteadyErrors,
      checker_rounds: sum(f.checked.map((c) => c.rounds)),
      checker_bytes: sum(f.checked.map((c) => c.bytes)),
      checker_connections: sum(f.checked.map((c) => c.connections)),
      checker_failures: checkerSteady.length,
      corrupted_bytes: corrupted,
    },
    backend_flaps: {
      windows: f.windows.length,
      down_ms: stats(f.windows.map((w) => w.to - w.from)),
      loadgen_ok_in_flap_segments: sum(flapped.map((s) => s.hs.ok + s.rr.ok)),
      loadgen_errors_in_flap_segments: sum(flapped.map((s) => s.hs.errors + s.rr.errors)),
      checker_failures_during_windows: checkerFlap.length,
    },
    hostile_clients: f.hostileCounts,
    rotations: f.rotations,
    reloads: { ok: f.reloadsOk, refused: f.reloadsFailed },
    upgrades: { asked: f.upgradesAsked, done: f.upgradesDone, failed: f.upgradesFailed },
    process_after_warm_up: {
      rss_kb: stats(warm.map((s) => s.rssKb)),
      fds: stats(warm.map((s) => s.fds)),
      rss_kb_mean_first_third: Math.round(mean(early, 'rssKb')),
      rss_kb_mean_last_third: Math.round(mean(late, 'rssKb')),
      heap_kb_mean_first_third: Math.round(mean(early, 'heapKb')),
      heap_kb_mean_last_third: Math.round(mean(late, 'heapKb')),
      external_kb_mean_first_third: Math.round(mean(early, 'externalKb')),
      external_kb_mean_last_third: Math.round(mean(late, 'externalKb')),
      fds_mean_first_third: Number(mean(early, 'fds').toFixed(1)),
      fds_mean_last_third: Number(mean(late, 'fds').toFixed(1)),
      tunnel_processes_alive: stats(warm.map((s) => s.processes)),
    },
    lingering_processes_at_end: f.lingering,
    tunnel_counters: Object.fromEntries(f.metrics.filter((m) => /\.(accept|conn)\./.test(m.metric)).map((m) => [m.metric, m.value])),
    samples: f.samples.map((s) => [Math.round((s.at - f.samples[0]!.at) / 1000), s.pid, s.rssKb, s.heapKb, s.externalKb, s.fds, s.processes]),
  };
  process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  const problems = [
    ...(loadgenSteadyErrors > 0 ? [`${loadgenSteadyErrors} loadgen errors outside flap segments: ${steady.filter((s) => s.hs.errors + s.rr.errors > 0).map((s) => `#${s.index} ${s.hs.error_sample || s.rr.error_sample}`).join('; ')}`] : []),
    ...(checkerSteady.length > 0 ? [`${checkerSteady.length} checker failures outside backend-down windows: ${JSON.stringify(checkerSteady.slice(0, 5))}`] : []),
    ...(corrupted > 0 ? [`${corrupted} corrupted bytes`] : []),
    ...(f.upgradesFailed > 0 || f.upgradesDone < f.upgradesAsked ? [`upgrades: ${f.upgradesDone} of ${f.upgradesAsked} done, ${f.upgradesFailed} failed`] : []),
  ];
  for (const p of problems) log(`FAIL: ${p}`);
  log(problems.length === 0 ? 'PASS: 0 failed well-behaved connections, 0 corrupted bytes' : `FAIL: ${problems.length} problem(s)`);
  return problems.length === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    log(`soak aborted: ${err.stack ?? err.message}`);
    process.exit(2);
  },
);
