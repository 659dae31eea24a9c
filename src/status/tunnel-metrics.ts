import type { ReloadOutcome } from '../reload/reloader.ts';
import type { TunnelEvents } from '../tunnel/events.ts';
import { TimerStats } from './timer-stats.ts';

/** Ghostunnel's counters (spec §2.13), by their go-metrics names. conn.open goes up and down. */
export const GHOSTUNNEL_COUNTERS = ['accept.total', 'accept.success', 'accept.error', 'accept.timeout', 'conn.open', 'conn.timeout'] as const;
export type GhostunnelCounter = (typeof GHOSTUNNEL_COUNTERS)[number];

export const HANDSHAKE_FAILURE_REASONS = ['tls', 'verify', 'denied', 'timeout', 'dial'] as const;
export type HandshakeFailureReason = (typeof HANDSHAKE_FAILURE_REASONS)[number];

/** success: new credentials swapped in; unchanged: the files had not changed; failure: refused. */
export const RELOAD_RESULTS = ['success', 'unchanged', 'failure'] as const;
export type ReloadResult = (typeof RELOAD_RESULTS)[number];

const HANDSHAKE_BUCKETS_S = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const LIFETIME_BUCKETS_S = [0.01, 0.1, 1, 10, 60, 300, 900, 3600, 14400, 86400];

export function reloadResult(outcome: ReloadOutcome): ReloadResult {
  if (!outcome.ok) return 'failure';
  return outcome.changed ? 'success' : 'unchanged';
}

/**
 * The tunnel's numbers, updated from the connection path. Every update is an increment of a field
 * that exists from the start (no allocation, no lookup by label); the exporters read them when
 * asked, at scrape or push time.
 */
export class TunnelMetrics implements TunnelEvents {
  readonly counters: Record<GhostunnelCounter, number> = {
    'accept.total': 0,
    'accept.success': 0,
    'accept.error': 0,
    'accept.timeout': 0,
    'conn.open': 0,
    'conn.timeout': 0,
  };
  readonly handshakeFailures: Record<HandshakeFailureReason, number> = { tls: 0, verify: 0, denied: 0, timeout: 0, dial: 0 };
  readonly reloads: Record<ReloadResult, number> = { success: 0, unchanged: 0, failure: 0 };
  /** Bytes from the accepting side to the dialed side (forwarded) and back (returned). */
  readonly bytes = { forwarded: 0, returned: 0 };
  /** conn.handshake: server-side TLS handshake time (not in client mode, as in Ghostunnel). */
  readonly handshake = new TimerStats(HANDSHAKE_BUCKETS_S);
  /** conn.lifetime: accept to close, for connections that were piped. */
  readonly lifetime = new TimerStats(LIFETIME_BUCKETS_S);
  readonly #ticker: NodeJS.Timeout;

  constructor() {
    this.#ticker = setInterval(() => {
      this.handshake.tick();
      this.lifetime.tick();
    }, 5000).unref();
  }

  accepted(): void {
    this.counters['accept.total']++;
    this.counters['conn.open']++;
  }

  acceptError(): void {
    this.counters['accept.error']++;
  }

  handshakeDone(ms: number): void {
    this.handshake.update(ms);
  }

  /** A handshake timeout counts as accept.timeout; every other failure as accept.error. */
  handshakeFailed(reason: HandshakeFailureReason): void {
    this.handshakeFailures[reason]++;
    this.counters[reason === 'timeout' ? 'accept.timeout' : 'accept.error']++;
    this.counters['conn.open']--;
  }

  piping(): void {
    this.counters['accept.success']++;
  }

  closed(lifetimeMs: number, forwarded: number, returned: number, timedOut: boolean): void {
    this.counters['conn.open']--;
    if (timedOut) this.counters['conn.timeout']++;
    this.bytes.forwarded += forwarded;
    this.bytes.returned += returned;
    this.lifetime.update(lifetimeMs);
  }

  reloaded(outcome: ReloadOutcome): void {
    this.reloads[reloadResult(outcome)]++;
  }

  stop(): void {
    clearInterval(this.#ticker);
  }
}
