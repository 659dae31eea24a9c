import { lookup } from 'node:dns/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';
import { UsageError } from '../cli/errors.ts';
import type { TcpAddress } from '../net/address.ts';
import type { Log } from '../log/logger.ts';
import type { PreviousCounts } from './metric-points.ts';
import type { MetricsView } from './metrics-view.ts';

/** go-metrics-graphite's flush interval, hard-wired in Ghostunnel whatever --metrics-interval says. */
const GRAPHITE_FLUSH_MS = 1000;

/** A Graphite server, resolved once at start as kingpin's TCP() flag value is. */
export interface GraphiteTarget {
  readonly host: string;
  readonly port: number;
  readonly text: string;
}

/** Resolves --metrics-graphite; an unresolvable name is a usage error, as in Ghostunnel. */
export async function resolveGraphite(addr: TcpAddress): Promise<GraphiteTarget> {
  try {
    const host = addr.host === '' ? '127.0.0.1' : (await lookup(addr.host, { order: 'ipv4first' })).address;
    return { host, port: addr.port, text: addr.text };
  } catch (err) {
    throw new UsageError(`'${addr.text}' is not a valid TCP address: lookup ${addr.host}: ${(err as NodeJS.ErrnoException).code === 'ENOTFOUND' ? 'no such host' : (err as Error).message}`);
  }
}

/** Logs a sink's failures once per change (failing, then working again), not once per attempt. */
function failureLog(log: Log, what: string): { failed(message: string): void; worked(): void } {
  let failing = false;
  return {
    failed(message) {
      if (!failing) log.error(`error reporting metrics: ${what}: ${message}`);
      failing = true;
    },
    worked() {
      if (failing) log.info(`reporting metrics to ${what} works again`);
      failing = false;
    },
  };
}

/** --metrics-graphite: a new connection every second carrying the plaintext lines. */
export function startGraphite(target: GraphiteTarget, view: MetricsView, log: Log): () => void {
  const previous: PreviousCounts = new Map();
  const report = failureLog(log, `graphite ${target.text}`);
  const flush = (): void => {
    const lines = view.graphite(new Date(), GRAPHITE_FLUSH_MS / 1000, previous);
    const socket = connect({ host: target.host, port: target.port });
    socket.setTimeout(GRAPHITE_FLUSH_MS);
    socket.on('timeout', () => socket.destroy(new Error('timed out')));
    socket.on('error', (err) => report.failed(err.message));
    socket.on('connect', () => socket.end(lines, report.worked));
  };
  const timer = setInterval(flush, GRAPHITE_FLUSH_MS).unref();
  return () => clearInterval(timer);
}

/**
 * --metrics-url: POST the JSON array every --metrics-interval (the first after one interval).
 * HTTPS verifies the collector against --cacert (or the system roots), TLS 1.2 at least.
 */
export function startUrlPush(url: string, intervalMs: number, view: MetricsView, trust: () => readonly string[], log: Log): () => void {
  const target = new URL(url);
  const report = failureLog(log, url);
  const post = (): void => {
    const body = JSON.stringify(view.json());
    const options = { method: 'POST', timeout: intervalMs, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } };
    const req =
      target.protocol === 'https:'
        ? httpsRequest(target, { ...options, ca: [...trust()], minVersion: 'TLSv1.2' })
        : httpRequest(target, options);
    req.on('response', (res) => {
      res.resume();
      const status = res.statusCode ?? 0;
      if (status >= 200 && status < 300) report.worked();
      else report.failed(`collector answered ${status}`);
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (err) => report.failed(err.message));
    req.end(body);
  };
  const timer = setInterval(post, intervalMs).unref();
  return () => clearInterval(timer);
}
