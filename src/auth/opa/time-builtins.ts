/**
 * Rego built-ins that Go's OPA has and opa-wasm does not ship, passed to loadPolicy as custom
 * built-ins so that policies written for Ghostunnel (certificate expiry checks, mostly) evaluate
 * the same. Nanosecond values exceed float64 precision, so they go back to OPA as raw JSON numbers.
 */
const { rawJSON } = JSON as unknown as { rawJSON(text: string): object };

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/;

function nowNs(): object {
  const micros = BigInt(Math.round((performance.timeOrigin + performance.now()) * 1000));
  return rawJSON((micros * 1000n).toString());
}

/** Go's time.Parse(time.RFC3339, s).UnixNano(). */
function parseRfc3339Ns(text: unknown): object {
  const m = typeof text === 'string' ? RFC3339.exec(text) : null;
  if (m === null) throw new Error(`time.parse_rfc3339_ns: parsing time ${JSON.stringify(text)} as RFC 3339 failed`);
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const ms = Date.UTC(year, month - 1, day, hour, minute, second);
  const check = new Date(ms);
  if (check.getUTCFullYear() !== year || check.getUTCMonth() !== month - 1 || check.getUTCDate() !== day || hour > 23 || minute > 59 || second > 59) {
    throw new Error(`time.parse_rfc3339_ns: parsing time ${JSON.stringify(text)}: out of range`);
  }
  const zone = m[8]!;
  const offsetMinutes = zone === 'Z' ? 0 : (zone[0] === '-' ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6)));
  const fraction = BigInt((m[7] ?? '').padEnd(9, '0'));
  const ns = BigInt(ms) * 1_000_000n + fraction - BigInt(offsetMinutes) * 60_000_000_000n;
  return rawJSON(ns.toString());
}

export const TIME_BUILTINS: Record<string, (...args: unknown[]) => unknown> = {
  'time.now_ns': nowNs,
  'time.parse_rfc3339_ns': parseRfc3339Ns,
};
