// Where a sidecar's footprint goes (issue 23; the tables in docs/performance.md): the resident
// memory of an idle server tunnel (default flags) by cause, and its start-up by phase.
//   node bench/footprint-where.ts [ENTRY]     (default dist/main.cjs: `npm run build` first)
// Memory: a ladder of processes, each adding one cause to the one before (Node.js alone, the data
// plane's addon, OpenSSL's context from the credentials, node:crypto's parse of them, the daemon),
// and the daemon's own mappings (/proc/PID/smaps) and V8 heap. Start-up: starts with the sandbox
// on and off taking turns, timed at each milestone src/startup.ts publishes (bench/footprint-probe.cjs
// records them): wall time, the main thread's CPU time, and wall time less the main thread's wait
// for a CPU (what other work on the machine added).
import { readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadavg } from 'node:os';
import { BARE_NODE, clientFiles, echoBackend, echoOnce, makeCerts, realtimeAllowed, realtimeCommand, schedule, untilReady } from './footprint.ts';
import { freePort, memory, startPinned, stop, type Pinned } from './processes.ts';
import { median, textTable } from './report.ts';

const ROOT = resolve(import.meta.dirname, '..');
const OUT = join(ROOT, 'bench', 'out');
const PROBE = join(import.meta.dirname, 'footprint-probe.cjs');
const ADDON = join(ROOT, 'build', 'Release', 'ghostunnel_engine.node');
const CPUS = process.env.FOOTPRINT_CPUS ?? '1';
const SETTLE_MS = 1000;

interface Resident {
  readonly rssKiB: number;
  readonly anonKiB: number;
  readonly fileKiB: number;
}

function resident(pid: number): Resident {
  const { rssKiB, anonKiB } = memory(pid);
  return { rssKiB, anonKiB, fileKiB: rssKiB - anonKiB };
}

/** Resident KiB of each mapping (by path; anonymous ones as [anon], [heap], [stack]). */
function mappings(pid: number): Map<string, Resident> {
  const out = new Map<string, { rss: number; anon: number }>();
  let current = '[anon]';
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      current = head[1] === '' ? '[anon]' : head[1]!;
      continue;
    }
    const field = /^(Rss|Anonymous):\s+(\d+) kB/.exec(line);
    if (!field) continue;
    const m = out.get(current) ?? { rss: 0, anon: 0 };
    if (field[1] === 'Rss') m.rss += Number(field[2]);
    else m.anon += Number(field[2]);
    out.set(current, m);
  }
  return new Map([...out].map(([k, v]) => [k, { rssKiB: v.rss, anonKiB: v.anon, fileKiB: v.rss - v.anon }]));
}

/** The ladder's steps: each a Node.js script adding one cause to the previous step's. */
function ladder(certDir: string): Array<{ label: string; script: string }> {
  const read = (n: string): string => `require('node:fs').readFileSync(${JSON.stringify(join(certDir, n))}, 'latin1')`;
  const addon = `const addon = require(${JSON.stringify(ADDON)});`;
  const context = `addon.createContext({ server: true, chain: ${read('server.crt')}, key: ${read('server.key')}, cas: [${read('ca.crt')}], caNames: true, requireCertificate: true,
    minVersion: 0x0303, maxVersion: 0x0304, ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384', suites: 'TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256',
    groups: '*X25519MLKEM768:*X25519:P-256:P-384:P-521', sessionIdContext: 'ghostunnel', ticketKeys: Buffer.alloc(80, 1) });`;
  const parse = `const c = require('node:crypto'); new c.X509Certificate(${read('server.crt')}); new c.X509Certificate(${read('ca.crt')}); c.createPrivateKey(${read('server.key')});`;
  const idle = BARE_NODE;
  return [
    { label: 'Node.js itself (`node -e "setInterval(…)"`)', script: idle },
    { label: '+ the data plane’s addon loaded (build/Release/ghostunnel_engine.node)', script: `${addon} ${idle}` },
    { label: '+ its TLS context from the credentials (OpenSSL: providers, context, key, CA)', script: `${addon} ${context} ${idle}` },
    { label: '+ node:crypto parsing them (X509Certificate, createPrivateKey), as the daemon does', script: `${addon} ${context} ${parse} ${idle}` },
  ];
}

interface Phase {
  readonly phase: string;
  readonly sandboxed: boolean;
  readonly ns: bigint;
  readonly cpuMs: number;
  readonly waitMs: number;
}

function phasesIn(logPath: string): Phase[] {
  return readFileSync(logPath, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('footprint-phase '))
    .map((l) => {
      const p = JSON.parse(l.slice('footprint-phase '.length)) as Omit<Phase, 'ns'> & { ns: string };
      return { ...p, ns: BigInt(p.ns) };
    });
}

function tunnelArgs(entry: string, port: number, targetPort: number, certDir: string, extra: readonly string[]): string[] {
  const f = (n: string): string => join(certDir, n);
  return [process.execPath, '--require', PROBE, entry, 'server', '--listen', `127.0.0.1:${port}`, '--target', `127.0.0.1:${targetPort}`, '--cert', f('server.crt'), '--key', f('server.key'), '--cacert', f('ca.crt'), '--allow-all', ...extra];
}

async function untilLine(p: Pinned, pattern: RegExp): Promise<void> {
  for (const until = Date.now() + 20_000; Date.now() < until; await sleep(5)) {
    if (pattern.test(readFileSync(p.logPath, 'utf8'))) return;
    if (p.exit !== undefined) throw new Error(`${p.name} exited (${p.exit}); ${p.logPath}`);
  }
  throw new Error(`${p.name}: no ${pattern} within 20 s; ${p.logPath}`);
}

async function memoryByCause(entry: string, certDir: string, targetPort: number, logDir: string): Promise<void> {
  const rows: string[][] = [];
  let previous: Resident | undefined;
  const row = (label: string, r: Resident): void => {
    const d = (now: number, before: number | undefined): string => (before === undefined ? '' : ` (${now - before >= 0 ? '+' : ''}${((now - before) / 1024).toFixed(1)})`);
    rows.push([label, ...(['rssKiB', 'anonKiB', 'fileKiB'] as const).map((k) => `${(r[k] / 1024).toFixed(1)}${d(r[k], previous?.[k])}`)]);
    previous = r;
  };
  for (const [i, step] of ladder(certDir).entries()) {
    const p = startPinned(`ladder${i}`, CPUS, process.execPath, ['-e', step.script], join(logDir, `ladder${i}.log`));
    await untilReady(p);
    await sleep(SETTLE_MS);
    row(step.label, resident(p.pid));
    await stop(p);
  }
  const port = await freePort();
  const [cmd, ...args] = tunnelArgs(entry, port, targetPort, certDir, []);
  const p = startPinned('tunnel', CPUS, cmd!, args, join(logDir, 'tunnel-idle.log'));
  try {
    await untilLine(p, /footprint-phase \{"phase":"listening"/);
    await sleep(SETTLE_MS);
    const daemon = resident(p.pid);
    const maps = mappings(p.pid);
    row('ghostunnel-ts, idle server tunnel (default flags)', daemon);
    await untilLine(p, /^footprint-heap /m);
    const heap = JSON.parse(/^footprint-heap (.*)$/m.exec(readFileSync(p.logPath, 'utf8'))![1]!) as { spaces: Record<string, number>; heapUsed: number; bytecodeAndMetadata: number; code: number };
    console.log(`\n${textTable('Resident memory by cause, MiB (each step adds to the one above; difference in brackets)', ['', 'resident', 'private anonymous', 'file-backed'], rows)}`);
    const mib = (kib: number): string => (kib / 1024).toFixed(1);
    const byName = (test: (name: string) => boolean): Resident =>
      [...maps].filter(([name]) => test(name)).reduce((a, [, r]) => ({ rssKiB: a.rssKiB + r.rssKiB, anonKiB: a.anonKiB + r.anonKiB, fileKiB: a.fileKiB + r.fileKiB }), { rssKiB: 0, anonKiB: 0, fileKiB: 0 });
    const node = byName((n) => n === process.execPath);
    const engine = byName((n) => n.endsWith('ghostunnel_engine.node'));
    const koffi = byName((n) => /koffi.*\.node$/.test(n));
    const pkcs11 = byName((n) => /pkcs11.*\.node$/.test(n));
    const libs = byName((n) => n.startsWith('/') && n !== process.execPath && !n.endsWith('.node'));
    const anon = byName((n) => n === '[anon]' || n === '[heap]' || n === '[stack]');
    const v8Heap = Object.values(heap.spaces).reduce((a, b) => a + b, 0) / 1024;
    const mapRows = [
      ['the node executable (code and read-only data touched)', mib(node.rssKiB), mib(node.anonKiB)],
      ['build/Release/ghostunnel_engine.node', mib(engine.rssKiB), mib(engine.anonKiB)],
      ['koffi', mib(koffi.rssKiB), mib(koffi.anonKiB)],
      ['pkcs11js', mib(pkcs11.rssKiB), mib(pkcs11.anonKiB)],
      ['shared libraries (libc, libstdc++, libm, ld.so…)', mib(libs.rssKiB), mib(libs.anonKiB)],
      ['anonymous memory ([heap], [anon], stacks)', mib(anon.rssKiB), mib(anon.anonKiB)],
      [`↳ of which V8's heap (physical size of its spaces; ${mib(heap.heapUsed / 1024)} MiB in use)`, mib(v8Heap), mib(v8Heap)],
      ['↳ of which the rest: malloc (OpenSSL, Node.js, the engine), thread stacks, V8 outside its heap', mib(anon.rssKiB - v8Heap), mib(anon.anonKiB - v8Heap)],
    ];
    console.log(`\n${textTable('The idle daemon by mapping, MiB (/proc/PID/smaps)', ['', 'resident', 'of which anonymous'], mapRows)}`);
    console.log(`V8 heap spaces (KiB): ${Object.entries(heap.spaces).filter(([, v]) => v > 0).map(([k, v]) => `${k} ${(v / 1024).toFixed(0)}`).join(', ')}; bytecode and metadata ${(heap.bytecodeAndMetadata / 1024).toFixed(0)} KiB, compiled code ${(heap.code / 1024).toFixed(0)} KiB`);
  } finally {
    await stop(p);
  }
}

/** Start-up phases: the milestones in order, and what each span is called. */
const SPANS: ReadonlyArray<{ from: string; to: string; label: string }> = [
  { from: 'spawn', to: 'node', label: 'Node.js starts (exec, dynamic linking, V8 and Node.js bootstrap)' },
  { from: 'node', to: 'parsed', label: 'our bundle loaded, command line (and --config) parsed' },
  { from: 'parsed', to: 'exec', label: 'configuration built, sandbox allowances computed' },
  { from: 'exec', to: 'node2', label: 'the sandbox’s re-execution: Node.js starts again' },
  { from: 'node2', to: 'parsed2', label: 'bundle loaded and command line parsed again' },
  { from: 'parsed2', to: 'modules', label: 'the daemon’s modules evaluated (their part of the bundle)' },
  { from: 'modules', to: 'credentials', label: 'credentials read and parsed, TLS context built' },
  { from: 'credentials', to: 'listening', label: 'listener bound, the engine accepting' },
  { from: 'listening', to: 'served', label: 'first mTLS handshake completed and a byte echoed (client side)' },
];

interface Milestone {
  readonly ns: bigint;
  readonly cpuMs: number;
  readonly waitMs: number;
}

/** One timed start: each milestone, named as in SPANS (the sandboxed image's second "node" and "parsed" get a 2). */
async function timedStart(entry: string, certDir: string, targetPort: number, extra: readonly string[], logPath: string): Promise<Map<string, Milestone>> {
  const files = clientFiles(certDir);
  const port = await freePort();
  const [cmd, ...args] = realtimeAllowed() ? realtimeCommand(tunnelArgs(entry, port, targetPort, certDir, extra)) : tunnelArgs(entry, port, targetPort, certDir, extra);
  rmSync(logPath, { force: true });
  const spawned = process.hrtime.bigint();
  const p = startPinned('tunnel', CPUS, cmd!, args, logPath);
  try {
    for (;;) {
      if (await echoOnce(port, files)) break;
      if (p.exit !== undefined) throw new Error(`tunnel exited (${p.exit}); ${logPath}`);
      await sleep(1);
    }
    const served = process.hrtime.bigint();
    // The main thread's on-CPU and run-queue time (ns), as the probe reads them for the other milestones.
    const [onCpuNs, waitNs] = readFileSync(`/proc/${p.pid}/schedstat`, 'utf8').split(' ').map(Number);
    const marks = new Map<string, Milestone>([['spawn', { ns: spawned, cpuMs: 0, waitMs: 0 }]]);
    for (const ph of phasesIn(logPath)) {
      const name = ph.sandboxed && (ph.phase === 'node' || ph.phase === 'parsed') ? `${ph.phase}2` : ph.phase;
      marks.set(name, ph);
    }
    marks.set('served', { ns: served, cpuMs: onCpuNs! / 1e6, waitMs: waitNs! / 1e6 });
    return marks;
  } finally {
    await stop(p);
  }
}

async function startupByPhase(entry: string, certDir: string, targetPort: number, logDir: string, starts: number): Promise<void> {
  const runs = { on: [] as Array<Map<string, Milestone>>, off: [] as Array<Map<string, Milestone>> };
  // Under SCHED_FIFO when allowed (bench/footprint.ts): timed as on an idle machine.
  if (realtimeAllowed()) schedule(true);
  try {
    for (let i = 0; i < starts; i++) {
      runs.on.push(await timedStart(entry, certDir, targetPort, [], join(logDir, `start-on-${i}.log`)));
      runs.off.push(await timedStart(entry, certDir, targetPort, ['--disable-landlock'], join(logDir, `start-off-${i}.log`)));
    }
  } finally {
    if (realtimeAllowed()) schedule(false);
  }
  const span = (m: Map<string, Milestone>, from: string, to: string): { wall: number; cpu: number; unloaded: number } | undefined => {
    // With the sandbox off there is no exec: the one image's milestones stand for both.
    const a = m.get(from) ?? m.get(from.replace(/2$/, ''));
    const b = m.get(to) ?? m.get(to.replace(/2$/, ''));
    if (a === undefined || b === undefined || a === b) return undefined;
    const wall = Number(b.ns - a.ns) / 1e6;
    return { wall, cpu: b.cpuMs - a.cpuMs, unloaded: wall - (b.waitMs - a.waitMs) };
  };
  const cell = (list: Array<Map<string, Milestone>>, from: string, to: string): string => {
    const s = list.map((m) => span(m, from, to)).filter((x): x is NonNullable<typeof x> => x !== undefined);
    if (s.length === 0) return '—';
    return `${median(s.map((x) => x.wall))!.toFixed(0)} / ${median(s.map((x) => x.cpu))!.toFixed(0)} / ${median(s.map((x) => x.unloaded))!.toFixed(0)}`;
  };
  const rows = SPANS.map(({ from, to, label }) => [label, cell(runs.on, from, to), cell(runs.off, from, to)]);
  rows.push(['exec → first handshake', cell(runs.on, 'spawn', 'served'), cell(runs.off, 'spawn', 'served')]);
  const how = realtimeAllowed() ? 'under SCHED_FIFO, ' : '';
  console.log(`\n${textTable(`Start-up by phase, medians of ${starts} starts each, ${how}pinned to CPU ${CPUS} (ms: wall / main thread's CPU / wall less its wait for a CPU)`, ['', 'sandbox on (default)', '--disable-landlock'], rows)}`);
}

async function main(): Promise<void> {
  const entry = resolve(process.argv[2] ?? join(ROOT, 'dist', 'main.cjs'));
  const starts = Number(process.env.FOOTPRINT_STARTS ?? 10);
  const certDir = join(OUT, 'footprint-certs');
  makeCerts(certDir);
  const logDir = join(OUT, 'logs', `footprint-where-${new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19)}`);
  (await import('node:fs')).mkdirSync(logDir, { recursive: true });
  const backend = await echoBackend();
  const load = (): string => loadavg().map((l) => l.toFixed(1)).join(' ');
  console.log(`footprint-where: ${entry}, Node.js ${process.version}, load average ${load()} at the start`);
  try {
    await memoryByCause(entry, certDir, backend.port, logDir);
    await startupByPhase(entry, certDir, backend.port, logDir, starts);
  } finally {
    backend.server.close();
  }
  console.log(`load average ${load()} at the end; logs in ${logDir}`);
}

main().catch((err: Error) => {
  console.error(`footprint-where: ${err.message}`);
  process.exit(1);
});
