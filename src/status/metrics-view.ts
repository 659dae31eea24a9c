import { hostname } from 'node:os';
import type { Registry } from 'prom-client';
import type { MetricsSettings } from '../config/types.ts';
import type { ActiveCertificate } from './certificates.ts';
import { metricPoints, toGraphiteLines, toJsonMetrics, type JsonMetric, type PreviousCounts } from './metric-points.ts';
import { prometheusRegistry } from './prometheus.ts';
import type { TunnelMetrics } from './tunnel-metrics.ts';

/** The tunnel's metrics in each of the formats the status port and the sinks serve. */
export class MetricsView {
  readonly #metrics: TunnelMetrics;
  #prefix: string;
  readonly #certificates: () => readonly ActiveCertificate[];
  #registry: Registry;
  readonly #hostname = hostname();

  constructor(metrics: TunnelMetrics, settings: MetricsSettings, certificates: () => readonly ActiveCertificate[]) {
    this.#metrics = metrics;
    this.#prefix = settings.prefix;
    this.#certificates = certificates;
    this.#registry = prometheusRegistry(metrics, settings.prefix, certificates);
  }

  /** --metrics-prefix changed by a reload: every format names the series anew from now on. */
  set prefix(prefix: string) {
    if (prefix === this.#prefix) return;
    this.#prefix = prefix;
    this.#registry = prometheusRegistry(this.#metrics, prefix, this.#certificates);
  }

  json(now = new Date()): JsonMetric[] {
    return toJsonMetrics(metricPoints(this.#metrics, this.#certificates()), this.#prefix, this.#hostname, now);
  }

  graphite(now: Date, flushSeconds: number, previous: PreviousCounts): string {
    return toGraphiteLines(metricPoints(this.#metrics, this.#certificates()), this.#prefix, now, flushSeconds, previous);
  }

  async prometheus(): Promise<{ contentType: string; text: string }> {
    return { contentType: this.#registry.contentType, text: await this.#registry.metrics() };
  }
}
