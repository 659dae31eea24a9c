import type { Server } from 'node:net';
import { StartupError } from '../cli/errors.ts';
import { bindTcp, bindUnixStream, closeDescriptor, dupDescriptor, listenOn, unixSocketPath } from '../sys/libc.ts';
import type { Address } from './address.ts';
import { isIP } from './ip.ts';
import { errnoText } from './go-errors.ts';
import { handedOverSocket, HANDOFF_NAMES, systemdSocket, type ListenerRole } from './inherited-sockets.ts';
import { BACKLOG, Listener, type BoundSocket, type ListenerOptions } from './listener.ts';

export interface ListenOptions extends ListenerOptions {
  /** Which of the daemon's sockets this is: a hand-off passes each on under its role's name. */
  readonly role: ListenerRole;
  /**
   * Bind now, listen when the Listener first starts (the status port): an address that cannot be
   * bound still fails the start before anything listens, and until it serves, connections to a
   * socket we bind ourselves are refused rather than queued. Inherited sockets listen already.
   */
  readonly bindOnly?: boolean;
}

/**
 * Binds (or takes over) the socket for `addr` and returns a Listener that has not started
 * accepting yet. Where the socket comes from:
 * - systemd:NAME: the descriptor systemd passed under that name (never unlinked by us);
 * - a predecessor's socket for this role, after a hand-off upgrade (no bind at all);
 * - HOST:PORT: bound like Ghostunnel: an empty host is the IPv4 wildcard, a host name binds the one
 *   address it resolves to (IPv4 first), and SO_REUSEPORT lets a successor bind beside us;
 * - unix:PATH: a new socket at PATH (an existing path is "address already in use"), unlinked on
 *   close unless handed over.
 */
export async function listen(addr: Address, options: ListenOptions): Promise<Listener> {
  return new Listener(await bindSocket(addr, options.role, options.bindOnly === true), options);
}

async function bindSocket(addr: Address, role: ListenerRole, bindOnly: boolean): Promise<BoundSocket> {
  switch (addr.kind) {
    case 'systemd': {
      const fd = systemdSocket(addr.name);
      return { ...(await adopt(fd)), ownedPath: undefined, name: addr.name, listening: true };
    }
    case 'launchd':
      throw new StartupError(`invalid address ${addr.text}: launchd sockets are only supported on macOS (use systemd:NAME, unix:PATH or HOST:PORT here)`);
    case 'tcp':
    case 'unix': {
      const name = HANDOFF_NAMES[role];
      const ownedPath = addr.kind === 'unix' ? addr.path : undefined;
      const inherited = handedOverSocket(role);
      if (inherited !== undefined) return { ...(await adopt(inherited)), ownedPath, name, listening: true };
      if (addr.kind === 'unix') {
        try {
          const fd = bindUnixStream(addr.path);
          if (!bindOnly) listenOn(fd, BACKLOG);
          return { fd, address: addr.path, ownedPath, name, listening: !bindOnly };
        } catch (err) {
          throw new StartupError(`unable to listen on ${addr.text}: ${(err as Error).message}`);
        }
      }
      const host = addr.host === '' ? '0.0.0.0' : isIP(addr.host) !== 0 ? addr.host : await resolveOne(addr.host, addr.text);
      return { ...tcpSocket(host, addr.port, addr.text, !bindOnly), ownedPath, name, listening: !bindOnly };
    }
  }
}

/**
 * A TCP socket bound to `ip` with SO_REUSEPORT (a successor binds beside us), listening unless
 * `listen` is false, and its address as Node names a listening server's ("[::1]:8443"). Bound with
 * plain system calls: a net.Server would load Node's cluster module (and child_process with it)
 * only to be closed again. A failure is worded as Go's: "listen tcp 127.0.0.1:8443: bind: address
 * already in use".
 */
function tcpSocket(ip: string, port: number, text: string, listen: boolean): { fd: number; address: string } {
  const host = ip.includes(':') ? `[${ip.replace(/%.*$/, '')}]` : ip;
  let bound: { fd: number; port: number } | undefined;
  try {
    bound = bindTcp(ip, port);
    if (listen) listenOn(bound.fd, BACKLOG);
    return { fd: bound.fd, address: `${host}:${bound.port}` };
  } catch (err) {
    if (bound !== undefined) closeDescriptor(bound.fd);
    const code = (err as NodeJS.ErrnoException).code;
    const reason = code === undefined ? undefined : errnoText(code);
    throw new StartupError(`unable to listen on ${text}: ${reason === undefined ? (err as Error).message : `listen tcp ${host}:${port}: bind: ${reason}`}`);
  }
}

/**
 * Takes an inherited descriptor: moved to a close-on-exec one (so it leaks into no child but the
 * successor it is explicitly passed to), and asked for the address it is bound to.
 */
async function adopt(inherited: number): Promise<{ fd: number; address: string }> {
  const fd = dupDescriptor(inherited);
  closeDescriptor(inherited);
  const path = unixSocketPath(fd);
  if (path !== undefined) return { fd, address: path };
  const probe = await bound(process.getBuiltinModule('node:net').createServer(), { fd: dupDescriptor(fd), backlog: BACKLOG }, `inherited descriptor ${inherited}`);
  const address = addressOf(probe);
  probe.close();
  return { fd, address };
}

/** Listens on an inherited descriptor (to ask Node for the address it is bound to). */
function bound(server: Server, options: { fd: number; backlog: number }, what: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    server.once('error', (err: Error) => reject(new StartupError(`unable to listen on ${what}: ${err.message}`)));
    server.listen(options, () => resolve(server));
  });
}

/** "127.0.0.1:41234", "[::1]:8443", or the socket path. */
function addressOf(server: Server): string {
  const a = server.address();
  if (a === null || typeof a === 'string') return a ?? '';
  return a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
}

async function resolveOne(host: string, text: string): Promise<string> {
  try {
    return (await process.getBuiltinModule('node:dns/promises').lookup(host, { order: 'ipv4first' })).address;
  } catch (err) {
    throw new StartupError(`unable to resolve listen address ${text}: ${(err as Error).message}`);
  }
}
