// Go's time.ParseDuration syntax ("300s", "1m30s", "1.5h", "500ms", "-2s", "0"), as Ghostunnel's
// flags accept it. Returns milliseconds (fractions kept for ns/us units).

// Summed in nanoseconds, as Go does, so "10ns" is exactly 0.00001 ms.
const UNIT_NS: Record<string, number> = {
  ns: 1,
  us: 1e3,
  'µs': 1e3,
  'μs': 1e3,
  ms: 1e6,
  s: 1e9,
  m: 6e10,
  h: 3.6e12,
};

const TERM = /^(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)/;

export function parseDuration(text: string): number {
  let rest = text;
  let sign = 1;
  if (rest.startsWith('-') || rest.startsWith('+')) {
    if (rest[0] === '-') sign = -1;
    rest = rest.slice(1);
  }
  if (rest === '0') return 0;
  if (rest === '') throw new Error(`invalid duration "${text}"`);
  let total = 0;
  while (rest !== '') {
    const m = TERM.exec(rest);
    if (m === null) {
      throw new Error(/^\d+\.?\d*$/.test(rest) ? `missing unit in duration "${text}"` : `invalid duration "${text}"`);
    }
    total += Number(m[1]) * UNIT_NS[m[2]!]!;
    rest = rest.slice(m[0].length);
  }
  return (sign * total) / 1e6;
}

/** Formats milliseconds the way Go prints a time.Duration ("1m30s", "500ms", "0s"). */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  const sign = ms < 0 ? '-' : '';
  let v = Math.abs(ms);
  if (v < 1000) return `${sign}${+v.toFixed(6)}ms`;
  const h = Math.floor(v / 3_600_000);
  v -= h * 3_600_000;
  const m = Math.floor(v / 60_000);
  v -= m * 60_000;
  const s = +(v / 1000).toFixed(9);
  return `${sign}${h ? `${h}h` : ''}${h || m ? `${m}m` : ''}${s}s`;
}
