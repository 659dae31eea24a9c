import { constants } from 'node:os';
import type { ReloadTrigger } from '../reload/reloader.ts';
import { system, type SignalTable } from '../sys/platform.ts';

export interface SignalHandlers {
  readonly reload: (trigger: ReloadTrigger) => void;
  readonly shutdown: (signal: NodeJS.Signals) => void;
  /** SIGUSR2: hand the listening sockets to a new process, then drain (docs/upgrades.md). */
  readonly upgrade: () => void;
}

/**
 * The platform's signals (src/sys): on Unix SIGHUP and SIGUSR1 reload, SIGTERM and SIGINT drain,
 * SIGUSR2 upgrades; Windows has Ctrl-C and Ctrl-Break only, and reloads without signals. A name
 * this Node.js does not know as a signal here is skipped rather than registered as a plain event.
 * Returns the signals handled.
 */
export function installSignalHandlers(handlers: SignalHandlers, table: SignalTable = system.signals): NodeJS.Signals[] {
  const handled: NodeJS.Signals[] = [];
  const on = (signal: NodeJS.Signals, handle: () => void): void => {
    if (!(signal in constants.signals)) return;
    process.on(signal, handle);
    handled.push(signal);
  };
  for (const signal of table.reload) on(signal, () => handlers.reload(signal));
  for (const signal of table.shutdown) on(signal, () => handlers.shutdown(signal));
  for (const signal of table.upgrade) on(signal, () => handlers.upgrade());
  return handled;
}
