import type { Acceptor, Listener } from '../net/listener.ts';
import type { ConnectionHandler } from './engine.ts';
import { createEngine, ListenMode, type NativeEngine } from './native.ts';

/** One thread's data plane: the native engine, its listeners, and the tunnel it reports to. */
export class DataPlane {
  readonly #engine: NativeEngine;
  readonly #listeners = new Map<number, Listener>();

  constructor(handler: ConnectionHandler) {
    const listeners = this.#listeners;
    this.#engine = createEngine({
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
      ...(handler.challenge ? { challenge: (id: number, name: string) => handler.challenge!(id, name) } : {}),
    });
    handler.attach(this.#engine);
  }

  /** Accepting for a Listener: TLS connections (server mode) or plain ones (client mode). */
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
