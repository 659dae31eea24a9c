import type { Server } from 'node:net';
import { StartupError } from '../cli/errors.ts';
import { system as thisSystem, unavailable, type Descriptors, type System } from '../sys/platform.ts';
import type { Address } from './address.ts';
import { isIP } from './ip.ts';
import { errnoText } from './go-errors.ts';
import { HeldSocket } from './held-socket.ts';
import { handedOverSocket, HANDOFF_NAMES, systemdSocket, type ListenerRole } from './inherited-sockets.ts';
import { BACKLOG, Listener, SOCKET_OPTIONS, type BoundSocket, type ListenerOptions } from './listener.ts';

export interface ListenOptions extends ListenerOptions {
  /** Which of the daemon's sockets this is: a hand-off passes each on under its role's name. */
  readonly role: ListenerRole;
  /**
   * Bind now, listen when the Listener first starts (the status port): an address that cannot be
   * bound still fails the start before anything listens, and until it serves, connections to a
   * socket we bind ourselves are refused rather than queued. Inherited sockets listen already.
   * Where Node holds the socket (no descriptor calls), it listens at once and what arrives waits,
   * unread, until the Listener starts.
   */
  readonly bindOnly?: boolean;
  /** The platform's calls (this machine's unless a test picks another). */
  readonly system?: System;
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
 * Without descriptor calls (src/sys/portable.ts), Node holds a HOST:PORT or unix:PATH socket
 * itself (no SO_REUSEPORT, which Node has on Linux and a few BSDs only), and nothing is inherited.
 */
export async function listen(addr: Address, options: ListenOptions): Promise<Listener> {
  return new Listener(await bindSocket(addr, options.role, options.bindOnly === true, options.system ?? thisSystem), options);
}

async function bindSocket(addr: Address, role: ListenerRole, bindOnly: boolean, system: System): Promise<BoundSocket> {
  const calls = system.descriptors;
  switch (addr.kind) {
    case 'systemd': {
      if (!system.systemd || calls === undefined) throw new StartupError(unavailable(addr.text, system, 'use HOST:PORT'));
      const fd = systemdSocket(addr.name);
      return { ...(await adopt(fd, calls)), ownedPath: undefined, name: addr.name, listening: true };
    }
    case 'launchd':
      throw new StartupError(`invalid address ${addr.text}: launchd socket activation is not implemented (use HOST:PORT or unix:PATH)`);
    case 'tcp':
    case 'unix': {
      const name = HANDOFF_NAMES[role];
      const ownedPath = addr.kind === 'unix' ? addr.path : undefined;
      if (calls === undefined) return { ...(await hold(addr)), ownedPath, name, listening: true };
      const inherited = handedOverSocket(role);
      if (inherited !== undefined) return { ...(await adopt(inherited, calls)), ownedPath, name, listening: true };
      if (addr.kind === 'unix') {
        try {
          const fd = calls.bindUnixStream(addr.path);
          if (!bindOnly) calls.listenOn(fd, BACKLOG);
          return { fd, address: addr.path, ownedPath, name, listening: !bindOnly };
        } catch (err) {
          throw new StartupError(`unable to listen on ${addr.text}: ${(err as Error).message}`);
        }
      }
      return { ...tcpSocket(calls, await hostOf(addr), addr.port, addr.text, !bindOnly), ownedPath, name, listening: !bindOnly };
    }
  }
}

/** The portable route: a listening net.Server whose connections wait, unread, for an acceptor. */
async function hold(addr: Extract<Address, { kind: 'tcp' | 'unix' }>): Promise<{ held: HeldSocket; address: string }> {
  const where = addr.kind === 'unix' ? { path: addr.path } : { host: await hostOf(addr), port: addr.port };
  const server = await bound(process.getBuiltinModule('node:net').createServer({ ...SOCKET_OPTIONS, pauseOnConnect: true }), { ...where, backlog: BACKLOG }, addr.text);
  return { held: new HeldSocket(server, BACKLOG), address: addressOf(server) };
}

/**
 * Ghostunnel's bind address: an empty host is the IPv4 wildcard, an address itself (no resolver
 * loaded for it), a name the one address it resolves to.
 */
async function hostOf(addr: Extract<Address, { kind: 'tcp' }>): Promise<string> {
  if (addr.host === '') return '0.0.0.0';
  return isIP(addr.host) !== 0 ? addr.host : await resolveOne(addr.host, addr.text);
}

/**
 * A TCP socket bound to `ip` with SO_REUSEPORT (a successor binds beside us), listening unless
 * `listen` is false, and its address as Node names a listening server's ("[::1]:8443"). Bound with
 * the platform's calls: a net.Server would load Node's cluster module (and child_process with it)
 * only to be closed again. A failure is worded as Go's: "listen tcp 127.0.0.1:8443: bind: address
 * already in use".
 */
function tcpSocket(calls: Descriptors, ip: string, port: number, text: string, listen: boolean): { fd: number; address: string } {
  const host = ip.includes(':') ? `[${ip.replace(/%.*$/, '')}]` : ip;
  let bound: { fd: number; port: number } | undefined;
  try {
    bound = calls.bindTcp(ip, port);
    if (listen) calls.listenOn(bound.fd, BACKLOG);
    return { fd: bound.fd, address: `${host}:${bound.port}` };
  } catch (err) {
    if (bound !== undefined) calls.close(bound.fd);
    const code = (err as NodeJS.ErrnoException).code;
    const reason = code === undefined ? undefined : errnoText(code);
    throw new StartupError(`unable to listen on ${text}: ${reason === undefined ? (err as Error).message : `listen tcp ${host}:${port}: bind: ${reason}`}`);
  }
}

/**
 * Takes an inherited descriptor: moved to a close-on-exec one (so it leaks into no child but the
 * successor it is explicitly passed to), and asked for the address it is bound to.
 */
async function adopt(inherited: number, calls: Descriptors): Promise<{ fd: number; address: string }> {
  const fd = calls.dup(inherited);
  calls.close(inherited);
  const path = calls.unixSocketPath(fd);
  if (path !== undefined) return { fd, address: path };
  const probe = await bound(process.getBuiltinModule('node:net').createServer(), { fd: calls.dup(fd), backlog: BACKLOG }, `inherited descriptor ${inherited}`);
  const address = addressOf(probe);
  probe.close();
  return { fd, address };
}

/** Listens; a failure is worded as Go's ("listen tcp 127.0.0.1:8443: bind: address already in use"). */
function bound(server: Server, options: Parameters<Server['listen']>[0] & { host?: string; port?: number }, what: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      const text = err.code === undefined || options.port === undefined ? undefined : errnoText(err.code);
      const host = options.host?.includes(':') ? `[${options.host}]` : options.host;
      reject(new StartupError(`unable to listen on ${what}: ${text === undefined ? err.message : `listen tcp ${host}:${options.port}: bind: ${text}`}`));
    });
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
