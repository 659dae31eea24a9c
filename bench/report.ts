// Medians across rounds, ratios to the direct TLS echo of the same round, and the tables: plain
// text for the terminal, Markdown for docs/performance.md.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { MachineFacts } from './machine.ts';
import type { RoundFigures, Settings } from './measure.ts';

/** A column of a table: one subject. */
export interface Column {
  readonly id: string;
  readonly label: string;
}

interface Metric {
  readonly label: string;
  readonly value: (f: RoundFigures) => number | undefined;
  readonly digits: number;
  /**
   * Shown with a ratio to the direct echo: 'rate' is subject / direct (throughput), 'cost' is
   * direct / subject (CPU per unit of work, so that for both a higher ratio is better).
   */
  readonly ratio: 'rate' | 'cost' | false;
  /** For a rate, the CPU cost of the same work: its ratio is shown beside the rate's in the verdicts. */
  readonly cost?: (f: RoundFigures) => number | undefined;
  /** Issue 9's target for our tunnel on the engine, as text, and whether a median (or ratio) meets it. */
  readonly target?: Target;
  /** Issue 21's target for our tunnel on the portable data plane (--data-plane node). */
  readonly portableTarget?: Target;
}

interface Target {
  readonly text: string;
  readonly met: (value: number, ratio: number | undefined) => boolean;
}

/** Which of the targets a subject of ours is held to: the engine's, or the portable plane's. */
export type TargetSet = 'engine' | 'portable';

function metrics(s: Settings): Metric[] {
  return [
    { label: 'full handshakes/s, ECDSA P-256 mTLS', value: (f) => f.hsEc?.perS, cost: (f) => f.cpu.hsEcUs, digits: 0, ratio: 'rate', target: { text: '≥ 0.90×', met: (_v, r) => (r ?? 0) >= 0.9 }, portableTarget: { text: '≥ 0.40×', met: (_v, r) => (r ?? 0) >= 0.4 } },
    { label: '↳ CPU µs per handshake', value: (f) => f.cpu.hsEcUs, digits: 0, ratio: 'cost' },
    { label: '↳ handshake p50 (ms)', value: (f) => f.hsEc?.p50Ms, digits: 1, ratio: false },
    { label: '↳ handshake p99 (ms)', value: (f) => f.hsEc?.p99Ms, digits: 1, ratio: false },
    { label: 'full handshakes/s, RSA 2048 mTLS', value: (f) => f.hsRsa?.perS, cost: (f) => f.cpu.hsRsaUs, digits: 0, ratio: 'rate', target: { text: '≥ 0.90×', met: (_v, r) => (r ?? 0) >= 0.9 } },
    { label: '↳ CPU µs per handshake (RSA)', value: (f) => f.cpu.hsRsaUs, digits: 0, ratio: 'cost' },
    { label: '64 B request/response/s (16 conns)', value: (f) => f.rr?.perS, cost: (f) => f.cpu.rrUs, digits: 0, ratio: 'rate', target: { text: '≥ 0.55×', met: (_v, r) => (r ?? 0) >= 0.55 } },
    { label: '↳ CPU µs per request/response', value: (f) => f.cpu.rrUs, digits: 1, ratio: 'cost' },
    { label: '↳ request/response p50 (ms)', value: (f) => f.rr?.p50Ms, digits: 2, ratio: false },
    { label: '↳ request/response p99 (ms)', value: (f) => f.rr?.p99Ms, digits: 2, ratio: false },
    { label: `bulk MB/s (${size(s.bulkBytes)}, 1 conn)`, value: (f) => f.bulk?.MBps, cost: (f) => f.cpu.bulkSPerGiB, digits: 0, ratio: 'rate', target: { text: '≥ 0.92×', met: (_v, r) => (r ?? 0) >= 0.92 } },
    { label: '↳ CPU s per GiB', value: (f) => f.cpu.bulkSPerGiB, digits: 2, ratio: 'cost' },
    { label: `KiB per idle connection (${s.idleConns})`, value: (f) => f.idle?.kibPerConn, digits: 1, ratio: false, target: { text: '≤ 40', met: (v) => v <= 40 }, portableTarget: { text: '≤ 60', met: (v) => v <= 60 } },
    { label: 'base RSS (MiB)', value: (f) => (f.idle ? f.idle.baseRssKiB / 1024 : undefined), digits: 1, ratio: false, target: { text: '≤ 40', met: (v) => v <= 40 } },
    { label: '↳ anonymous part (MiB)', value: (f) => (f.idle ? f.idle.baseAnonKiB / 1024 : undefined), digits: 1, ratio: false },
    { label: 'handshakes/s, SIGHUP every 1 s', value: (f) => f.reload?.perS, digits: 0, ratio: false },
    { label: '↳ handshake p99 (ms), SIGHUP every 1 s', value: (f) => f.reload?.p99Ms, digits: 1, ratio: false },
  ];
}

/** loadgen's size syntax ("1G", "256M") as a unit people read ("1 GiB", "256 MiB"). */
function size(bytes: string): string {
  const m = /^(\d+)([KMG]?)$/.exec(bytes);
  if (!m || m[2] === '') return `${bytes} B`;
  return `${m[1]} ${m[2]}iB`;
}

export function median(values: readonly number[]): number | undefined {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return undefined;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 === 1 ? v[mid] : (v[mid - 1]! + v[mid]!) / 2;
}

/** Per subject, the figures of each round (index = round - 1). */
export type Results = ReadonlyMap<string, readonly RoundFigures[]>;

interface Cell {
  readonly median: number | undefined;
  /** Median of the per-round ratios subject / direct echo. */
  readonly ratio: number | undefined;
  readonly rounds: readonly (number | undefined)[];
}

function cell(metric: Metric, rounds: readonly RoundFigures[], direct: readonly RoundFigures[] | undefined): Cell {
  const values = rounds.map(metric.value);
  const present = values.filter((v): v is number => v !== undefined);
  let ratio: number | undefined;
  if (metric.ratio && direct) {
    const ratios = values.flatMap((v, i) => {
      const d = direct[i] ? metric.value(direct[i]) : undefined;
      if (v === undefined || d === undefined || v <= 0 || d <= 0) return [];
      return [metric.ratio === 'rate' ? v / d : d / v];
    });
    ratio = median(ratios);
  }
  return { median: median(present), ratio, rounds: values };
}

function fmt(v: number | undefined, digits: number): string {
  if (v === undefined) return '—';
  return v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function cellText(metric: Metric, c: Cell, isDirect: boolean): string {
  let text = fmt(c.median, metric.digits);
  if (metric.ratio && !isDirect && c.ratio !== undefined) text += ` (${c.ratio.toFixed(2)}×)`;
  return text;
}

export interface Table {
  readonly title: string;
  readonly headings: readonly string[];
  readonly rows: readonly (readonly string[])[];
  /** The same rows with every round's value instead of the median: the spread behind each median. */
  readonly spread: readonly (readonly string[])[];
  /** Targets our tunnel meets or misses (issue 9 on the engine, issue 21 on the portable plane). */
  readonly verdicts: readonly string[];
}

export function buildTable(title: string, subjects: readonly Column[], results: Results, settings: Settings, ours: ReadonlyMap<string, TargetSet>): Table {
  const direct = results.get('direct');
  const ms = metrics(settings);
  const sets = new Set(subjects.flatMap((s) => (ours.has(s.id) ? [ours.get(s.id)!] : [])));
  const withTargets = sets.has('engine');
  const withPortable = sets.has('portable');
  const headings = ['', ...subjects.map((s) => s.label), ...(withTargets ? ['target'] : []), ...(withPortable ? ['node plane target'] : [])];
  const rows: string[][] = [];
  const spread: string[][] = [];
  const verdicts: string[] = [];
  for (const m of ms) {
    const row = [m.label];
    const spreadRow = [m.label];
    for (const s of subjects) {
      const rounds = results.get(s.id) ?? [];
      const c = cell(m, rounds, direct);
      row.push(cellText(m, c, s.id === 'direct'));
      spreadRow.push(c.rounds.map((v) => fmt(v, m.digits)).join(' / '));
      const target = ours.get(s.id) === 'portable' ? m.portableTarget : ours.has(s.id) ? m.target : undefined;
      if (target && c.median !== undefined) {
        // Per core means per CPU-second of the subject: the CPU-time ratio decides when there is one
        // (wall-clock rates also move with whatever else the machine runs); the rate ratio is shown.
        const perCore = m.cost ? cell({ label: '', value: m.cost, digits: 0, ratio: 'cost' }, rounds, direct).ratio : undefined;
        const ratio = perCore ?? c.ratio;
        const figures = perCore !== undefined ? `per core ${perCore.toFixed(2)}×, wall-clock rate ${c.ratio?.toFixed(2) ?? '—'}×` : fmt(c.median, m.digits);
        verdicts.push(`${s.label} · ${m.label.replace(/^↳ /, '')}: ${target.met(c.median, ratio) ? 'meets' : 'misses'} ${target.text} (${figures})`);
      }
    }
    if (withTargets) row.push(m.target?.text ?? '');
    if (withPortable) row.push(m.portableTarget?.text ?? '');
    rows.push(row);
    spread.push(spreadRow);
  }
  return { title, headings, rows, spread, verdicts };
}

export function textTable(title: string, headings: readonly string[], rows: readonly (readonly string[])[]): string {
  const all = [headings, ...rows];
  const widths = headings.map((_, i) => Math.max(...all.map((r) => [...(r[i] ?? '')].length)));
  const line = (r: readonly string[]): string => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : (c ?? '').padStart(widths[i]!))).join('  ');
  return [title, line(headings), ...rows.map(line)].join('\n');
}

export function markdownTable(t: Table): string {
  const line = (r: readonly string[]): string => `| ${r.join(' | ')} |`;
  return [line(t.headings), line(t.headings.map((_, i) => (i === 0 ? '---' : '---:'))), ...t.rows.map(line)].join('\n');
}

export interface RunFacts {
  /** When the run started, ISO 8601. */
  readonly date: string;
  readonly machine: MachineFacts;
  readonly settings: Settings;
  readonly rounds: number;
  /** BENCH_UNPINNED=1: no process pinned to a core (absent in older results: pinned). */
  readonly unpinned?: boolean;
  readonly order: readonly string[];
  readonly tunnelDescription: string;
  readonly durationS: number;
  /** 1, 5 and 15-minute load averages when the run ended. */
  readonly loadAverageAtEnd: string;
  readonly notes: readonly string[];
}

export function markdownSection(run: RunFacts, tables: readonly Table[]): string {
  const m = run.machine;
  const s = run.settings;
  const parts = [
    `### Latest run: ${run.date.slice(0, 16).replace('T', ' ')} UTC`,
    '',
    `Machine: ${m.nproc} CPUs (${m.cpu}), ${m.kernel}; load average ${m.loadAverage} at the start, ${run.loadAverageAtEnd} at the end. ` +
      `Node ${m.node} (OpenSSL ${m.nodeOpenssl}); stunnel ${m.stunnel} and HAProxy ${m.haproxy} on the system OpenSSL ${m.systemOpenssl}; loadgen built with Go ${m.go}.`,
    '',
    `Method: ${run.rounds} rounds over ${run.order.join(', ')}; ` +
      (run.unpinned ? 'nothing pinned: subjects, loadgen and the backends share every CPU (BENCH_UNPINNED=1). ' : 'every subject pinned to core 1 (`taskset -c 1`), loadgen and the backends on core 0. ') +
      `A round has three phases, each with a fresh process per subject: ECDSA P-256 towards ` +
      `the echo backend (base RSS; ${s.idleConns} idle connections held ${s.idleHoldSeconds} s; ${s.seconds} s of full mTLS handshakes, ` +
      `16 workers, no resumption; ${s.seconds} s of 64-byte request/response on 16 connections; ${s.reloadSeconds} s of handshakes with ` +
      `SIGHUP every second), RSA 2048 towards the echo (${s.seconds} s of handshakes) and ECDSA towards the sink (${size(s.bulkBytes)} ` +
      `upload on one connection). Within a phase each load runs on the subjects in turn (A B C …), after a ${s.warmSeconds} s warm-up. ` +
      `Figures are medians over rounds; ratios are medians of the per-round ratios to the direct TLS echo (loadgen's Go TLS ` +
      `server on core 1, no tunnel). KiB per idle connection = (VmRSS while held − VmRSS before) / connections. CPU rows: user + ` +
      `system time of the subject process (all threads, /proc/PID/stat) per unit of work during the load; their ratio is direct ÷ ` +
      `subject, the per-core efficiency, which other load on the machine disturbs less than the rates. Bulk: the plain sink shares ` +
      `the load core with loadgen, so a tunnel's bulk rate can be bound by that core ` +
      `(compare the CPU rows). Our tunnel: ${run.tunnelDescription}. Whole run: ${Math.round(run.durationS)} s.`,
    '',
    ...(shared(m.loadAverage, run.loadAverageAtEnd, m.nproc)
      ? [
          `**Other work shared the machine during this run** (see the load averages): wall-clock rates, their ratios and the ` +
            `latencies moved with it. The CPU rows (and the per-core verdicts, which use them) are the figures to compare.`,
          '',
        ]
      : []),
  ];
  for (const t of tables) {
    parts.push(`#### ${t.title}`, '', markdownTable(t), '');
    if (t.verdicts.length > 0) parts.push(...t.verdicts.map((v) => `- ${v}`), '');
    const everyRound = { ...t, headings: t.headings.slice(0, t.spread[0]?.length ?? 0), rows: t.spread };
    parts.push('<details><summary>Every round (the spread behind the medians)</summary>', '', markdownTable(everyRound), '', '</details>', '');
  }
  if (run.notes.length > 0) parts.push('Notes:', '', ...run.notes.map((n) => `- ${n}`), '');
  return parts.join('\n');
}

/**
 * Whether the 1-minute load averages say other work was running: above 1 before the bench started,
 * or above the core count plus one at its end (the bench itself keeps about one process per core busy).
 */
function shared(atStart: string, atEnd: string, nproc: number): boolean {
  return Number(atStart.split(' ')[0]) > 1 || Number(atEnd.split(' ')[0]) > nproc + 1;
}

const BEGIN = '<!-- bench:begin — generated by `npm run bench`; edits inside are overwritten -->';
const END = '<!-- bench:end -->';

const PREAMBLE = `# Performance

How the tunnel compares, per core, with its peers and with a TLS echo that has no tunnel in
between (the ceiling). Run it yourself with \`npm run bench\` (about ten minutes; \`BENCH_QUICK=1\`
for a one-minute smoke run); see \`bench/README.md\` for the knobs.

`;

/** Replaces the generated section of docs/performance.md (creating the file if needed). */
export function writeDocs(path: string, section: string): void {
  const block = `${BEGIN}\n${section.trimEnd()}\n${END}\n`;
  const current = existsSync(path) ? readFileSync(path, 'utf8') : `${PREAMBLE}${BEGIN}\n${END}\n`;
  const start = current.indexOf(BEGIN);
  const end = current.indexOf(END);
  const next = start >= 0 && end > start ? current.slice(0, start) + block + current.slice(end + END.length + 1) : `${current.trimEnd()}\n\n${block}`;
  writeFileSync(path, next);
}
