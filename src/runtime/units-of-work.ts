import type { ConnectionCensus } from '../tunnel/connection-table.ts';

/**
 * One event loop's live units of work, what /debug/pprof/goroutine counts in place of Go's
 * goroutines: each side of every open connection, the handshakes and dials under way, and the
 * loop's active libuv handles and requests (timers, sockets Node owns, worker ports, watchers).
 */
export interface LoopUnits {
  readonly connections: ConnectionCensus;
  /** process.getActiveResourcesInfo(), by type ("Timeout", "TCPSocketWrap", …). */
  readonly resources: Readonly<Record<string, number>>;
}

/** This thread's units of work (a worker calls it for itself, and answers the main thread with it). */
export function unitsOfWork(connections: ConnectionCensus): LoopUnits {
  const resources: Record<string, number> = {};
  for (const type of process.getActiveResourcesInfo()) resources[type] = (resources[type] ?? 0) + 1;
  return { connections, resources };
}
