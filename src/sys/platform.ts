// What the operating system lets the daemon do beyond Node's own API, picked once by
// process.platform: Linux (src/sys/linux.ts: descriptors, UNIX datagrams, systemd, /proc) or the
// portable route everywhere else (src/sys/portable.ts: Node's API only). Nothing outside src/sys
// names a system call, a constant or a path of one platform; features ask the System here, and a
// feature the platform lacks is refused at start with `unavailable`.
import { linux } from './linux.ts';
import { portable } from './portable.ts';

/** Listening sockets held as descriptors: paused without losing queued connections, shared with workers, handed to a successor. */
export interface Descriptors {
  /** A new close-on-exec descriptor (3 or above) for the same open socket. */
  dup(fd: number): number;
  close(fd: number): void;
  /** Lets a descriptor survive the sandbox's re-exec. */
  keepAcrossExec(fd: number): void;
  /** The path a UNIX socket is bound to ("@name" if abstract), or undefined for another family. */
  unixSocketPath(fd: number): string | undefined;
  /** A UNIX stream socket bound at `path`, not listening yet; fails if the path exists. */
  bindUnixStream(path: string): number;
  /** A TCP socket bound (SO_REUSEADDR, SO_REUSEPORT) but not listening yet: connections are refused until listenOn(). */
  bindTcp(ip: string, port: number): { fd: number; port: number };
  /** Makes a bound socket listen (a no-op but for the backlog on one that listens already). */
  listenOn(fd: number, backlog: number): void;
}

/** A connected UNIX datagram socket whose send() never blocks. */
export interface DatagramSocket {
  readonly path: string;
  /** False when the receiver had no room (the datagram is dropped); throws on other errors. */
  send(data: Buffer): boolean;
  close(): void;
}

/** The signals the daemon handles here, by what they do. */
export interface SignalTable {
  readonly reload: readonly ('SIGHUP' | 'SIGUSR1')[];
  readonly shutdown: readonly NodeJS.Signals[];
  /** The hand-off upgrade (docs/upgrades.md). */
  readonly upgrade: readonly NodeJS.Signals[];
}

export interface System {
  /** process.platform: "linux", "darwin", "win32", … */
  readonly name: NodeJS.Platform;
  /** undefined: Node holds the listening sockets (src/net/held-socket.ts): no workers, no hand-off. */
  readonly descriptors: Descriptors | undefined;
  /** sd_notify and --syslog; undefined where Node cannot open one. */
  readonly datagrams: ((path: string) => DatagramSocket) | undefined;
  /** systemd socket activation (LISTEN_FDS) and readiness notification (NOTIFY_SOCKET). */
  readonly systemd: boolean;
  /** unix:PATH listeners and targets (on Windows, Node's paths are named pipes). */
  readonly unixSockets: boolean;
  /** The process can execute itself again in place (process.execve), which entering the sandbox needs. */
  readonly reexec: boolean;
  /** Native addons are loaded (koffi for the calls above, the native data plane): the sandbox allows them. */
  readonly addons: boolean;
  /** Where a local syslog daemon listens, in Go's order. */
  readonly syslogPaths: readonly string[];
  readonly signals: SignalTable;
  /** Files about the process itself that its metrics and diagnostics read (the sandbox allows them). */
  readonly processFiles: (pid: number) => readonly string[];
  /** Files telling what happens to a closed listener's queued connections (the reusePort replacement warning). */
  readonly acceptQueueFiles: readonly string[];
  /** The file a thread reads to learn its own id (the sandbox allows it when OPA threads run). */
  readonly threadFiles: readonly string[];
  /** The calling thread's id for setpriority(2), where threads have their own nice value. */
  readonly threadId: (() => number) | undefined;
  /** A RAM-backed directory, for a secret that must not reach a disk. */
  readonly ramDirectory: string | undefined;
}

export function systemFor(platform: NodeJS.Platform): System {
  return platform === 'linux' ? linux : portable(platform);
}

/** This machine's. */
export const system: System = systemFor(process.platform);

/** The one line refusing a Linux-only feature: what, the platform it runs on, what to do instead. */
export function unavailable(feature: string, on: System, alternative: string): string {
  return `${feature} is only available on Linux (this is ${on.name}); ${alternative}`;
}
