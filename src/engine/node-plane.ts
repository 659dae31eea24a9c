// The portable data plane: the contract of src/engine/engine.ts on Node's own net and tls, for
// every platform Node.js runs on (and Linux without the native engine). Each listener accepts
// through a net.Server on its descriptor (the one src/net/listen.ts bound with SO_REUSEPORT, or
// inherited); each connection is a NodeConnection. docs/data-plane.md says where it differs from
// the engine.
import type { Socket } from 'node:net';
import { BACKLOG, type Acceptor, type Listener } from '../net/listener.ts';
import type { ConnectionHandler, Engine } from './engine.ts';
import { NodeConnection, SOCKET_OPTIONS, type ConnectionHome } from './node-connection.ts';
import type { NodeContext } from './node-context.ts';
import type { ServingPlane } from './planes.ts';

/** One thread's portable data plane: its connections by id, and the tunnel it reports to. */
export class NodePlane implements ServingPlane {
  readonly #connections = new Map<number, NodeConnection>();
  readonly #home: ConnectionHome;
  #nextId = 1;
  /** The context of server connections accepted from now on (Engine.setContext). */
  #context: NodeContext | undefined;

  constructor(handler: ConnectionHandler) {
    const connections = this.#connections;
    this.#home = { handler, forget: (id) => connections.delete(id) };
    const engine: Engine = {
      setContext: (context) => void (this.#context = context as NodeContext),
      verdict: (id, verdict) => connections.get(id)?.answer(verdict) ?? false,
      connectPlain: (id, hosts, port, unixPath, header, closeMs, lifetimeMs) => connections.get(id)?.connectPlain(hosts, port, unixPath, header, closeMs, lifetimeMs) ?? false,
      connectTls: (id, hosts, port, adopted, context, serverName, noFin) => {
        const c = connections.get(id);
        if (c === undefined) {
          adopted?.destroy();
          return false;
        }
        return c.connectTls(hosts, port, adopted, context as NodeContext, serverName, noFin);
      },
      pipe: (id, closeMs, lifetimeMs) => connections.get(id)?.pipe(closeMs, lifetimeMs) ?? false,
      close: (id) => {
        const c = connections.get(id);
        c?.close();
        return c !== undefined;
      },
    };
    handler.attach(engine);
  }

  acceptor(mode: 'server' | 'client'): Acceptor {
    return {
      // Where Node holds the listening socket (src/sys/portable.ts), the listener hands over each
      // connection paused; server mode reads its ClientHello at once, client mode waits for the target.
      take: (socket, listener) => this.#accept(mode === 'server' ? socket.resume() : socket, listener, mode === 'server'),
      start: (fd, listener) => {
        let open = true;
        // Client mode reads nothing from the accepted side before the target is reached and verified.
        // node:net loaded here, not at start: the bundle holds this plane beside the native one.
        const server = process.getBuiltinModule('node:net').createServer({ ...SOCKET_OPTIONS, pauseOnConnect: mode === 'client' }, (socket) => this.#accept(socket, listener, mode === 'server'));
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

  #accept(socket: Socket, listener: Listener, server: boolean): void {
    listener.accepted();
    const id = this.#nextId++;
    const c = new NodeConnection(id, server, socket, this.#home);
    this.#connections.set(id, c);
    const { handler } = this.#home;
    const peer = { remote: socket.remoteAddress ?? '', remotePort: socket.remotePort ?? 0, local: socket.localAddress ?? '', localPort: socket.localPort ?? 0 };
    const timeoutMs = handler.accepted(id, peer, listener);
    // The context current now is the one setContext() gave while the tunnel took the accept.
    c.start(timeoutMs, this.#context);
  }
}
