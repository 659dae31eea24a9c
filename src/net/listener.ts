import { unlinkSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { closeDescriptor, dupDescriptor } from '../sys/libc.ts';

/** Why accepting is paused; accepting resumes when no reason is left. */
export type PauseReason = 'full' | 'backoff';

export interface ListenerOptions {
  /** Called for each accepted connection, with the listener that accepted it. */
  readonly onConnection: (socket: Socket, listener: Listener) => void;
  /** accept() failed (EMFILE and the like); accepting backs off, then resumes. */
  readonly onAcceptError?: (err: Error, retryInMs: number) => void;
}

/** A bound, listening socket as the listener takes it over. */
export interface BoundSocket {
  /** The descriptor; the listener owns it from now on. */
  readonly fd: number;
  /** The bound address: "127.0.0.1:41234", "[::1]:8443", or a socket path. */
  readonly address: string;
  /** A UNIX socket path we created, to unlink on close; undefined for TCP and systemd sockets. */
  readonly ownedPath: string | undefined;
  /** The LISTEN_FDNAMES name under which a hand-off passes it on. */
  readonly name: string;
}

const SOCKET_OPTIONS = { allowHalfOpen: true, noDelay: true, keepAlive: true, keepAliveInitialDelay: 15_000 } as const;
/** Capped by the kernel at net.core.somaxconn, which is what Ghostunnel asks for. */
export const BACKLOG = 4096;
const BACKOFF_FIRST_MS = 5;
const BACKOFF_MAX_MS = 1000;

/**
 * A listening socket whose accepting can pause and resume without losing a queued connection.
 *
 * Node cannot stop a net.Server from calling accept(), and closing a net.Server closes its socket:
 * the connections waiting in its accept queue would be reset and new ones refused. So the listener
 * holds the socket in a descriptor of its own, and accepts through a net.Server opened on a
 * duplicate of it. Pausing closes that server (only the duplicate goes); the socket stays bound
 * and listening, so new connections complete the TCP handshake and wait in the kernel backlog, as
 * Ghostunnel's do when --max-concurrent-conns is reached. Resuming opens a new server on a new
 * duplicate. The held descriptor is also what a hand-off upgrade passes to the successor.
 */
export class Listener {
  readonly fd: number;
  readonly address: string;
  readonly ownedPath: string | undefined;
  readonly name: string;
  readonly #options: ListenerOptions;
  readonly #pauses = new Set<PauseReason>();
  #server: Server | undefined;
  #backoffMs = 0;
  #backoffTimer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(socket: BoundSocket, options: ListenerOptions) {
    this.fd = socket.fd;
    this.address = socket.address;
    this.ownedPath = socket.ownedPath;
    this.name = socket.name;
    this.#options = options;
  }

  /** Whether accept() is currently being called. */
  get accepting(): boolean {
    return this.#server !== undefined;
  }

  /** Starts accepting (unless a pause is in force). */
  start(): void {
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
    closeDescriptor(this.fd);
    if (this.ownedPath !== undefined && !handedOver) {
      try {
        unlinkSync(this.ownedPath);
      } catch {
        // Already gone (removed by hand): nothing left to clean up.
      }
    }
  }

  #update(): void {
    const want = !this.#closed && this.#pauses.size === 0;
    if (want && this.#server === undefined) this.#open();
    else if (!want && this.#server !== undefined) {
      // Closing the server inside its own 'connection' callback is what makes the limit exact:
      // libuv's accept loop ends as soon as the descriptor it polls is closed.
      this.#server.close();
      this.#server = undefined;
    }
  }

  #open(): void {
    let fd: number;
    try {
      fd = dupDescriptor(this.fd);
    } catch (err) {
      this.#backOff(err as Error);
      return;
    }
    const server = createServer(SOCKET_OPTIONS, (socket) => {
      this.#backoffMs = 0;
      this.#options.onConnection(socket, this);
    });
    server.on('error', (err) => {
      if (server === this.#server) this.#backOff(err);
    });
    server.listen({ fd, backlog: BACKLOG });
    this.#server = server;
  }

  /** Ghostunnel's accept back-off: 5 ms, doubling to 1 s, reset by the next successful accept. */
  #backOff(err: Error): void {
    this.#backoffMs = this.#backoffMs === 0 ? BACKOFF_FIRST_MS : Math.min(this.#backoffMs * 2, BACKOFF_MAX_MS);
    this.#options.onAcceptError?.(err, this.#backoffMs);
    this.pause('backoff');
    this.#backoffTimer = setTimeout(() => this.resume('backoff'), this.#backoffMs);
  }
}
