import type { PeerIdentity } from '../auth/peer.ts';
import type { ConnectionEnd } from '../engine/engine.ts';
import type { Log } from '../log/logger.ts';
import type { TunnelEvents } from './events.ts';
import { formatBytes } from './format.ts';
import type { OpenConnections } from './open-connections.ts';

/** What both tunnels account with once a connection pipes. */
export interface PipingDeps {
  readonly log: Log;
  readonly events: TunnelEvents;
  readonly connections: OpenConnections;
}

/** A connection's facts for the "opening pipe" and "closed pipe" lines and the metrics. */
export interface PipeAccount {
  /** performance.now() at accept: the lifetime counts the handshake too. */
  readonly started: number;
  /** The accepted side's address ("tcp:1.2.3.4:5555"). */
  readonly from: string;
  /** "<from> [who] <-> <target> [who]", as Ghostunnel's connection lines print it. */
  route: string;
  readonly target: string;
  peer: PeerIdentity | undefined;
  piped: boolean;
  /** Takes it off the re-authorization list. */
  forget: (() => void) | undefined;
}

/**
 * Bytes flow: logs "opening pipe" and registers a certificate-bearing connection for
 * re-authorization, which closes it with `close`.
 */
export function openedPipe(deps: PipingDeps, c: PipeAccount, close: () => void): void {
  c.piped = true;
  deps.events.piping();
  deps.log.conn(`opening pipe: ${c.route}`, { peer: c.from, subject: c.peer?.subject, target: c.target });
  if (c.peer !== undefined) c.forget = deps.connections.add({ peer: c.peer, from: c.from, close });
}

/** The pipe closed: metrics, the "closed pipe" line, and an unusual copy error if there was one. */
export function closedPipe(deps: PipingDeps, c: PipeAccount, end: ConnectionEnd): void {
  c.forget?.();
  const lifetimeMs = performance.now() - c.started;
  deps.events.closed(lifetimeMs, end.forwarded, end.returned, end.timedOut);
  const open = (lifetimeMs / 1000).toFixed(6);
  deps.log.conn(`closed pipe: ${c.route} [forwarded ${formatBytes(end.forwarded)}, returned ${formatBytes(end.returned)}, open ${open}s]`, {
    peer: c.from,
    forwarded: end.forwarded,
    returned: end.returned,
    duration_s: Number(open),
    timed_out: end.timedOut,
  });
  if (end.message !== null) deps.log.connError(`error during copy: ${end.message}`, { peer: c.from });
}
