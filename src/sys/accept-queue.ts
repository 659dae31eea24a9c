// What happens to the connections still queued on a listening socket when it closes while another
// socket is bound to the same address with SO_REUSEPORT (a reusePort replacement): Linux 5.14 and
// later move them to that socket when net.ipv4.tcp_migrate_req is 1, and reset them when it is 0.
import { readFileSync } from 'node:fs';

export const MIGRATE_SYSCTL = '/proc/sys/net/ipv4/tcp_migrate_req';

/** false when queued connections are reset; undefined where it cannot be told (not Linux, an older kernel). */
export function queuedConnectionsMigrate(): boolean | undefined {
  if (process.platform !== 'linux') return undefined;
  try {
    return readFileSync(MIGRATE_SYSCTL, 'utf8').trim() !== '0';
  } catch {
    return undefined;
  }
}
