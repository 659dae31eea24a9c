import type { Socket } from 'node:net';
import type { Acceptor, Listener } from '../net/listener.ts';
import type { ConnectionHandler, Engine } from './engine.ts';
import { createEngine, ListenMode, type NativeContext, type NativeEngine } from './native.ts';
import type { ServingPlane } from './planes.ts';

/** The descriptor of a connected socket (Linux, where this plane runs). */
function descriptorOf(socket: Socket): number {
  return (socket as unknown as { _handle: { fd: number } | null })._handle?.fd ?? -1;
}

/** One thread's native data plane: the C++ engine, its listeners, and the tunnel it reports to. */
export class NativePlane implements ServingPlane {
  readonly #engine: NativeEngine;
  readonly #listeners = new Map<number, Listener>();

  constructor(handler: ConnectionHandler) {
    const listeners = this.#listeners;
    const engine = createEngine({
      accept: (id, listener, remote, remotePort, local, localPort) => {
        const l = listeners.get(listener);
        if (l === undefined) return 0;
        l.accepted();
        return handler.accepted(id, { remote, remotePort, local, localPort }, l);
      },
      verify: (id, verifyCode, verifyText, der, resumed) => handler.verify(id, { verifyCode, verifyText, der, resumed }),
      handshake: (id, version, serverName, alpn, resumed, challenge) => handler.handshake(id, { version, serverName, alpn, resumed, challenge }),
      piping: (id) => handler.piping(id),
      end: (id, kind, message, forwarded, returned, timedOut) => handler.ended(id, { kind, message, forwarded, returned, timedOut }),
      acceptError: (listener, code, message) => listeners.get(listener)?.acceptFailed(Object.assign(new Error(message), { code })),
      ...(handler.challenge ? { challenge: (id: number, name: string) => handler.challenge!(id, name) as NativeContext | null } : {}),
    });
    this.#engine = engine;
    const instructions: Engine = {
      setContext: (context) => engine.setContext(context),
      verdict: (id, verdict) => engine.verdict(id, verdict),
      connectPlain: (id, hosts, port, unixPath, header, closeMs, lifetimeMs) => engine.connectPlain(id, hosts, port, unixPath, header, closeMs, lifetimeMs),
      connectTls: (id, hosts, port, adopted, context, serverName, noFin) => {
        if (adopted === null) return engine.connectTls(id, hosts, port, -1, context as NativeContext, serverName, noFin);
        // The engine takes a duplicate of the descriptor; ours closes without touching the connection.
        const fd = descriptorOf(adopted);
        const taken = fd >= 0 && engine.connectTls(id, [], 0, fd, context as NativeContext, serverName, noFin);
        adopted.destroy();
        return taken;
      },
      pipe: (id, closeMs, lifetimeMs) => engine.pipe(id, closeMs, lifetimeMs),
      close: (id) => engine.close(id),
    };
    handler.attach(instructions);
  }

  acceptor(mode: keyof typeof ListenMode): Acceptor {
    return {
      start: (fd, listener) => {
        const id = this.#engine.listen(fd, ListenMode[mode]);
        this.#listeners.set(id, listener);
        return () => {
          this.#listeners.delete(id);
          this.#engine.unlisten(id);
        };
      },
    };
  }
}
