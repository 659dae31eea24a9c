// npm run bench: our tunnel against stunnel, HAProxy and a direct TLS echo, per core, in
// alternating rounds; prints medians and ratios and writes docs/performance.md. See bench/README.md.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { makeCertDir } from './certs.ts';
import { footprintRound, footprintSubjects, footprintTable, realtimeAllowed, type FootprintFigures } from './footprint.ts';
import { buildLoadgen, Loadgen } from './loadgen.ts';
import { loadAverage, machineFacts } from './machine.ts';
import { Backends, RoundRunner, type CertDirs, type RoundFigures } from './measure.ts';
import { BUILD_ROOT, COMPILED_DIR, HELP, readOptions } from './options.ts';
import { killAll } from './processes.ts';
import { buildTable, markdownSection, textTable, writeDocs, type Column, type RunFacts, type Table, type TargetSet } from './report.ts';
import { allSubjects, onNodePlane, type Subject } from './subjects.ts';

const ROOT = resolve(import.meta.dirname, '..');
const OUT = join(ROOT, 'bench', 'out');

function makeCerts(): CertDirs {
  return { ec: makeCertDir(join(OUT, 'certs-ec'), 'ec'), rsa: makeCertDir(join(OUT, 'certs-rsa'), 'rsa') };
}

/**
 * Builds src/ as `npm run build` does (scripts/build.mjs) into bench/out/build/dist, so the bench
 * measures the JavaScript that bin/ghostunnel runs (type stripping alone costs ~30 MB of RSS). The
 * build root mirrors the package (package.json, proto/ beside dist/) for the files the code reads
 * from the package root.
 */
function compileTunnel(): void {
  const buildRoot = join(ROOT, BUILD_ROOT);
  rmSync(buildRoot, { recursive: true, force: true });
  mkdirSync(buildRoot, { recursive: true });
  for (const entry of ['package.json', 'proto', 'build']) {
    if (existsSync(join(ROOT, entry))) symlinkSync(join(ROOT, entry), join(buildRoot, entry));
  }
  execFileSync(process.execPath, [join(ROOT, 'scripts', 'build.mjs'), join(ROOT, COMPILED_DIR)], { stdio: ['ignore', 'inherit', 'inherit'] });
}

function summary(f: RoundFigures): string {
  const n = (v: number | undefined, d = 0): string => (v === undefined ? '—' : v.toFixed(d));
  return [
    `hs ${n(f.hsEc?.perS)}/s (p99 ${n(f.hsEc?.p99Ms, 1)} ms)`,
    `rsa ${n(f.hsRsa?.perS)}/s`,
    `rr ${n(f.rr?.perS)}/s (p99 ${n(f.rr?.p99Ms, 2)} ms)`,
    `bulk ${n(f.bulk?.MBps)} MB/s`,
    `${n(f.idle?.kibPerConn, 1)} KiB/conn`,
    `base ${n(f.idle ? f.idle.baseRssKiB / 1024 : undefined, 1)} MiB`,
    ...(f.reload ? [`reload p99 ${n(f.reload.p99Ms, 1)} ms`] : []),
  ].join(' · ');
}

/** Everything a run measured, as saved in bench/out/results-*.json; enough to render it again. */
interface SavedRun {
  readonly facts: RunFacts;
  readonly subjects: ReadonlyArray<Column & { readonly mode: Subject['mode'] }>;
  readonly results: Readonly<Record<string, RoundFigures[]>>;
  /** A full default run: its tables belong in docs/performance.md. */
  readonly fullDefaultRun: boolean;
  /** The footprint rows' subjects and figures per round (absent in older results). */
  readonly footprint?: { readonly subjects: readonly Column[]; readonly ours: readonly string[]; readonly results: Readonly<Record<string, FootprintFigures[]>> };
}

/** Prints the tables, writes bench/out/report-*.md, and docs/performance.md when `docs` says so. */
function render(saved: SavedRun, stamp: string, docs: boolean): void {
  const results = new Map(Object.entries(saved.results));
  // Which targets each of ours is held to: the engine's (issue 9), or the portable plane's (issue 21).
  const ours = new Map<string, TargetSet>([
    ['tunnel', 'engine'],
    ['tunnel-client', 'engine'],
    ['tunnel-node', 'portable'],
    ['tunnel-client-node', 'portable'],
  ]);
  const { settings, rounds } = saved.facts;
  const server = saved.subjects.filter((s) => s.mode === 'server');
  const client = saved.subjects.filter((s) => s.mode === 'client');
  const tables: Table[] = [buildTable('Server mode (TLS in, plain out)', server, results, settings, ours)];
  if (client.length > 0) {
    const direct = saved.subjects.filter((s) => s.id === 'direct');
    tables.push(buildTable('Client mode (plain in, TLS out; loadgen dials the tunnel in plain TCP)', [...direct, ...client], results, settings, ours));
  }
  if (saved.footprint) tables.push(footprintTable(saved.footprint.subjects, new Map(Object.entries(saved.footprint.results)), saved.footprint.ours));
  for (const t of tables) {
    if (rounds > 1) console.log(`\n${textTable(`${t.title}: every round`, t.headings.slice(0, t.spread[0]?.length ?? 0), t.spread)}`);
    const ratios = t.headings.some((h) => h === 'direct TLS echo') ? ' (ratio to the direct echo)' : '';
    console.log(`\n${textTable(`${t.title}: medians${ratios}`, t.headings, t.rows)}`);
    for (const v of t.verdicts) console.log(`  ${v}`);
  }
  const section = markdownSection(saved.facts, tables);
  const report = join(OUT, `report-${stamp}.md`);
  writeFileSync(report, section);
  if (docs) {
    writeDocs(join(ROOT, 'docs', 'performance.md'), section);
    console.log('\nwrote docs/performance.md');
  } else {
    console.log(`\nnot a full default run: docs/performance.md left alone (BENCH_DOCS=1 forces it); report in ${report}`);
  }
}

async function main(): Promise<void> {
  if (process.argv.includes('--help')) {
    console.log(HELP);
    return;
  }
  if (availableParallelism() < 2) throw new Error('the bench pins the tunnel and the load generator to separate cores: it needs at least 2 CPUs');
  const rerender = process.env.BENCH_RENDER;
  if (rerender) {
    const saved = JSON.parse(readFileSync(rerender, 'utf8')) as SavedRun;
    const docs = process.env.BENCH_DOCS === undefined || process.env.BENCH_DOCS === '' ? saved.fullDefaultRun : process.env.BENCH_DOCS === '1';
    render(saved, basename(rerender, '.json').replace(/^results-/, ''), docs);
    return;
  }
  const options = readOptions(ROOT);
  const started = Date.now();
  const date = new Date();
  const stamp = date.toISOString().replace(/[:.]/g, '-').slice(0, 19);
  const logDir = join(OUT, 'logs', stamp);
  mkdirSync(logDir, { recursive: true });

  const loadgenBin = buildLoadgen(join(OUT, 'loadgen'));
  const certs = makeCerts();
  if (options.compile) compileTunnel();
  const choice = allSubjects(loadgenBin, options.tunnel, options.alternatives);
  const subjects = choice.subjects.filter((s) => options.only === undefined || options.only.has(s.id));
  const machine = machineFacts();
  console.log(`bench: ${subjects.map((s) => s.label).join(' → ')}, ${options.rounds} round(s); logs in ${logDir}`);
  for (const note of choice.skipped) console.log(`bench: skipped ${note}`);

  // Pinned: the tunnel on core 1, everything else on core 0. Unpinned: every process on every CPU.
  const every = `0-${availableParallelism() - 1}`;
  const [tunnelCpus, loadCpus] = options.unpinned ? [every, every] : ['1', '0'];
  const backends = new Backends(loadgenBin, loadCpus, logDir);
  const runner = new RoundRunner(new Loadgen(loadgenBin, loadCpus), backends, certs, options.settings, logDir, tunnelCpus);
  const results = new Map<string, RoundFigures[]>(subjects.map((s) => [s.id, []]));
  const problems: string[] = [];
  // Our server-mode builds' footprint (the tunnel on both data planes), beside a bare Node.js and a Node.js TLS tunnel, every round.
  const ourBuilds = [
    { build: options.tunnel, id: 'tunnel' },
    { build: onNodePlane(options.tunnel), id: 'tunnel-node' },
    ...options.alternatives.map((build, i) => ({ build, id: `alt${i + 1}` })),
  ].filter((b) => subjects.some((s) => s.id === b.id));
  const footprints = footprintSubjects(ourBuilds);
  const footprintResults = new Map<string, FootprintFigures[]>(footprints.map((s) => [s.id, []]));
  const footprintSettings = { starts: options.footprintStarts, cpus: tunnelCpus, logDir, realtime: realtimeAllowed() };
  try {
    for (let round = 1; round <= options.rounds; round++) {
      const t0 = Date.now();
      const figuresOf = await runner.run(subjects, round);
      console.log(`round ${round}/${options.rounds} [${((Date.now() - t0) / 1000).toFixed(0)} s]`);
      for (const subject of subjects) {
        const figures = figuresOf.get(subject.id)!;
        results.get(subject.id)!.push(figures);
        console.log(`  ${subject.label.padEnd(24)} ${summary(figures)}`);
        for (const p of figures.problems) {
          console.log(`    ! ${p}`);
          problems.push(`round ${round}, ${subject.label}: ${p}`);
        }
      }
      if (ourBuilds.length > 0) {
        const echoPort = await backends.port('plain', 'echo', certs.ec);
        const envOf = new Map(ourBuilds.map((b) => [b.id, b.build.env]));
        const figures = await footprintRound(footprints, (s) => envOf.get(s.id) ?? {}, { certDir: certs.ec, targetPort: echoPort }, footprintSettings);
        for (const [id, f] of figures) footprintResults.get(id)!.push(f);
        console.log(`  footprint: ${footprints.map((s) => `${s.label} ${(figures.get(s.id)!.rssKiB / 1024).toFixed(1)} MiB`).join(' · ')}`);
      }
    }
  } finally {
    await backends.stopAll();
  }

  const notes = [
    ...choice.skipped.map((s) => `not measured: ${s}`),
    'HAProxy has no in-place reload (it starts a new process on SIGUSR2 in master-worker mode), so it has no SIGHUP figures.',
    ...problems,
  ];
  const entry = options.compile ? `${COMPILED_DIR}/main.cjs (src/ bundled by scripts/build.mjs, as bin/ghostunnel runs it)` : options.tunnel.entry.replace(`${ROOT}/`, '');
  const saved: SavedRun = {
    facts: {
      date: date.toISOString(),
      machine,
      settings: options.settings,
      rounds: options.rounds,
      unpinned: options.unpinned,
      order: subjects.map((s) => s.label),
      tunnelDescription: `node ${[...options.tunnel.nodeArgs, entry].join(' ')}, flags ${['--allow-all', ...options.tunnel.tunnelArgs].join(' ')} (the "node" columns add --data-plane node); log lines to /dev/null`,
      durationS: (Date.now() - started) / 1000,
      loadAverageAtEnd: loadAverage(),
      notes,
    },
    subjects: subjects.map(({ id, label, mode }) => ({ id, label, mode })),
    results: Object.fromEntries(results),
    fullDefaultRun: options.writeDocs,
    ...(ourBuilds.length > 0 ? { footprint: { subjects: footprints.map(({ id, label }) => ({ id, label })), ours: ourBuilds.map((b) => b.id), results: Object.fromEntries(footprintResults) } } : {}),
  };
  writeFileSync(join(OUT, `results-${stamp}.json`), JSON.stringify(saved, null, 2));
  render(saved, stamp, options.writeDocs);
  console.log(`bench: done in ${((Date.now() - started) / 1000).toFixed(0)} s`);
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    killAll();
    process.exit(130);
  });
}

main().catch((err: Error) => {
  killAll();
  console.error(`bench: ${err.message}`);
  process.exit(1);
});
