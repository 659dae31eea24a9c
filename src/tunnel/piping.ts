import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { PeerIdentity } from '../auth/peer.ts';
import type { Log } from '../log/logger.ts';
import type { TunnelEvents } from './events.ts';
import { formatBytes } from './format.ts';
import type { OpenConnections } from './open-connections.ts';
import { pipeBoth, type PipeTimeouts } from './pipe.ts';
import type { ConnectionTracker } from './tracker.ts';

/** What both tunnels hand over once a connection is admitted and dialed. */
export interface PipingDeps {
  readonly log: Log;
  readonly events: TunnelEvents;
  readonly tracker: ConnectionTracker;
  readonly connections: OpenConnections;
}

export interface AdmittedConnection {
  readonly accepted: Socket;
  readonly dialed: Socket;
  /** The side whose byte counts are plaintext (the backend in server mode, the local socket in client mode). */
  readonly plainSide: Socket;
  readonly peer: PeerIdentity | undefined;
  /** The accepted side's address ("tcp:1.2.3.4:5555"). */
  readonly from: string;
  /** "<from> [who] <-> <target> [who]", as Ghostunnel's connection lines print it. */
  readonly route: string;
  readonly target: string;
  /** performance.now() at accept: the lifetime counts the handshake too. */
  readonly started: number;
  readonly timeouts: PipeTimeouts;
}

/**
 * The common end of both tunnels: logs "opening pipe", registers a certificate-bearing connection
 * for re-authorization, pipes, then accounts for the close (metrics, "closed pipe", the tracker).
 */
export function startPiping(deps: PipingDeps, c: AdmittedConnection): void {
  const { log, events, tracker, connections } = deps;
  events.piping();
  log.conn(`opening pipe: ${c.route}`, { peer: c.from, subject: c.peer?.subject, target: c.target });
  const forget =
    c.peer === undefined
      ? undefined
      : connections.add({
          peer: c.peer,
          from: c.from,
          close: () => {
            c.accepted.destroy();
            c.dialed.destroy();
          },
        });
  pipeBoth(c.accepted, c.dialed, c.plainSide, c.timeouts, (r) => {
    forget?.();
    const lifetimeMs = performance.now() - c.started;
    events.closed(lifetimeMs, r.forwarded, r.returned, r.timedOut);
    const open = (lifetimeMs / 1000).toFixed(6);
    log.conn(`closed pipe: ${c.route} [forwarded ${formatBytes(r.forwarded)}, returned ${formatBytes(r.returned)}, open ${open}s]`, {
      peer: c.from,
      forwarded: r.forwarded,
      returned: r.returned,
      duration_s: Number(open),
      timed_out: r.timedOut,
    });
    if (r.error) log.connError(`error during copy: ${r.error.message}`, { peer: c.from });
    tracker.remove();
  });
}
