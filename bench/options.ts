// The bench's knobs, all from environment variables (npm run bench takes no arguments of its own).
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Settings } from './measure.ts';
import type { TunnelBuild } from './subjects.ts';

/**
 * Where the bench compiles src/: a private copy of the package layout (build/dist beside
 * build/package.json), never the tree's dist/, which other work may be using.
 */
export const BUILD_ROOT = 'bench/out/build';
export const COMPILED_DIR = `${BUILD_ROOT}/dist`;
const COMPILED_ENTRY = `${COMPILED_DIR}/main.cjs`;

export interface BenchOptions {
  readonly rounds: number;
  readonly settings: Settings;
  /** Subject ids to run (undefined: all); "direct" is always run, ratios need it. */
  readonly only: ReadonlySet<string> | undefined;
  readonly tunnel: TunnelBuild;
  /** The tunnel is src/ compiled by the bench into bench/out/build/dist (BENCH_TUNNEL unset). */
  readonly compile: boolean;
  /** Other builds of the tunnel to measure beside it (server mode), e.g. a prototype in /tmp. */
  readonly alternatives: readonly TunnelBuild[];
  /** Whether docs/performance.md gets the result: by default only for a full, default run. */
  readonly writeDocs: boolean;
  /** BENCH_UNPINNED=1: no core pinning (for --workers, which needs more than one core). */
  readonly unpinned: boolean;
  /** Timed starts per build and round for the footprint rows (BENCH_STARTS). */
  readonly footprintStarts: number;
}

export const HELP = `npm run bench — environment variables:
  BENCH_QUICK=1            smoke run: 1 round, 1 s loads, 64M bulk, 200 idle connections (~1 min)
  BENCH_ROUNDS=N           rounds (default 3)
  BENCH_SECONDS=S          seconds per handshake and request/response load (default 3)
  BENCH_RELOAD_SECONDS=S   seconds of handshakes under the SIGHUP loop (default 4)
  BENCH_BULK=SIZE          bulk upload size, loadgen syntax 1G, 256M … (default 1G)
  BENCH_IDLE_CONNS=N       idle connections held for the memory figure (default 2000)
  BENCH_ONLY=a,b           subjects: tunnel, tunnel-node, node-tls, haproxy, stunnel, tunnel-client,
                           tunnel-client-node, haproxy-client, stunnel-client, alt1 … (direct
                           always runs; the -node ones are ours on --data-plane node; node-tls is
                           the smallest Node.js TLS tunnel, the node plane's floor)
  BENCH_TUNNEL=PATH        our tunnel's entry point (default: src/ built by scripts/build.mjs into bench/out/build/dist,
                           i.e. what bin/ghostunnel runs; src/main.ts measures type stripping)
  BENCH_TUNNEL_ARGS="…"    extra flags for our tunnel, e.g. "--quiet conns"
  BENCH_NODE_ARGS="…"      extra node flags for our tunnel, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"
  BENCH_ALT="label=[VAR=value …] PATH [flags];…"  more builds of the tunnel measured beside it
                           (server mode), e.g. a prototype in /tmp with its switches
  BENCH_UNPINNED=1         pin nothing: the tunnel, loadgen and backends share every CPU (for --workers N)
  BENCH_STARTS=N           timed starts per build and round for the footprint rows (default 10)
  BENCH_DOCS=1|0           write docs/performance.md (default: 1 only for a full default run)
  BENCH_RENDER=FILE        measure nothing: print and write the tables of a saved bench/out/results-*.json`;

function positive(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name}=${raw}: expected a positive number`);
  return n;
}

function words(raw: string | undefined): string[] {
  return (raw ?? '').split(/\s+/).filter((w) => w !== '');
}

function entry(path: string, what: string): string {
  const full = resolve(path);
  if (!existsSync(full)) throw new Error(`${what}: ${full} does not exist`);
  return full;
}

function alternatives(raw: string | undefined): TunnelBuild[] {
  return (raw ?? '')
    .split(';')
    .filter((a) => a.trim() !== '')
    .map((spec) => {
      const eq = spec.indexOf('=');
      const tokens = words(spec.slice(eq + 1));
      const env: Record<string, string> = {};
      while (tokens[0] !== undefined && /^[A-Z_][A-Z0-9_]*=/.test(tokens[0])) {
        const [name, ...value] = tokens.shift()!.split('=');
        env[name!] = value.join('=');
      }
      const [path, ...flags] = tokens;
      if (eq <= 0 || path === undefined) throw new Error(`BENCH_ALT entry "${spec}": expected label=[VAR=value …] PATH [flags]`);
      return { label: spec.slice(0, eq).trim(), entry: entry(path, 'BENCH_ALT'), nodeArgs: [], tunnelArgs: flags, env };
    });
}

export function readOptions(root: string): BenchOptions {
  const quick = process.env.BENCH_QUICK === '1';
  const settings: Settings = {
    seconds: positive('BENCH_SECONDS', quick ? 1 : 3),
    reloadSeconds: positive('BENCH_RELOAD_SECONDS', quick ? 2 : 4),
    warmSeconds: quick ? 0.5 : 1,
    bulkBytes: process.env.BENCH_BULK || (quick ? '64M' : '1G'),
    idleConns: positive('BENCH_IDLE_CONNS', quick ? 200 : 2000),
    idleHoldSeconds: quick ? 1 : 2,
  };
  if (!/^\d+[KMG]?$/.test(settings.bulkBytes)) throw new Error(`BENCH_BULK=${settings.bulkBytes}: expected a size like 1G, 256M or 65536`);
  const only = process.env.BENCH_ONLY ? new Set(['direct', ...process.env.BENCH_ONLY.split(',').map((s) => s.trim())]) : undefined;
  const tunnelArgs = words(process.env.BENCH_TUNNEL_ARGS);
  const nodeArgs = words(process.env.BENCH_NODE_ARGS);
  const compile = !process.env.BENCH_TUNNEL;
  const tunnelEntry = compile ? resolve(root, COMPILED_ENTRY) : entry(process.env.BENCH_TUNNEL!, 'BENCH_TUNNEL');
  const alts = alternatives(process.env.BENCH_ALT);
  const rounds = Math.round(positive('BENCH_ROUNDS', quick ? 1 : 3));
  const isDefault =
    !quick &&
    rounds === 3 &&
    only === undefined &&
    alts.length === 0 &&
    nodeArgs.length === 0 &&
    process.env.BENCH_UNPINNED !== '1' &&
    !process.env.BENCH_TUNNEL &&
    ['BENCH_SECONDS', 'BENCH_RELOAD_SECONDS', 'BENCH_BULK', 'BENCH_IDLE_CONNS', 'BENCH_STARTS'].every((n) => !process.env[n]);
  const docsEnv = process.env.BENCH_DOCS;
  const label = tunnelArgs.length > 0 ? `ghostunnel-ts ${tunnelArgs.join(' ')}` : 'ghostunnel-ts';
  return {
    rounds,
    settings,
    only,
    tunnel: { label, entry: tunnelEntry, nodeArgs, tunnelArgs, env: {} },
    compile,
    alternatives: alts,
    writeDocs: docsEnv === undefined || docsEnv === '' ? isDefault : docsEnv === '1',
    unpinned: process.env.BENCH_UNPINNED === '1',
    footprintStarts: Math.round(positive('BENCH_STARTS', quick ? 3 : 10)),
  };
}
