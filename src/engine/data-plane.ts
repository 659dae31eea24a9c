import type { Acceptor, Listener } from '../net/listener.ts';
import { createEngine, ListenMode, type EndKind, type NativeContext, type NativeEngine } from './native.ts';

/** Where an accepted connection comes from and arrived; addresses are empty on a UNIX listener. */
export interface AcceptedPeer {
  readonly remote: string;
  readonly remotePort: number;
  readonly local: string;
  readonly localPort: number;
}

/** What the TLS handshake settled. */
export interface HandshakeInfo {
  /** OpenSSL's verdict on the peer's chain: null when it passed, else Node's code ("CERT_HAS_EXPIRED") and text. */
  readonly verifyCode: string | null;
  readonly verifyText: string | null;
  /** The peer's leaf certificate (DER), or null when it sent none. */
  readonly peerDer: Buffer | null;
  /** "TLSv1.3". */
  readonly version: string;
  readonly serverName: string | null;
  readonly alpn: string | null;
  readonly resumed: boolean;
  /** A TLS-ALPN-01 validation, answered with the challenge certificate. */
  readonly challenge: boolean;
}

export interface ConnectionEnd {
  readonly kind: EndKind;
  readonly message: string | null;
  /** Plaintext bytes from the accepted side to the dialed side, and back. */
  readonly forwarded: number;
  readonly returned: number;
  /** Ended by --close-timeout or --max-conn-lifetime. */
  readonly timedOut: boolean;
}

/** A tunnel (server or client mode) as the data plane drives it, one call per connection phase. */
export interface ConnectionHandler {
  /** The engine it instructs, handed over by the DataPlane before anything is accepted. */
  attach(engine: NativeEngine): void;
  /** Returns the --connect-timeout in ms for the connection (its deadline to start piping). */
  accepted(id: number, peer: AcceptedPeer, listener: Listener): number;
  handshake(id: number, tls: HandshakeInfo): void;
  piping(id: number): void;
  /** Exactly once per accepted connection, whatever happened to it. */
  ended(id: number, end: ConnectionEnd): void;
  challenge?(id: number, serverName: string): NativeContext | null;
}

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
      handshake: (id, verifyCode, verifyText, peerDer, version, serverName, alpn, resumed, challenge) =>
        handler.handshake(id, { verifyCode, verifyText, peerDer, version, serverName, alpn, resumed, challenge }),
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
