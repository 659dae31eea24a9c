import type { ConfigFollower } from '../config/config-follower.ts';
import type { MetricsSettings } from '../config/types.ts';
import type { Log } from '../log/logger.ts';
import { resolveGraphite, startGraphite, startUrlPush, type GraphiteTarget } from './metrics-push.ts';
import type { MetricsView } from './metrics-view.ts';

/**
 * The metrics pushed out (--metrics-graphite, --metrics-url every --metrics-interval) and the
 * names they carry (--metrics-prefix), following --config reloads: a changed sink is stopped and
 * started again with its new settings; a new Graphite name must resolve or the reload is refused.
 */
export class MetricsSinks {
  readonly #view: MetricsView;
  readonly #trust: () => readonly string[];
  readonly #log: Log;
  #settings: MetricsSettings | undefined;
  #graphite: GraphiteTarget | undefined;
  #stops: Array<() => void> = [];

  constructor(view: MetricsView, trust: () => readonly string[], log: Log) {
    this.#view = view;
    this.#trust = trust;
    this.#log = log;
  }

  /** Starts the sinks the settings name; `graphite`: --metrics-graphite, resolved. */
  start(settings: MetricsSettings, graphite: GraphiteTarget | undefined): void {
    for (const stop of this.#stops.splice(0)) stop();
    this.#settings = settings;
    this.#graphite = graphite;
    this.#view.prefix = settings.prefix;
    if (graphite) this.#stops.push(startGraphite(graphite, this.#view, this.#log));
    if (settings.url !== undefined && settings.intervalMs > 0) this.#stops.push(startUrlPush(settings.url, settings.intervalMs, this.#view, this.#trust, this.#log));
  }

  readonly follower: ConfigFollower = {
    prepare: async ({ metrics: next }) => {
      const before = this.#settings;
      if (before !== undefined && next.prefix === before.prefix && next.intervalMs === before.intervalMs && next.url === before.url && next.graphite?.text === before.graphite?.text) return () => {};
      const graphite = next.graphite === undefined ? undefined : next.graphite.text === before?.graphite?.text ? this.#graphite : await resolveGraphite(next.graphite);
      return () => this.start(next, graphite);
    },
  };
}
