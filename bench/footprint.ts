// A sidecar's footprint (issue 23): the resident memory of an idle server tunnel, and the time from
// exec to its first completed handshake and to its status port answering, beside a bare Node.js
// measured in the same run. bench/run.ts adds these rows to every round; `node bench/footprint.ts`
// measures them alone (see bench/README.md).
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { createServer, type Server } from 'node:net';
import { join, resolve } from 'node:path';
import { connect } from 'node:tls';
import { setTimeout as sleep } from 'node:timers/promises';
import { readOptions } from './options.ts';
import { cpuSeconds, freePort, memory, startPinned, stop, type Pinned } from './processes.ts';
import { median, textTable, type Column, type Table } from './report.ts';
import { NODE_TLS_TUNNEL, onNodePlane, tunnelServer, type TunnelBuild } from './subjects.ts';

export interface FootprintRequest {
  readonly port: number;
  readonly certDir: string;
  /** A plain echo backend. */
  readonly targetPort: number;
}

/** A process whose footprint is measured: ours, or a bare Node.js to compare with. */
export interface FootprintSubject {
  readonly id: string;
  readonly label: string;
  /**
   * The process whose idle memory is read, a second after it is ready: once it listens on req.port,
   * or (`listens` false) once it has written READY on stderr.
   */
  readonly idle: { readonly command: (req: FootprintRequest) => readonly string[]; readonly listens: boolean };
  /** A process serving TLS on req.port towards req.targetPort, whose start-up is timed (none: not timed). */
  readonly serve?: (req: FootprintRequest) => readonly string[];
  /** The same with a status port answering GET /_status (none: it has none). */
  readonly serveWithStatus?: (req: FootprintRequest, statusPort: number) => readonly string[];
}

export interface FootprintFigures {
  /** Idle: VmRSS, RssAnon and RssFile from /proc/PID/status, a second after it listens. */
  readonly rssKiB: number;
  readonly anonKiB: number;
  readonly fileKiB: number;
  /** Each start's exec → first byte echoed through a completed mTLS handshake. */
  readonly firstHandshake: readonly StartTime[];
  /** Each start's exec → first answer of GET /_status. */
  readonly status: readonly StartTime[];
}

/** How long a start took, and what of it the machine's other work decided. */
export interface StartTime {
  /** Wall time from the spawn, ms. */
  readonly ms: number;
  /** The main thread's time waiting for a CPU meanwhile (/proc/PID/schedstat), ms: other work's share. */
  readonly waitMs: number;
  /** CPU time of every thread, ms (/proc/PID/stat, clock ticks). */
  readonly cpuMs: number;
}

/** The rows this adds to the bench's footprint table: label, value, digits, our target. */
export const FOOTPRINT_ROWS: ReadonlyArray<{ label: string; value: (f: FootprintFigures) => number | undefined; digits: number; target?: { text: string; met: (v: number) => boolean } }> = [
  { label: 'resident, idle (MiB)', value: (f) => f.rssKiB / 1024, digits: 1, target: { text: '≤ 48', met: (v) => v <= 48 } },
  { label: '↳ private anonymous (MiB)', value: (f) => f.anonKiB / 1024, digits: 1, target: { text: '≤ 11', met: (v) => v <= 11 } },
  { label: '↳ file-backed (MiB)', value: (f) => f.fileKiB / 1024, digits: 1 },
  { label: 'exec → first handshake (ms, median of starts)', value: (f) => median(f.firstHandshake.map((t) => t.ms)), digits: 0, target: { text: '≤ 100', met: (v) => v <= 100 } },
  { label: '↳ less the main thread\'s wait for a CPU (ms)', value: (f) => median(f.firstHandshake.map((t) => t.ms - t.waitMs)), digits: 0 },
  { label: '↳ CPU time, all threads (ms)', value: (f) => median(f.firstHandshake.map((t) => t.cpuMs)), digits: 0 },
  { label: 'exec → status port answers (ms, median)', value: (f) => median(f.status.map((t) => t.ms)), digits: 0, target: { text: '≤ 100', met: (v) => v <= 100 } },
  { label: '↳ less the main thread\'s wait for a CPU (ms)', value: (f) => median(f.status.map((t) => t.ms - t.waitMs)), digits: 0 },
];

const NODE = process.execPath;
const IDLE_SETTLE_MS = 1000;
const START_TIMEOUT_MS = 20_000;

/** Says it is up (node:fs is loaded at start anyway) and idles. */
export const BARE_NODE = "require('node:fs').writeSync(2, 'READY\\n'); setInterval(() => {}, 1 << 30);";

/** A bare Node.js doing nothing: what any Node.js program costs before it does anything. */
export function bareNode(): FootprintSubject {
  return { id: 'bare-node', label: 'bare Node.js', idle: { command: () => [NODE, '-e', BARE_NODE], listens: false } };
}

export function nodeTlsTunnel(): FootprintSubject {
  const command = (req: FootprintRequest): string[] => [NODE, '-e', NODE_TLS_TUNNEL, String(req.port), req.certDir, String(req.targetPort)];
  return { id: 'node-tls', label: 'Node.js TLS tunnel (node:tls)', idle: { command, listens: true }, serve: command };
}

/** Our tunnel in server mode with the bench's flags (--allow-all), as bench/subjects.ts starts it. */
export function tunnelFootprint(build: TunnelBuild, id: string): FootprintSubject {
  const server = tunnelServer(build, id);
  const command = (req: FootprintRequest): readonly string[] => server.command({ port: req.port, service: 'echo', certDir: req.certDir, targetPort: req.targetPort });
  return {
    id,
    label: build.label,
    idle: { command, listens: true },
    serve: command,
    serveWithStatus: (req, statusPort) => [...command(req), '--status', `127.0.0.1:${statusPort}`],
  };
}

/** Whether a TCP socket listens on 127.0.0.1:port (from /proc/net/tcp: no connection made). */
function listening(port: number): boolean {
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  return readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .some((line) => {
      const f = line.trim().split(/\s+/);
      return f[1] === local && f[3] === '0A';
    });
}

async function untilListening(p: Pinned, port: number): Promise<void> {
  const until = Date.now() + START_TIMEOUT_MS;
  while (!listening(port)) {
    if (p.exit !== undefined) throw new Error(`${p.name} exited (${p.exit}) before listening; ${p.logPath}`);
    if (Date.now() > until) throw new Error(`${p.name} did not listen within ${START_TIMEOUT_MS} ms; ${p.logPath}`);
    await sleep(5);
  }
}

/** The client's credentials, read once (the poller runs every millisecond). */
export interface ClientFiles {
  readonly ca: Buffer;
  readonly cert: Buffer;
  readonly key: Buffer;
}

export function clientFiles(certDir: string): ClientFiles {
  const file = (n: string): Buffer => readFileSync(join(certDir, n));
  return { ca: file('ca.crt'), cert: file('client.crt'), key: file('client.key') };
}

export async function untilReady(p: Pinned): Promise<void> {
  const until = Date.now() + START_TIMEOUT_MS;
  while (!readFileSync(p.logPath, 'utf8').includes('READY')) {
    if (p.exit !== undefined) throw new Error(`${p.name} exited (${p.exit}) before it was ready; ${p.logPath}`);
    if (Date.now() > until) throw new Error(`${p.name} was not ready within ${START_TIMEOUT_MS} ms; ${p.logPath}`);
    await sleep(5);
  }
}

/** One attempt at what a client of the tunnel wants: an mTLS handshake, one byte through and back. */
export function echoOnce(port: number, files: ClientFiles): Promise<boolean> {
  return new Promise((done) => {
    const s = connect({ host: '127.0.0.1', port, servername: 'localhost', ...files });
    const finish = (ok: boolean): void => {
      s.destroy();
      done(ok);
    };
    s.once('secureConnect', () => s.write('x'));
    s.once('data', () => finish(true));
    s.once('error', () => finish(false));
    s.once('close', () => finish(false));
  });
}

function statusOnce(port: number, files: ClientFiles): Promise<boolean> {
  return new Promise((done) => {
    const req = request({ host: '127.0.0.1', port, path: '/_status', servername: 'localhost', ca: files.ca, agent: false }, (res) => {
      res.resume();
      done(true);
    });
    req.once('error', () => done(false));
    req.end();
  });
}

/** The main thread's wait for a CPU so far (/proc/PID/schedstat: on-CPU ns, run-queue ns, slices), ms. */
function runQueueMs(pid: number): number {
  return Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[1]) / 1e6;
}

/** Starts a process and retries `attempt` every millisecond until it succeeds. */
async function timeStart(name: string, command: readonly string[], settings: FootprintSettings, logPath: string, env: NodeJS.ProcessEnv, attempt: () => Promise<boolean>): Promise<StartTime> {
  const [cmd, ...args] = settings.realtime ? realtimeCommand(command) : command;
  const cpus = settings.cpus;
  const t0 = performance.now();
  const p = startPinned(name, cpus, cmd!, args, logPath, env);
  try {
    for (;;) {
      if (await attempt()) return { ms: performance.now() - t0, waitMs: runQueueMs(p.pid), cpuMs: cpuSeconds(p.pid) * 1000 };
      if (p.exit !== undefined) throw new Error(`${name} exited (${p.exit}) before serving; ${logPath}`);
      if (performance.now() - t0 > START_TIMEOUT_MS) throw new Error(`${name} did not serve within ${START_TIMEOUT_MS} ms; ${logPath}`);
      await sleep(1);
    }
  } finally {
    await stop(p);
  }
}

export interface FootprintSettings {
  /** Starts per subject per round for each start-up figure. */
  readonly starts: number;
  /** The CPUs the subjects run on (`taskset -c`). */
  readonly cpus: string;
  readonly logDir: string;
  /**
   * Timed starts run under SCHED_FIFO (`chrt -f`), and this process too meanwhile (it polls and
   * echoes): ahead of every ordinary process, so that a start is timed as on an idle machine while
   * other work shares it. Needs root (see realtimeAllowed).
   */
  readonly realtime: boolean;
}

/** Low among real-time priorities: kernel threads that need to run still do. */
const RT_PRIORITY = 10;

/** `command` started under SCHED_FIFO. */
export function realtimeCommand(command: readonly string[]): string[] {
  return ['chrt', '-f', String(RT_PRIORITY), ...command];
}

/** Whether starts can be timed under SCHED_FIFO: root, and FOOTPRINT_RT is not 0. */
export function realtimeAllowed(): boolean {
  return process.getuid?.() === 0 && process.env.FOOTPRINT_RT !== '0';
}

/** Every thread of this process under SCHED_FIFO, or back to the ordinary policy. */
export function schedule(realtime: boolean): void {
  execFileSync('chrt', ['-a', ...(realtime ? ['-f', '-p', String(RT_PRIORITY)] : ['-o', '-p', '0']), String(process.pid)], { stdio: 'ignore' });
}

/**
 * One round: each subject's idle memory, then `starts` timed starts of each (A B A B …: the figures
 * compared are taken moments apart), with and without a status port.
 */
export async function footprintRound(subjects: readonly FootprintSubject[], env: (s: FootprintSubject) => NodeJS.ProcessEnv, req: Omit<FootprintRequest, 'port'>, settings: FootprintSettings): Promise<Map<string, FootprintFigures>> {
  const out = new Map<string, { mem: ReturnType<typeof memory> & { fileKiB: number }; hs: StartTime[]; st: StartTime[] }>();
  const files = clientFiles(req.certDir);
  const log = (s: FootprintSubject, what: string): string => join(settings.logDir, `footprint-${s.id}-${what}.log`);
  for (const s of subjects) {
    const port = await freePort();
    const [cmd, ...args] = s.idle.command({ ...req, port });
    rmSync(log(s, 'idle'), { force: true });
    const p = startPinned(s.id, settings.cpus, cmd!, args, log(s, 'idle'), env(s));
    try {
      await (s.idle.listens ? untilListening(p, port) : untilReady(p));
      await sleep(IDLE_SETTLE_MS);
      out.set(s.id, { mem: { ...memory(p.pid), fileKiB: fileKiB(p.pid) }, hs: [], st: [] });
    } finally {
      await stop(p);
    }
  }
  if (settings.realtime) schedule(true);
  try {
    for (let i = 0; i < settings.starts; i++) {
      for (const s of subjects) {
        const figures = out.get(s.id)!;
        if (s.serve) {
          const port = await freePort();
          figures.hs.push(await timeStart(s.id, s.serve({ ...req, port }), settings, log(s, 'start'), env(s), () => echoOnce(port, files)));
        }
        if (s.serveWithStatus) {
          const [port, statusPort] = [await freePort(), await freePort()];
          figures.st.push(await timeStart(s.id, s.serveWithStatus({ ...req, port }, statusPort), settings, log(s, 'status'), env(s), () => statusOnce(statusPort, files)));
        }
      }
    }
  } finally {
    if (settings.realtime) schedule(false);
  }
  return new Map([...out].map(([id, f]) => [id, { rssKiB: f.mem.rssKiB, anonKiB: f.mem.anonKiB, fileKiB: f.mem.fileKiB, firstHandshake: f.hs, status: f.st }]));
}

function fileKiB(pid: number): number {
  const m = /^RssFile:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0);
}

/** The footprint table: medians over rounds (every round's value in `spread`), with our targets and verdicts. */
export function footprintTable(subjects: readonly Column[], rounds: ReadonlyMap<string, readonly FootprintFigures[]>, ours: readonly string[]): Table {
  const headings = ['', ...subjects.map((s) => s.label), 'target'];
  const rows: string[][] = [];
  const spread: string[][] = [];
  const verdicts: string[] = [];
  for (const r of FOOTPRINT_ROWS) {
    const values = subjects.map((s) => (rounds.get(s.id) ?? []).map(r.value));
    const medians = values.map((v) => median(v.filter((x): x is number => x !== undefined)));
    rows.push([r.label, ...medians.map((m) => (m === undefined ? '—' : m.toFixed(r.digits))), r.target?.text ?? '']);
    spread.push([r.label, ...values.map((v) => v.map((x) => (x === undefined ? '—' : x.toFixed(r.digits))).join(' / '))]);
    subjects.forEach((s, i) => {
      const m = medians[i];
      if (r.target && ours.includes(s.id) && m !== undefined) verdicts.push(`${s.label} · ${r.label.replace(/^↳ /, '')}: ${r.target.met(m) ? 'meets' : 'misses'} ${r.target.text} (${m.toFixed(r.digits)})`);
    });
  }
  return { title: 'Footprint: an idle server tunnel and its start-up, beside Node.js', headings, rows, spread, verdicts };
}

/** The subjects of the bench's footprint rows: a bare Node.js, a Node.js TLS tunnel, our builds. */
export function footprintSubjects(builds: ReadonlyArray<{ readonly build: TunnelBuild; readonly id: string }>): FootprintSubject[] {
  return [bareNode(), nodeTlsTunnel(), ...builds.map(({ build, id }) => tunnelFootprint(build, id))];
}

/** An echo backend in this process, for a run outside the bench. */
export async function echoBackend(): Promise<{ server: Server; port: number }> {
  const server = createServer((s) => {
    s.on('error', () => s.destroy());
    s.pipe(s);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as { port: number }).port };
}

/** ECDSA P-256 credentials as the bench's (CA, server for localhost and 127.0.0.1, client), made with openssl. */
export function makeCerts(dir: string): void {
  mkdirSync(dir, { recursive: true });
  const ssl = (...args: string[]): void => void execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'];
  ssl('req', '-x509', '-nodes', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '30', '-subj', '/CN=footprint-ca', '-addext', 'basicConstraints=critical,CA:TRUE');
  for (const [name, san] of [['server', 'DNS:localhost,IP:127.0.0.1'], ['client', 'DNS:client.local']] as const) {
    ssl('req', '-nodes', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`, '-addext', `subjectAltName=${san}`);
    ssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.crt`, '-days', '30', '-copy_extensions', 'copy');
  }
}

async function main(): Promise<void> {
  const root = resolve(import.meta.dirname, '..');
  const out = join(root, 'bench', 'out');
  const options = readOptions(root);
  const entry = process.argv[2] ? resolve(process.argv[2]) : join(root, 'dist', 'main.cjs');
  const rounds = Number(process.env.FOOTPRINT_ROUNDS ?? 3);
  const starts = Number(process.env.FOOTPRINT_STARTS ?? 10);
  const certDir = join(out, 'footprint-certs');
  makeCerts(certDir);
  const logDir = join(out, 'logs', `footprint-${new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19)}`);
  mkdirSync(logDir, { recursive: true });
  const tunnel = { ...options.tunnel, entry };
  const builds = [{ build: tunnel, id: 'tunnel' }, { build: onNodePlane(tunnel), id: 'tunnel-node' }, ...options.alternatives.map((build, i) => ({ build, id: `alt${i + 1}` }))];
  const subjects = footprintSubjects(builds);
  const envOf = new Map(builds.map((b) => [b.id, b.build.env]));
  const backend = await echoBackend();
  const all = new Map<string, FootprintFigures[]>(subjects.map((s) => [s.id, []]));
  try {
    for (let round = 1; round <= rounds; round++) {
      const figures = await footprintRound(subjects, (s) => envOf.get(s.id) ?? {}, { certDir, targetPort: backend.port }, { starts, cpus: process.env.FOOTPRINT_CPUS ?? '1', logDir, realtime: realtimeAllowed() });
      for (const [id, f] of figures) all.get(id)!.push(f);
      console.log(`round ${round}/${rounds}: ${[...figures].map(([id, f]) => `${id} ${(f.rssKiB / 1024).toFixed(1)}/${(f.anonKiB / 1024).toFixed(1)} MiB ${median(f.firstHandshake.map((t) => t.ms))?.toFixed(0) ?? '—'}/${median(f.status.map((t) => t.ms))?.toFixed(0) ?? '—'} ms`).join(' · ')}`);
    }
  } finally {
    backend.server.close();
  }
  const table = footprintTable(subjects, all, builds.map((b) => b.id));
  console.log(`\n${textTable(`${table.title}: medians of ${rounds} rounds, ${starts} starts each (load average at the end: ${(await import('node:os')).loadavg().map((l) => l.toFixed(1)).join(' ')})`, table.headings, table.rows)}`);
  for (const v of table.verdicts) console.log(`  ${v}`);
}

if (import.meta.main) {
  main().catch((err: Error) => {
    console.error(`footprint: ${err.message}`);
    process.exit(1);
  });
}
