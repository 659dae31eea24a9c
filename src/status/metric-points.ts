import type { ActiveCertificate } from './certificates.ts';
import { soonestExpiry } from './certificates.ts';
import { PERCENTILE_NAMES, type TimerSnapshot } from './timer-stats.ts';
import { GHOSTUNNEL_COUNTERS, HANDSHAKE_FAILURE_REASONS, RELOAD_RESULTS, type TunnelMetrics } from './tunnel-metrics.ts';

/** One metric under its go-metrics style dotted name (without the prefix), read at export time. */
export type MetricPoint =
  | { readonly kind: 'counter'; readonly name: string; readonly value: number }
  | { readonly kind: 'gauge'; readonly name: string; readonly value: number }
  | { readonly kind: 'timer'; readonly name: string; readonly timer: TimerSnapshot };

/**
 * Everything the JSON and Graphite exporters show: Ghostunnel's metrics first, then ours
 * (reload outcomes, bytes each way, handshake failures by reason, certificate expiry by role).
 */
export function metricPoints(metrics: TunnelMetrics, certificates: readonly ActiveCertificate[]): MetricPoint[] {
  const points: MetricPoint[] = GHOSTUNNEL_COUNTERS.map((name) => ({ kind: 'counter', name, value: metrics.counters[name] }));
  points.push({ kind: 'timer', name: 'conn.handshake', timer: metrics.handshake.snapshot() });
  points.push({ kind: 'timer', name: 'conn.lifetime', timer: metrics.lifetime.snapshot() });
  for (const result of RELOAD_RESULTS) points.push({ kind: 'counter', name: `reload.${result}`, value: metrics.reloads[result] });
  points.push({ kind: 'counter', name: 'bytes.forwarded', value: metrics.bytes.forwarded });
  points.push({ kind: 'counter', name: 'bytes.returned', value: metrics.bytes.returned });
  for (const reason of HANDSHAKE_FAILURE_REASONS) points.push({ kind: 'counter', name: `handshake.failure.${reason}`, value: metrics.handshakeFailures[reason] });
  for (const [role, at] of soonestExpiry(certificates)) points.push({ kind: 'gauge', name: `certificate.expiry.${role}`, value: at });
  return points;
}

function qualified(prefix: string, name: string): string {
  return prefix === '' ? name : `${prefix}.${name}`;
}

/** One element of Ghostunnel's JSON metrics array (spec §2.13). */
export interface JsonMetric {
  readonly timestamp: number;
  readonly metric: string;
  readonly value: number;
  readonly hostname: string;
}

/** Ghostunnel's JSON carries four of the percentiles (not 99.9). */
const JSON_PERCENTILES = 4;

/** The JSON array served at /_metrics and posted to --metrics-url; timers expand into eight. */
export function toJsonMetrics(points: readonly MetricPoint[], prefix: string, hostname: string, now: Date): JsonMetric[] {
  const timestamp = Math.floor(now.getTime() / 1000);
  const out: JsonMetric[] = [];
  const add = (name: string, value: number): void => {
    out.push({ timestamp, metric: qualified(prefix, name), value, hostname });
  };
  for (const p of points) {
    if (p.kind !== 'timer') {
      add(p.name, p.value);
      continue;
    }
    const t = p.timer;
    add(`${p.name}.count`, t.count);
    add(`${p.name}.min`, t.min);
    add(`${p.name}.max`, t.max);
    add(`${p.name}.mean`, t.mean);
    for (let i = 0; i < JSON_PERCENTILES; i++) add(`${p.name}.${PERCENTILE_NAMES[i]}-percentile`, t.percentiles[i]!);
  }
  return out;
}

/** Counts at the previous Graphite flush, for the per-second rates (count_ps). */
export type PreviousCounts = Map<string, number>;

/**
 * Graphite plaintext lines in go-metrics-graphite's layout ("<prefix>.<name>.<field> <value>
 * <unix-ts>"): counters count and count_ps, gauges value, timers the full set of fields. count_ps
 * is the increase since the previous flush, per second.
 */
export function toGraphiteLines(points: readonly MetricPoint[], prefix: string, now: Date, flushSeconds: number, previous: PreviousCounts): string {
  const ts = Math.floor(now.getTime() / 1000);
  let text = '';
  const line = (name: string, field: string, value: string): void => {
    text += `${qualified(prefix, name)}.${field} ${value} ${ts}\n`;
  };
  const perSecond = (name: string, count: number): string => {
    const rate = (count - (previous.get(name) ?? 0)) / flushSeconds;
    previous.set(name, count);
    return rate.toFixed(2);
  };
  for (const p of points) {
    if (p.kind === 'counter') {
      line(p.name, 'count', String(p.value));
      line(p.name, 'count_ps', perSecond(p.name, p.value));
    } else if (p.kind === 'gauge') {
      line(p.name, 'value', String(p.value));
    } else {
      const t = p.timer;
      line(p.name, 'count', String(t.count));
      line(p.name, 'count_ps', perSecond(p.name, t.count));
      line(p.name, 'min', String(Math.round(t.min)));
      line(p.name, 'max', String(Math.round(t.max)));
      line(p.name, 'mean', t.mean.toFixed(2));
      line(p.name, 'std-dev', t.stdDev.toFixed(2));
      PERCENTILE_NAMES.forEach((q, i) => line(p.name, `${q}-percentile`, t.percentiles[i]!.toFixed(2)));
      line(p.name, 'one-minute', t.rate1.toFixed(2));
      line(p.name, 'five-minute', t.rate5.toFixed(2));
      line(p.name, 'fifteen-minute', t.rate15.toFixed(2));
      line(p.name, 'mean-rate', t.rateMean.toFixed(2));
    }
  }
  return text;
}
