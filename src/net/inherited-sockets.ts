// Listening sockets passed in by a service manager (systemd socket activation) or by the process we
// replace in a hand-off upgrade, with systemd's protocol in both cases: descriptors 3, 4, … with
// LISTEN_FDS=<count>, LISTEN_PID=<our pid> and LISTEN_FDNAMES=<name>:<name>:… (sd_listen_fds(3)).
import { StartupError } from '../cli/errors.ts';

/** The first inherited descriptor (SD_LISTEN_FDS_START). */
export const FIRST_INHERITED_FD = 3;

/** Names under which a predecessor hands over the sockets it bound itself. */
export const HANDOFF_NAMES = { listen: 'ghostunnel-listen', status: 'ghostunnel-status', acme: 'ghostunnel-acme-tls-alpn' } as const;
export type ListenerRole = keyof typeof HANDOFF_NAMES;

let table: ReadonlyMap<string, readonly number[]> | undefined;

/**
 * The inherited descriptors by name, read once: the variables are then removed from the
 * environment (as sd_listen_fds(1) does) so that no child mistakes them for its own, and a later
 * lookup (listen, then status) sees the same table.
 */
export function inheritedSockets(env: NodeJS.ProcessEnv = process.env): ReadonlyMap<string, readonly number[]> {
  if (table) return table;
  const byName = new Map<string, number[]>();
  const pid = env.LISTEN_PID;
  const count = Number(env.LISTEN_FDS ?? '0');
  if (pid !== undefined && Number(pid) === process.pid && Number.isInteger(count) && count > 0) {
    const names = env.LISTEN_FDNAMES?.split(':') ?? [];
    for (let i = 0; i < count; i++) {
      const name = names[i] || 'unknown';
      byName.set(name, [...(byName.get(name) ?? []), FIRST_INHERITED_FD + i]);
    }
  }
  delete env.LISTEN_PID;
  delete env.LISTEN_FDS;
  delete env.LISTEN_FDNAMES;
  table = byName;
  return table;
}

/** The descriptors passed to this process (LISTEN_FDS for our LISTEN_PID), without consuming the variables. */
export function passedDescriptors(env: NodeJS.ProcessEnv = process.env): number[] {
  const count = Number(env.LISTEN_FDS ?? '0');
  if (env.LISTEN_PID === undefined || Number(env.LISTEN_PID) !== process.pid || !Number.isInteger(count) || count <= 0) return [];
  return Array.from({ length: count }, (_, i) => FIRST_INHERITED_FD + i);
}

/** The one descriptor systemd passed under `name` (FileDescriptorName=), with Ghostunnel's errors. */
export function systemdSocket(name: string): number {
  const fds = inheritedSockets().get(name) ?? [];
  if (fds.length === 0) throw new StartupError(`expected listener with name ${name}, but found none`);
  if (fds.length > 1) throw new StartupError(`expected exactly 1 listening socket configured in systemd for name ${name}, found ${fds.length}`);
  return fds[0]!;
}

/** The socket a predecessor handed over for this role, if any. */
export function handedOverSocket(role: ListenerRole): number | undefined {
  return inheritedSockets().get(HANDOFF_NAMES[role])?.[0];
}
