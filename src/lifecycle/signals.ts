import type { ReloadTrigger } from '../reload/reloader.ts';

export interface SignalHandlers {
  readonly reload: (trigger: ReloadTrigger) => void;
  readonly shutdown: (signal: NodeJS.Signals) => void;
  /** SIGUSR2: hand the listening sockets to a new process, then drain (docs/upgrades.md). */
  readonly upgrade: () => void;
}

/** Unix signals: SIGHUP and SIGUSR1 reload, SIGTERM and SIGINT drain, SIGUSR2 upgrades. */
export function installSignalHandlers(handlers: SignalHandlers): void {
  process.on('SIGHUP', () => handlers.reload('SIGHUP'));
  process.on('SIGUSR1', () => handlers.reload('SIGUSR1'));
  process.on('SIGTERM', () => handlers.shutdown('SIGTERM'));
  process.on('SIGINT', () => handlers.shutdown('SIGINT'));
  process.on('SIGUSR2', () => handlers.upgrade());
}
