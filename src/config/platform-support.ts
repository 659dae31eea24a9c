// What this platform can run of a configuration (src/sys/platform.ts). A feature it lacks is
// refused with the configuration's other errors, before anything binds, in one line that names
// the platform and what to use instead.
import { StartupError } from '../cli/errors.ts';
import type { Address } from '../net/address.ts';
import { unavailable, type System } from '../sys/platform.ts';
import type { Config } from './types.ts';

/** The one line refusing --syslog where the platform has no UNIX datagrams. */
export function syslogUnavailable(system: System): string {
  return unavailable('--syslog', system, "drop it and keep standard output (the service manager's log, or a file it writes to)");
}

function checkAddress(flag: string, address: Address | undefined, system: System): void {
  if (address?.kind === 'systemd' && !system.systemd) throw new StartupError(unavailable(`--${flag} ${address.text}`, system, `use --${flag} HOST:PORT`));
  if (address?.kind === 'launchd') throw new StartupError(`--${flag} ${address.text}: launchd socket activation is not implemented (this is ${system.name}); use --${flag} HOST:PORT or unix:PATH`);
  if (address?.kind === 'unix' && !system.unixSockets) {
    throw new StartupError(`--${flag} ${address.text}: UNIX sockets are not available on ${system.name}, where Node's socket paths are named pipes; use --${flag} HOST:PORT`);
  }
}

export function checkPlatform(config: Config, system: System): void {
  checkAddress('listen', config.listen, system);
  checkAddress('target', config.target, system);
  checkAddress('status', config.status?.address, system);
  const { lifecycle } = config;
  if (lifecycle.syslog && system.datagrams === undefined) throw new StartupError(syslogUnavailable(system));
  if (lifecycle.workers > 1 && system.descriptors === undefined) throw new StartupError(unavailable(`--workers ${lifecycle.workers}`, system, 'use --workers 1'));
  if (lifecycle.upgradeExec !== undefined && system.descriptors === undefined) {
    throw new StartupError(unavailable('--upgrade-exec (hand-off upgrades)', system, 'drop it and restart the service to upgrade'));
  }
}
