import type { Log } from '../log/logger.ts';
import type { ConnectionTracker } from '../tunnel/tracker.ts';

/** Something that accepts connections and can stop doing so (a Listener, the --workers loops); resolves once it has. */
export interface Closable {
  close(options?: { handedOver?: boolean }): void | Promise<void>;
}

/** The open connections a drain waits for (a ConnectionTracker). */
export type Draining = Pick<ConnectionTracker, 'open' | 'idle'>;

export interface DrainOptions {
  /** --shutdown-timeout. */
  readonly timeoutMs: number;
  /** A successor accepts on the same sockets now: keep their paths. */
  readonly handedOver: boolean;
}

/**
 * Graceful shutdown: stop accepting, let open connections finish, and report the exit code:
 * 0 when drained, 1 when --shutdown-timeout came first. Handshakes and dials already under way go
 * on too, within --connect-timeout, and are served: in a reusePort replacement the old process
 * has accepted them, and cutting them would fail a connection per replacement (Ghostunnel cancels
 * them).
 */
export async function drain(listeners: readonly Closable[], tracker: Draining, options: DrainOptions, log: Log): Promise<number> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<number>((resolve) => {
    timer = setTimeout(() => {
      log.error('graceful shutdown timeout: forcing exit', { open: tracker.open });
      resolve(1);
    }, Math.max(0, options.timeoutMs));
  });
  // Every loop has stopped accepting before the line says so: a client that reads it is refused.
  await Promise.all(listeners.map((l) => l.close({ handedOver: options.handedOver })));
  log.info('shutdown proxy, waiting for drain', { open: tracker.open });
  const code = await Promise.race([tracker.idle().then(() => 0), timedOut]);
  clearTimeout(timer);
  if (code === 0) log.info('drain complete, exiting');
  return code;
}
