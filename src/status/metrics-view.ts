import { hostname } from 'node:os';
import type { Registry } from 'prom-client';
import type { MetricsSettings } from '../config/types.ts';
import type { ActiveCertificate } from './certificates.ts';
import { metricPoints, toGraphiteLines, toJsonMetrics, type JsonMetric, type PreviousCounts } from './metric-points.ts';
import type { TunnelMetrics } from './tunnel-metrics.ts';

/** The tunnel's metrics in each of the formats the status port and the sinks serve. */
export class MetricsView {
  readonly #metrics: TunnelMetrics;
  #prefix: string;
  readonly #certificates: () => readonly ActiveCertificate[];
  /**
   * Made at the first Prometheus scrape: prom-client takes about as much CPU to load as Node.js
   * itself takes to start, which the status port's first answer would otherwise wait for. Its
   * garbage-collection and event-loop-lag series count from then on.
   */
  #registry: Promise<Registry> | undefined;
  readonly #hostname = hostname();

  constructor(metrics: TunnelMetrics, settings: MetricsSettings, certificates: () => readonly ActiveCertificate[]) {
    this.#metrics = metrics;
    this.#prefix = settings.prefix;
    this.#certificates = certificates;
  }

  /** --metrics-prefix changed by a reload: every format names the series anew from now on. */
  set prefix(prefix: string) {
    if (prefix === this.#prefix) return;
    this.#prefix = prefix;
    this.#registry = undefined;
  }

  json(now = new Date()): JsonMetric[] {
    return toJsonMetrics(metricPoints(this.#metrics, this.#certificates()), this.#prefix, this.#hostname, now);
  }

  graphite(now: Date, flushSeconds: number, previous: PreviousCounts): string {
    return toGraphiteLines(metricPoints(this.#metrics, this.#certificates()), this.#prefix, now, flushSeconds, previous);
  }

  async prometheus(): Promise<{ contentType: string; text: string }> {
    const prefix = this.#prefix;
    this.#registry ??= import('./prometheus.ts').then(({ prometheusRegistry }) => prometheusRegistry(this.#metrics, prefix, this.#certificates));
    const registry = await this.#registry;
    return { contentType: registry.contentType, text: await registry.metrics() };
  }
}
