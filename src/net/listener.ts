import { unlinkSync } from 'node:fs';
import type { Socket } from 'node:net';
import { system, type Descriptors } from '../sys/platform.ts';
import { goAcceptError } from './go-errors.ts';
import type { HeldSocket } from './held-socket.ts';

/** Why accepting is paused; accepting resumes when no reason is left. */
export type PauseReason = 'full' | 'backoff';

/** How a listener takes connections off its socket: Node's net.Server, or the data plane. */
export interface Acceptor {
  /** Starts accepting on `fd`, a descriptor it owns from now on; returns the function that stops (and closes it). */
  start(fd: number, listener: Listener): () => void;
  /**
   * Where Node holds the listening socket (no descriptors, src/sys/portable.ts): serves one
   * connection the listener accepted. It comes paused, nothing read yet: resume it, or wrap it.
   */
  take?(socket: Socket, listener: Listener): void;
}

export interface ListenerOptions {
  readonly acceptor: Acceptor;
  /** accept() failed (EMFILE and the like, in Go's words); accepting backs off, then resumes. */
  readonly onAcceptError?: (err: Error, retryInMs: number) => void;
}

/** A bound, listening socket as the listener takes it over. */
export type BoundSocket = {
  /** The bound address: "127.0.0.1:41234", "[::1]:8443", or a socket path. */
  readonly address: string;
  /** A UNIX socket path we created, to unlink on close; undefined for TCP and systemd sockets. */
  readonly ownedPath: string | undefined;
  /** The LISTEN_FDNAMES name under which a hand-off passes it on. */
  readonly name: string;
  /** False for a socket bound to listen only once the listener starts (ListenOptions.bindOnly). */
  readonly listening: boolean;
} & (
  | {
      /** The descriptor (where the platform has descriptors); the listener owns it from now on. */
      readonly fd: number;
    }
  | {
      /** The socket Node holds (portable route). */
      readonly held: HeldSocket;
    }
);

/** Options of the sockets accepted by Node (the status port, the portable route). */
export const SOCKET_OPTIONS = { allowHalfOpen: true, noDelay: true, keepAlive: true, keepAliveInitialDelay: 15_000 } as const;
/** Capped by the kernel at net.core.somaxconn, which is what Ghostunnel asks for. */
export const BACKLOG = 4096;
const BACKOFF_FIRST_MS = 5;
const BACKOFF_MAX_MS = 1000;

/**
 * A listening socket whose accepting can pause and resume without losing a queued connection.
 *
 * Closing a net.Server closes its socket, and the connections waiting in its accept queue would be
 * reset and new ones refused. So the listener holds the socket in a descriptor of its own, and
 * accepts through a duplicate of it (handed to an Acceptor). Pausing stops the acceptor (only the
 * duplicate goes); the socket stays bound and listening, so new connections complete the TCP
 * handshake and wait in the kernel backlog, as Ghostunnel's do when --max-concurrent-conns is
 * reached. Resuming starts the acceptor on a new duplicate. The held descriptor is also what a
 * hand-off upgrade passes to the successor. Where the platform has no descriptors, Node holds the
 * socket and queues what arrives while paused instead (HeldSocket).
 */
export class Listener {
  /** The held descriptor, for workers and a hand-off; undefined where Node holds the socket. */
  readonly fd: number | undefined;
  readonly address: string;
  readonly ownedPath: string | undefined;
  readonly name: string;
  readonly #held: HeldSocket | undefined;
  readonly #options: ListenerOptions;
  readonly #pauses = new Set<PauseReason>();
  #stop: (() => void) | undefined;
  #backoffMs = 0;
  #backoffTimer: NodeJS.Timeout | undefined;
  #closed = false;
  #listening: boolean;

  constructor(socket: BoundSocket, options: ListenerOptions) {
    this.fd = 'fd' in socket ? socket.fd : undefined;
    this.#held = 'held' in socket ? socket.held : undefined;
    this.address = socket.address;
    this.ownedPath = socket.ownedPath;
    this.name = socket.name;
    this.#listening = socket.listening;
    this.#options = options;
  }

  /** Whether accept() is currently being called. */
  get accepting(): boolean {
    return this.#stop !== undefined;
  }

  /** Starts accepting (unless a pause is in force); a socket bound only starts listening now. Throws when it cannot. */
  start(): void {
    if (!this.#listening && !this.#closed) {
      descriptors().listenOn(this.fd!, BACKLOG);
      this.#listening = true;
    }
    this.#update();
  }

  pause(reason: PauseReason): void {
    this.#pauses.add(reason);
    this.#update();
  }

  resume(reason: PauseReason): void {
    this.#pauses.delete(reason);
    this.#update();
  }

  /**
   * Stops accepting for good and closes the socket. A socket path we created is unlinked, unless
   * `handedOver` (a successor accepts on the same socket now) — a systemd socket never is.
   */
  close({ handedOver = false } = {}): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#backoffTimer);
    this.#update();
    if (this.#held !== undefined) this.#held.close();
    else descriptors().close(this.fd!);
    if (this.ownedPath !== undefined && !handedOver) {
      try {
        unlinkSync(this.ownedPath);
      } catch {
        // Already gone (removed by hand): nothing left to clean up.
      }
    }
  }

  /** The acceptor took a connection: the back-off starts from its first step again. */
  accepted(): void {
    this.#backoffMs = 0;
  }

  /** The acceptor's accept() failed (`err.code` "EMFILE", say): stop, and try again after the back-off. */
  acceptFailed(err: Error & { code?: string }): void {
    if (this.#stop !== undefined) this.#backOff(goAcceptError(err.code, this.address, err.message));
  }

  #update(): void {
    const want = !this.#closed && this.#pauses.size === 0;
    if (want && this.#stop === undefined) this.#open();
    else if (!want && this.#stop !== undefined) {
      // Stopping inside the acceptor's own callback is what makes the limit exact: the accept loop
      // ends as soon as the descriptor it polls is closed.
      const stop = this.#stop;
      this.#stop = undefined;
      stop();
    }
  }

  #open(): void {
    if (this.#held !== undefined) {
      this.#stop = this.#held.open(this.#options.acceptor, this);
      return;
    }
    let fd: number;
    try {
      fd = descriptors().dup(this.fd!);
    } catch (err) {
      this.#backOff(err as Error);
      return;
    }
    this.#stop = this.#options.acceptor.start(fd, this);
  }

  /** Ghostunnel's accept back-off: 5 ms, doubling to 1 s, reset by the next successful accept. */
  #backOff(err: Error): void {
    this.#backoffMs = this.#backoffMs === 0 ? BACKOFF_FIRST_MS : Math.min(this.#backoffMs * 2, BACKOFF_MAX_MS);
    this.#options.onAcceptError?.(err, this.#backoffMs);
    this.pause('backoff');
    this.#backoffTimer = setTimeout(() => this.resume('backoff'), this.#backoffMs);
  }
}

function descriptors(): Descriptors {
  if (system.descriptors === undefined) throw new Error(`internal: a listening descriptor on ${system.name}, which has no descriptor calls`);
  return system.descriptors;
}

/**
 * Accepting through a net.Server (the status port, the node data plane): each connection goes to
 * `onConnection`, flowing, or paused with `pauseOnConnect` (nothing read until it is resumed).
 */
export function socketAcceptor(onConnection: (socket: Socket, listener: Listener) => void, { pauseOnConnect = false } = {}): Acceptor {
  const deliver = (socket: Socket, listener: Listener): void => {
    listener.accepted();
    onConnection(socket, listener);
  };
  return {
    take: (socket, listener) => deliver(pauseOnConnect ? socket : socket.resume(), listener),
    start(fd, listener) {
      let open = true;
      // node:net loaded here, not at start: most daemons never accept through a net.Server.
      const server = process.getBuiltinModule('node:net').createServer({ ...SOCKET_OPTIONS, pauseOnConnect }, (socket) => deliver(socket, listener));
      server.on('error', (err) => {
        if (open) listener.acceptFailed(err);
      });
      server.listen({ fd, backlog: BACKLOG });
      return () => {
        open = false;
        server.close();
      };
    },
  };
}
