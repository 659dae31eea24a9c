import type { SecureContext } from 'node:tls';
import type { ConfigFollower } from '../config/config-follower.ts';
import type { Config } from '../config/types.ts';
import type { Credentials } from '../credentials/store.ts';
import type { Log } from '../log/logger.ts';
import type { Listener } from '../net/listener.ts';
import type { ReloadOutcome } from '../reload/reloader.ts';
import type { LoopUnits } from '../runtime/units-of-work.ts';
import { backendCheckFor, type BackendCheck } from './backend-check.ts';
import { activeCertificates, type ActiveCertificate } from './certificates.ts';
import { diagnosticRoutes } from './diagnostics.ts';
import type { GraphiteTarget } from './metrics-push.ts';
import { MetricsSinks } from './metrics-sinks.ts';
import { MetricsView } from './metrics-view.ts';
import type { Route } from './router.ts';
import type { StatusSource } from './status-report.ts';
import { statusRoutes } from './status-routes.ts';
import { startStatusServer } from './status-server.ts';
import type { TunnelMetrics } from './tunnel-metrics.ts';

/** What the status port and the metrics read from the running daemon (the Daemon has these). */
export interface ObservedDaemon extends StatusSource {
  readonly log: Log;
  readonly tracker: { readonly open: number };
  /** Every event loop's units of work, the main thread's first (/debug/pprof/goroutine). */
  unitsOfWork(): Promise<readonly LoopUnits[]>;
  readonly reloader: StatusSource['reloader'] & { onOutcome(observer: (outcome: ReloadOutcome) => void): void };
  /** Registers the status port's socket: it starts accepting once the tunnel does, then calls `started`. */
  addListener(listener: Listener, started: () => void): void;
  shutdown(why: string): void;
  /** Follows --config reloads (the metrics settings). */
  follow(follower: ConfigFollower): void;
}

export interface ObservabilityOptions {
  /** The counters the tunnel updates (the daemon was created with them as its TunnelEvents). */
  readonly metrics: TunnelMetrics;
  /** --metrics-graphite, resolved. */
  readonly graphite?: GraphiteTarget;
  /** Replaces the mode's own backend check (a client tunnel dialing through its proxy, say). */
  readonly check?: BackendCheck;
  /** More routes for the status port (POST /_reload, say). */
  readonly routes?: readonly Route[];
}

/** The certificates in use, recomputed only when the credentials changed. */
function certificatesOf(config: Config, current: () => Credentials): () => readonly ActiveCertificate[] {
  let seen: Credentials | undefined;
  let certs: readonly ActiveCertificate[] = [];
  return () => {
    const creds = current();
    if (creds !== seen) {
      certs = activeCertificates(config.mode, creds);
      seen = creds;
    }
    return certs;
  };
}

/**
 * Starts the metrics sinks and binds the status port, before the tunnel's listener (so a status
 * port that cannot be bound stops the start with nothing else bound); it listens and accepts only
 * once the tunnel does. Returns the status address.
 */
export async function startStatusAndMetrics(daemon: ObservedDaemon, options: ObservabilityOptions): Promise<string | undefined> {
  const { config, log } = daemon;
  const { metrics } = options;
  daemon.reloader.onOutcome((outcome) => metrics.reloaded(outcome));
  const current = (): Credentials => daemon.store.current;
  const view = new MetricsView(metrics, config.metrics, certificatesOf(config, current));
  const sinks = new MetricsSinks(view, () => current().trust.pems, log);
  sinks.start(config.metrics, options.graphite);
  daemon.follow(sinks.follower);
  const status = config.status;
  if (status === undefined) return undefined;
  const context = (): SecureContext | undefined => (current().identity ? current().context : undefined);
  const routes = [
    ...statusRoutes({
      source: daemon,
      // The target (and --target-status) as a --config reload may have changed them.
      check: options.check ?? (() => backendCheckFor(daemon.config, () => current().context)()),
      metrics: view,
      ...(status.enableShutdown ? { shutdown: () => daemon.shutdown('received shutdown request on the status port') } : {}),
    }),
    ...(status.enablePprof ? diagnosticRoutes(() => daemon.unitsOfWork()) : []),
    ...(options.routes ?? []),
  ];
  return startStatusServer({
    settings: status,
    routes,
    context,
    connectMs: config.timeouts.connectMs,
    adopt: (listener, started) => daemon.addListener(listener, started),
    stopping: () => daemon.phase === 'stopping',
    log,
  });
}
