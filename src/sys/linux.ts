// Linux (src/sys/platform.ts picks it there): the few system calls Node does not expose and the
// lifecycle needs, and where Linux keeps what the daemon reads about itself. The calls: duplicating
// a listening descriptor (so accepting can pause without the kernel dropping queued connections),
// binding a UNIX stream socket whose path we unlink ourselves, binding a socket that listens only
// later (the status port), and UNIX datagrams (sd_notify, /dev/log). Served by the native data
// plane's addon once it is loaded (native/syscalls.cc), otherwise through koffi, a maintained FFI
// that ships prebuilt binaries (nothing compiles at install time), loaded at the first call only.
// Linux values and struct layouts.
import { readlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { endianness } from 'node:os';
import { StartupError } from '../cli/errors.ts';
import { loadedAddonSyscalls, type AddonSyscalls } from '../engine/native.ts';
import { MIGRATE_SYSCTL } from './accept-queue.ts';
import type { System } from './platform.ts';
import { inetAddress, portOf } from './socket-address.ts';

/** The system calls this file makes: each returns what the call returns, -1 on failure with the reason in errno(). */
type Libc = AddonSyscalls;

const AF_UNIX = 1;
const SOL_SOCKET = 1;
const SO_REUSEADDR = 2;
const SO_REUSEPORT = 15;
const SOCK_STREAM = 1;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
const F_DUPFD_CLOEXEC = 1030;
const F_SETFD = 2;
const MSG_DONTWAIT = 0x40;
const MSG_NOSIGNAL = 0x4000;
/** sizeof(sockaddr_un.sun_path) on Linux. */
const SUN_PATH_MAX = 108;

let addonCalls: Libc | undefined;
let koffiCalls: Libc | undefined;

/**
 * The native data plane's addon serves these calls once the plane has loaded it, so that a daemon
 * with the default flags maps no FFI library. It is never loaded for them: --data-plane node must
 * not map the engine, and a machine without a compiler has none. Until then (and there) koffi
 * serves: the calls keep no state, so the two may follow each other.
 */
function load(): Libc {
  if (addonCalls) return addonCalls;
  if (process.platform !== 'linux') throw new StartupError(`this feature needs Linux system calls (running on ${process.platform})`);
  addonCalls = loadedAddonSyscalls();
  return addonCalls ?? (koffiCalls ??= koffiSyscalls());
}

type Fn = (...args: unknown[]) => number;

/** The same calls through koffi (exported for the test that holds both to the same results). */
export function koffiSyscalls(): Libc {
  const koffi = createRequire(import.meta.url)('koffi') as typeof import('koffi');
  const self = koffi.load(null);
  const fcntl = self.func('int fcntl(int fd, int cmd, ...)') as Fn;
  const bind = self.func('int bind(int fd, const void *addr, uint32_t len)') as Fn;
  const setsockopt = self.func('int setsockopt(int fd, int level, int name, const void *value, uint32_t len)') as Fn;
  const connect = self.func('int connect(int fd, const void *addr, uint32_t len)') as Fn;
  const send = self.func('intptr_t send(int fd, const void *buf, size_t len, int flags)') as Fn;
  const getsockname = self.func('int getsockname(int fd, _Out_ void *addr, _Inout_ uint32_t *len)') as Fn;
  return {
    fcntl: (fd, cmd, arg) => fcntl(fd, cmd, 'int', arg),
    close: self.func('int close(int fd)') as Fn,
    socket: self.func('int socket(int domain, int type, int protocol)') as Fn,
    bind: (fd, addr) => bind(fd, addr, addr.length),
    listen: self.func('int listen(int fd, int backlog)') as Fn,
    setsockopt: (fd, level, name, value) => setsockopt(fd, level, name, value, value.length),
    connect: (fd, addr) => connect(fd, addr, addr.length),
    send: (fd, data, flags) => send(fd, data, data.length, flags),
    getsockname: (fd, addr) => {
      const len = [addr.length];
      return getsockname(fd, addr, len) < 0 ? -1 : len[0]!;
    },
    ifNameToIndex: self.func('unsigned int if_nametoindex(const char *name)') as (name: string) => number,
    errno: () => koffi.errno(),
  };
}

/** An Error like Node's own system errors: message "<syscall> <what>: <text>", code "EADDRINUSE". */
function sysError(syscall: string, what: string): NodeJS.ErrnoException {
  const errno = load().errno();
  const code = ERRNO_NAMES[errno] ?? `errno ${errno}`;
  const err: NodeJS.ErrnoException = new Error(`${syscall} ${what}: ${ERRNO_TEXT[code] ?? code}`);
  err.code = code;
  err.errno = errno;
  err.syscall = syscall;
  return err;
}

const ERRNO_NAMES: Record<number, string> = {
  1: 'EPERM', 2: 'ENOENT', 9: 'EBADF', 11: 'EAGAIN', 13: 'EACCES', 20: 'ENOTDIR', 22: 'EINVAL', 23: 'ENFILE', 24: 'EMFILE',
  30: 'EROFS', 36: 'ENAMETOOLONG', 88: 'ENOTSOCK', 91: 'EPROTOTYPE', 98: 'EADDRINUSE', 99: 'EADDRNOTAVAIL', 105: 'ENOBUFS', 111: 'ECONNREFUSED',
};
const ERRNO_TEXT: Record<string, string> = {
  EPERM: 'operation not permitted', ENOENT: 'no such file or directory', EACCES: 'permission denied', EAGAIN: 'resource temporarily unavailable',
  EMFILE: 'too many open files', ENFILE: 'too many open files in system', EADDRINUSE: 'address already in use', EADDRNOTAVAIL: 'cannot assign requested address', ECONNREFUSED: 'connection refused',
  ENOTDIR: 'not a directory', EROFS: 'read-only file system', ENAMETOOLONG: 'file name too long', ENOBUFS: 'no buffer space available',
  EPROTOTYPE: 'protocol wrong type for socket',
};

/**
 * sockaddr_un for a path, or for an abstract name when it starts with "@" (sd_notify's
 * convention): the leading byte becomes NUL and the length covers only the name.
 */
function unixAddress(path: string): Buffer {
  const abstract = path.startsWith('@');
  const name = Buffer.from(abstract ? path.slice(1) : path);
  if (name.length + 1 > SUN_PATH_MAX) throw Object.assign(new Error(`socket path too long (${name.length} bytes, at most ${SUN_PATH_MAX - 1}): ${path}`), { code: 'ENAMETOOLONG' });
  const addr = Buffer.alloc(2 + (abstract ? 1 : 0) + name.length + (abstract ? 0 : 1));
  if (endianness() === 'LE') addr.writeUInt16LE(AF_UNIX, 0);
  else addr.writeUInt16BE(AF_UNIX, 0);
  name.copy(addr, abstract ? 3 : 2);
  return addr;
}

/** A new descriptor (close-on-exec, numbered 3 or above) for the same open socket. */
export function dupDescriptor(fd: number): number {
  const copy = load().fcntl(fd, F_DUPFD_CLOEXEC, 3);
  if (copy < 0) throw sysError('dup', `fd ${fd}`);
  return copy;
}

/**
 * Lets a descriptor survive an exec: Node.js marks every descriptor it finds at start-up
 * close-on-exec, inherited ones included, so they would be lost when the process re-executes itself.
 */
export function keepAcrossExec(fd: number): void {
  if (load().fcntl(fd, F_SETFD, 0) < 0) throw sysError('fcntl', `fd ${fd}`);
}

export function closeDescriptor(fd: number): void {
  load().close(fd);
}

/**
 * The path a UNIX socket is bound to ("@name" for an abstract one, "" for none), or undefined for
 * other families. Node reports no path for a socket it did not bind itself (an inherited one).
 */
export function unixSocketPath(fd: number): string | undefined {
  const addr = Buffer.alloc(2 + SUN_PATH_MAX);
  const len = load().getsockname(fd, addr);
  if (len < 0) throw sysError('getsockname', `fd ${fd}`);
  const family = endianness() === 'LE' ? addr.readUInt16LE(0) : addr.readUInt16BE(0);
  if (family !== AF_UNIX) return undefined;
  const path = addr.subarray(2, len);
  if (path.length > 0 && path[0] === 0) return `@${path.subarray(1).toString()}`;
  const end = path.indexOf(0);
  return path.subarray(0, end < 0 ? path.length : end).toString();
}

/** A UNIX stream socket bound at `path` (close-on-exec), not listening yet; fails if the path exists. */
export function bindUnixStream(path: string): number {
  const c = load();
  const addr = unixAddress(path);
  const fd = c.socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw sysError('socket', 'unix');
  if (c.bind(fd, addr) < 0) {
    const err = sysError('listen unix', `${path}: bind`);
    c.close(fd);
    throw err;
  }
  return fd;
}

/**
 * A TCP socket bound to `ip`:`port` (close-on-exec) with SO_REUSEADDR and SO_REUSEPORT, as Node
 * binds the tunnel's, but not listening yet: connections to it are refused until listenOn().
 * Returns the descriptor and the port it got (`port` 0 picks one).
 */
export function bindTcp(ip: string, port: number): { fd: number; port: number } {
  const c = load();
  const { family, sockaddr: addr } = inetAddress(ip, port, (zone) => c.ifNameToIndex(zone));
  const fd = c.socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw sysError('socket', 'tcp');
  const one = Buffer.from(new Int32Array([1]).buffer);
  try {
    for (const option of [SO_REUSEADDR, SO_REUSEPORT]) if (c.setsockopt(fd, SOL_SOCKET, option, one) < 0) throw sysError('setsockopt', `${ip}:${port}`);
    if (c.bind(fd, addr) < 0) throw sysError('listen tcp', `${ip}:${port}: bind`);
    const bound = Buffer.alloc(28);
    if (c.getsockname(fd, bound) < 0) throw sysError('getsockname', `fd ${fd}`);
    return { fd, port: portOf(bound) };
  } catch (err) {
    c.close(fd);
    throw err;
  }
}

/** Makes a bound socket listen (a no-op but for the backlog on one that listens already). */
export function listenOn(fd: number, backlog: number): void {
  if (load().listen(fd, backlog) < 0) throw sysError('listen', `fd ${fd}`);
}

/**
 * A connected UNIX datagram socket. send() never blocks: a datagram the receiver has no room
 * for is dropped (EAGAIN), as a logger or a notifier must not stall the data path.
 */
export class UnixDatagramSocket {
  readonly path: string;
  #fd: number;

  constructor(path: string) {
    const c = load();
    this.path = path;
    const addr = unixAddress(path);
    const fd = c.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw sysError('socket', 'unixgram');
    if (c.connect(fd, addr) < 0) {
      const err = sysError('dial unixgram', path);
      c.close(fd);
      throw err;
    }
    this.#fd = fd;
  }

  /** Sends one datagram; throws on errors other than a full receive queue. */
  send(data: Buffer): boolean {
    if (this.#fd < 0) throw new Error(`unixgram ${this.path}: socket closed`);
    const c = load();
    if (c.send(this.#fd, data, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0) return true;
    const err = sysError('write unixgram', this.path);
    if (err.code === 'EAGAIN' || err.code === 'ENOBUFS') return false;
    throw err;
  }

  close(): void {
    if (this.#fd >= 0) load().close(this.#fd);
    this.#fd = -1;
  }
}

/** Where Go's log/syslog looks for the local daemon, in order. */
const SYSLOG_PATHS = ['/dev/log', '/var/run/syslog', '/var/run/log'] as const;

export const linux: System = {
  name: 'linux',
  descriptors: { dup: dupDescriptor, close: closeDescriptor, keepAcrossExec, unixSocketPath, bindUnixStream, bindTcp, listenOn },
  datagrams: (path) => new UnixDatagramSocket(path),
  systemd: true,
  unixSockets: true,
  reexec: true,
  addons: true,
  syslogPaths: SYSLOG_PATHS,
  signals: { reload: ['SIGHUP', 'SIGUSR1'], shutdown: ['SIGTERM', 'SIGINT'], upgrade: ['SIGUSR2'] },
  processFiles: (pid) => ['/proc/self', `/proc/${pid}`],
  threadFiles: ['/proc/thread-self'],
  acceptQueueFiles: [MIGRATE_SYSCTL],
  threadId: () => Number(readlinkSync('/proc/thread-self').split('/').pop()),
  ramDirectory: '/dev/shm',
};
