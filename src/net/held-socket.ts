// The portable route's listening socket (src/sys/portable.ts): where the platform gives Node no
// descriptors to duplicate, Node's net.Server holds the socket and accepts all the time, and a
// paused listener keeps what arrives, unread, in a queue of its own, as the kernel's backlog would:
// the peer's connect succeeds and its first bytes wait until accepting resumes.
import type { Server, Socket } from 'node:net';
import type { Acceptor, Listener } from './listener.ts';

export class HeldSocket {
  readonly #server: Server;
  readonly #backlog: number;
  readonly #waiting: Socket[] = [];
  #take: ((socket: Socket) => void) | undefined;
  #fail: ((err: Error) => void) | undefined;

  /** `server` listens, made with pauseOnConnect so that nothing is read before an acceptor takes a connection. */
  constructor(server: Server, backlog: number) {
    this.#server = server;
    this.#backlog = backlog;
    server.on('connection', (socket: Socket) => this.#arrived(socket));
    server.on('error', (err) => this.#fail?.(err));
  }

  /** Hands every connection, the queued ones first, to the acceptor until the returned function is called. */
  open(acceptor: Acceptor, listener: Listener): () => void {
    const take = acceptor.take;
    if (take === undefined) throw new Error('internal: this acceptor accepts on descriptors only, and Node holds the listening socket here');
    this.#take = (socket) => take(socket, listener);
    this.#fail = (err) => listener.acceptFailed(err);
    for (const socket of this.#waiting.splice(0)) this.#take(socket);
    return () => {
      this.#take = undefined;
      this.#fail = undefined;
    };
  }

  /** Stops listening; connections still queued are closed, as a closed socket's backlog is. */
  close(): void {
    this.#take = undefined;
    this.#server.close();
    for (const socket of this.#waiting.splice(0)) socket.destroy();
  }

  #arrived(socket: Socket): void {
    if (this.#take !== undefined) this.#take(socket);
    else if (this.#waiting.length < this.#backlog) this.#waiting.push(socket);
    else socket.destroy();
  }
}
