import type { Server } from 'node:net';
import type { Log } from '../log/logger.ts';
import type { ConnectionTracker } from '../tunnel/tracker.ts';

/**
 * Graceful shutdown: stop accepting, let open connections finish, and report the exit code:
 * 0 when drained, 1 when --shutdown-timeout came first.
 */
export async function drain(listeners: readonly Server[], tracker: ConnectionTracker, timeoutMs: number, log: Log): Promise<number> {
  log.info('shutdown proxy, waiting for drain', { open: tracker.open });
  for (const l of listeners) l.close();
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<number>((resolve) => {
    timer = setTimeout(() => {
      log.error('graceful shutdown timeout: forcing exit', { open: tracker.open });
      resolve(1);
    }, Math.max(0, timeoutMs));
  });
  const code = await Promise.race([tracker.idle().then(() => 0), timedOut]);
  clearTimeout(timer);
  if (code === 0) log.info('drain complete, exiting');
  return code;
}
