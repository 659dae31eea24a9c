// A worker's tunnel events travel to the main thread in batches (one message per turn of the
// worker's event loop), where they feed the metrics and the connection count that status,
// --max-concurrent-conns and the drain read: the workers add up to one daemon.
import type { TunnelEvents } from '../tunnel/events.ts';
import type { ConnectionTracker } from '../tunnel/tracker.ts';

const REASONS = ['tls', 'verify', 'denied', 'timeout', 'dial'] as const;
const ACCEPTED = 0;
const ACCEPT_ERROR = 1;
const HANDSHAKE_DONE = 2;
const HANDSHAKE_FAILED = 3;
const PIPING = 4;
const CLOSED = 5;

/** TunnelEvents that record into a flat number array and send it once per event-loop turn. */
export function batchingEvents(send: (batch: number[]) => void): TunnelEvents & { flush(): void } {
  let batch: number[] = [];
  let scheduled = false;
  const flush = (): void => {
    scheduled = false;
    if (batch.length === 0) return;
    const out = batch;
    batch = [];
    send(out);
  };
  const record = (...values: number[]): void => {
    batch.push(...values);
    if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
  };
  return {
    accepted: () => record(ACCEPTED),
    acceptError: () => record(ACCEPT_ERROR),
    handshakeDone: (ms) => record(HANDSHAKE_DONE, ms),
    handshakeFailed: (reason) => record(HANDSHAKE_FAILED, REASONS.indexOf(reason)),
    piping: () => record(PIPING),
    closed: (lifetimeMs, forwarded, returned, timedOut) => record(CLOSED, lifetimeMs, forwarded, returned, timedOut ? 1 : 0),
    flush,
  };
}

/** Plays a worker's batch into the main thread's events and connection count; returns the change in open connections. */
export function replayEvents(batch: readonly number[], events: TunnelEvents, tracker: ConnectionTracker): number {
  let opened = 0;
  for (let i = 0; i < batch.length; ) {
    switch (batch[i++]) {
      case ACCEPTED:
        opened++;
        tracker.add();
        events.accepted();
        break;
      case ACCEPT_ERROR:
        events.acceptError();
        break;
      case HANDSHAKE_DONE:
        events.handshakeDone(batch[i++]!);
        break;
      case HANDSHAKE_FAILED:
        events.handshakeFailed(REASONS[batch[i++]!]!);
        opened--;
        tracker.remove();
        break;
      case PIPING:
        events.piping();
        break;
      case CLOSED:
        events.closed(batch[i]!, batch[i + 1]!, batch[i + 2]!, batch[i + 3] === 1);
        i += 4;
        opened--;
        tracker.remove();
        break;
      default:
        throw new Error(`internal: unknown tunnel event code ${batch[i - 1]}`);
    }
  }
  return opened;
}
