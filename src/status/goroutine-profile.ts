// /debug/pprof/goroutine in Go's text format, counting what stands for goroutines in this daemon
// (src/runtime/units-of-work.ts): tools and people that watch Ghostunnel's first line,
// "goroutine profile: total N", for leaks read the same line here.
import type { LoopUnits } from '../runtime/units-of-work.ts';

type Kinds = Array<readonly [kind: string, count: number]>;

function kindsOf(loop: LoopUnits): Kinds {
  const { open, piping, connecting } = loop.connections;
  return [
    ['connection: accepted side', open] as const,
    ['connection: target side (piping)', piping] as const,
    ['connection: TLS handshake, access decision or dial under way', connecting] as const,
    ...Object.entries(loop.resources).map(([type, count]) => [`event loop: ${type}`, count] as const),
  ].filter(([, count]) => count > 0);
}

const sum = (kinds: Kinds): number => kinds.reduce((total, [, count]) => total + count, 0);

/** Go's grouping: one "N @ what" line per kind, the largest first. */
function listing(kinds: Kinds): string {
  return [...kinds].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([kind, count]) => `${count} @ ${kind}\n`).join('');
}

/**
 * The profile over every event loop (main thread first). `debug` 0 or 1: the kinds summed over
 * the loops; 2 and above: each loop on its own, where Go would dump every goroutine's stack.
 */
export function goroutineProfile(loops: readonly LoopUnits[], debug: number): string {
  const perLoop = loops.map(kindsOf);
  const all = new Map<string, number>();
  for (const [kind, count] of perLoop.flat()) all.set(kind, (all.get(kind) ?? 0) + count);
  const total = sum([...all]);
  const body =
    debug >= 2
      ? perLoop.map((kinds, i) => `event loop ${i} (${i === 0 ? 'main thread' : `worker ${i}`}): ${sum(kinds)}\n${listing(kinds)}`).join('\n')
      : listing([...all]);
  return `goroutine profile: total ${total}\n${body}\n# Node.js has no goroutines: these are the daemon's live units of work on ${loops.length} event loop${loops.length === 1 ? '' : 's'} (?debug=2 lists each loop)\n`;
}
