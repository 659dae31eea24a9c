import { collectDefaultMetrics, Counter, Gauge, Registry, type Metric } from 'prom-client';
import { soonestExpiry, type ActiveCertificate } from './certificates.ts';
import type { TimerStats } from './timer-stats.ts';
import { GHOSTUNNEL_COUNTERS, HANDSHAKE_FAILURE_REASONS, RELOAD_RESULTS, type TunnelMetrics } from './tunnel-metrics.ts';

/** Ghostunnel's bridge turns "<prefix>.<name>" into "<prefix>_<name>", other punctuation into "_". */
export function prometheusName(prefix: string, name: string): string {
  const joined = prefix === '' ? name : `${prefix}_${name}`;
  const clean = joined.replace(/[^a-zA-Z0-9_:]/g, '_');
  return /^[0-9]/.test(clean) ? `_${clean}` : clean;
}

/**
 * The timer series Ghostunnel's bridge exports (gauges, durations in nanoseconds, statistics over
 * the recent samples), kept so that existing dashboards keep working.
 */
const TIMER_GAUGES = [
  ['count', 'number of samples recorded', (t) => t.count],
  ['sum', 'sum of the recent samples, ns', (t) => t.sum],
  ['min', 'smallest recent sample, ns', (t) => t.min],
  ['max', 'largest recent sample, ns', (t) => t.max],
  ['mean', 'mean of the recent samples, ns', (t) => t.mean],
  ['std_dev', 'standard deviation of the recent samples, ns', (t) => t.stdDev],
  ['variance', 'variance of the recent samples, ns^2', (t) => t.variance],
  ['rate1', 'one-minute moving rate, per second', (t) => t.rate1],
  ['rate5', 'five-minute moving rate, per second', (t) => t.rate5],
  ['rate15', 'fifteen-minute moving rate, per second', (t) => t.rate15],
  ['rate_mean', 'mean rate since start, per second', (t) => t.rateMean],
] as const satisfies readonly (readonly [string, string, (t: ReturnType<TimerStats['snapshot']>) => number])[];

/**
 * A histogram in seconds whose buckets the timer fills itself (prom-client's Histogram would
 * allocate on every observation, and observations are on the connection path).
 */
function secondsHistogram(name: string, help: string, timer: TimerStats): Metric {
  const metric = {
    name,
    help,
    type: 'histogram',
    aggregator: 'sum',
    get: async () => {
      const t = timer.snapshot();
      const values = [
        ...t.buckets.map((b) => ({ metricName: `${name}_bucket`, labels: { le: b.le === Infinity ? '+Inf' : b.le }, value: b.count })),
        { metricName: `${name}_sum`, labels: {}, value: t.totalSeconds },
        { metricName: `${name}_count`, labels: {}, value: t.count },
      ];
      return { name, help, type: 'histogram', aggregator: 'sum', values };
    },
  };
  return metric as unknown as Metric;
}

function timer(registry: Registry, prefix: string, name: string, what: string, stats: TimerStats): void {
  for (const [suffix, help, read] of TIMER_GAUGES) {
    new Gauge({
      name: prometheusName(prefix, `${name}_${suffix}`),
      help: `${what}: ${help} (Ghostunnel's series)`,
      registers: [registry],
      collect() {
        this.set(read(stats.snapshot()));
      },
    });
  }
  registry.registerMetric(secondsHistogram(prometheusName(prefix, `${name}_seconds`), `${what}, seconds`, stats));
}

/**
 * The registry behind /_metrics/prometheus. Ghostunnel's names come out as gauges, as its bridge
 * exports everything; the series beyond Ghostunnel are typed counters and gauges; the Node.js
 * process series (process_*, nodejs_*) stand where Go's go_* and process_* were. Values are read
 * from the tunnel's counters at scrape time.
 */
export function prometheusRegistry(metrics: TunnelMetrics, prefix: string, certificates: () => readonly ActiveCertificate[]): Registry {
  const registry = new Registry();
  for (const name of GHOSTUNNEL_COUNTERS) {
    new Gauge({
      name: prometheusName(prefix, name),
      help: `Ghostunnel's ${name}`,
      registers: [registry],
      collect() {
        this.set(metrics.counters[name]);
      },
    });
  }
  timer(registry, prefix, 'conn_handshake', 'TLS handshake time (server mode)', metrics.handshake);
  timer(registry, prefix, 'conn_lifetime', 'Connection lifetime, accept to close', metrics.lifetime);
  new Counter({
    name: prometheusName(prefix, 'reload_total'),
    help: 'Reload attempts by result: success (new credentials in use), unchanged (files unchanged), failure (refused; the previous credentials stay)',
    labelNames: ['result'],
    registers: [registry],
    collect() {
      this.reset();
      for (const result of RELOAD_RESULTS) this.inc({ result }, metrics.reloads[result]);
    },
  });
  new Counter({
    name: prometheusName(prefix, 'bytes_total'),
    help: 'Bytes piped: forwarded (from the accepting side to the target) and returned',
    labelNames: ['direction'],
    registers: [registry],
    collect() {
      this.reset();
      this.inc({ direction: 'forwarded' }, metrics.bytes.forwarded);
      this.inc({ direction: 'returned' }, metrics.bytes.returned);
    },
  });
  new Counter({
    name: prometheusName(prefix, 'handshake_failures_total'),
    help: 'Connections refused before piping: tls (handshake error), verify (peer chain), denied (access rules), timeout (--connect-timeout), dial (target unreachable)',
    labelNames: ['reason'],
    registers: [registry],
    collect() {
      this.reset();
      for (const reason of HANDSHAKE_FAILURE_REASONS) this.inc({ reason }, metrics.handshakeFailures[reason]);
    },
  });
  new Gauge({
    name: prometheusName(prefix, 'certificate_expiry_timestamp_seconds'),
    help: 'Soonest not-after of the certificates in use, by role (server or client leaf, intermediate, ca), seconds since the epoch',
    labelNames: ['role'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [role, at] of soonestExpiry(certificates())) this.set({ role }, at);
    },
  });
  collectDefaultMetrics({ register: registry });
  return registry;
}
