import type { ReloadTrigger } from '../reload/reloader.ts';

export interface SignalHandlers {
  readonly reload: (trigger: ReloadTrigger) => void;
  readonly shutdown: (signal: NodeJS.Signals) => void;
}

/** Unix signals: SIGHUP and SIGUSR1 reload, SIGTERM and SIGINT drain. */
export function installSignalHandlers(handlers: SignalHandlers): void {
  process.on('SIGHUP', () => handlers.reload('SIGHUP'));
  process.on('SIGUSR1', () => handlers.reload('SIGUSR1'));
  process.on('SIGTERM', () => handlers.shutdown('SIGTERM'));
  process.on('SIGINT', () => handlers.shutdown('SIGINT'));
}
