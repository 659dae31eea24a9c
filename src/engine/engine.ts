// What a data plane and the tunnel it serves say to each other, whatever carries the bytes. The
// data plane accepts, runs TLS, dials and copies; the tunnel (src/tunnel/) is asked at each phase
// of a connection and answers with instructions. Nothing here names a mechanism.
import type { Socket } from 'node:net';
import type { Listener } from '../net/listener.ts';
import type { NativeContext } from './native.ts';
import type { NodeContext } from './node-context.ts';

/**
 * A TLS context as the serving data plane takes it: an OpenSSL context inside the addon (native),
 * or Node's SecureContext with how peers are asked (node). Built per credential generation by
 * the credential store for the plane that serves; the tunnels carry it and never look inside.
 */
export type PlaneContext = NativeContext | NodeContext;

/** Where an accepted connection comes from and arrived; addresses are empty on a UNIX listener. */
export interface AcceptedPeer {
  readonly remote: string;
  readonly remotePort: number;
  readonly local: string;
  readonly localPort: number;
}

/** The peer's certificate as the handshake presents it, asked about before the handshake ends. */
export interface PresentedCertificate {
  /** The TLS library's verdict on its chain: null when it passed, else Node's code ("CERT_HAS_EXPIRED") and text. */
  readonly verifyCode: string | null;
  readonly verifyText: string | null;
  /** The leaf (DER). */
  readonly der: Buffer;
  /**
   * It comes from a session being resumed, and a refusal falls back to a full handshake, which
   * presents a certificate to decide on (native plane). Always false where a refusal is final
   * (node plane: it asks once the handshake, resumed or not, is over).
   */
  readonly resumed: boolean;
}

/**
 * TLS alerts a refusal sends, as Go's crypto/tls chooses them: a server sends unknown_ca for a
 * chain to no trusted root and certificate_expired for a certificate out of its validity period;
 * every other refusal, and every refusal by a client, is bad_certificate.
 */
export const Alert = { badCertificate: 42, certificateExpired: 45, unknownCa: 48 } as const;
export type Alert = (typeof Alert)[keyof typeof Alert];

/** The answer about a presented certificate: admitted, or refused with an alert. */
export const ADMIT = 0;
export type Verdict = typeof ADMIT | Alert;

/** The ALPN protocol of TLS-ALPN-01 validation connections (RFC 8737), which a plane hands to `challenge`. */
export const ACME_TLS_ALPN = 'acme-tls/1';

/** What the TLS handshake settled. */
export interface HandshakeInfo {
  /** "TLSv1.3". */
  readonly version: string;
  readonly serverName: string | null;
  readonly alpn: string | null;
  readonly resumed: boolean;
  /** A TLS-ALPN-01 validation, answered with the challenge certificate. */
  readonly challenge: boolean;
}

/** How a connection ended (native/engine.h, enum End). */
export const End = { closed: 0, tls: 1, eof: 2, timeout: 3, dial: 4, aborted: 5 } as const;
export type EndKind = (typeof End)[keyof typeof End];

export interface ConnectionEnd {
  readonly kind: EndKind;
  readonly message: string | null;
  /** Plaintext bytes from the accepted side to the dialed side, and back. */
  readonly forwarded: number;
  readonly returned: number;
  /** Ended by --close-timeout or --max-conn-lifetime. */
  readonly timedOut: boolean;
}

/** The instructions a tunnel gives its data plane, by connection id. */
export interface Engine {
  /** The context of server connections accepted from now on. */
  setContext(context: PlaneContext): void;
  /** The verdict on a presented certificate that verify() left for later; false if the connection is gone. */
  verdict(id: number, verdict: Verdict): boolean;
  /** Server mode: dial the target (IP addresses in turn, or `unixPath`), write `header`, pipe. */
  connectPlain(id: number, hosts: readonly string[], port: number, unixPath: string, header: Buffer | null, closeMs: number, lifetimeMs: number): boolean;
  /**
   * Client mode: dial the target (or take over `adopted`, a socket connected through a proxy) and
   * run the TLS handshake; `noFin`: half-close with close_notify alone (through a proxy).
   */
  connectTls(id: number, hosts: readonly string[], port: number, adopted: Socket | null, context: PlaneContext, serverName: string, noFin: boolean): boolean;
  /** Client mode: start piping once the handshake is done. */
  pipe(id: number, closeMs: number, lifetimeMs: number): boolean;
  /** Ends a connection now; `ended` reports it. */
  close(id: number): boolean;
}

/** A tunnel (server or client mode) as the data plane drives it, one call per connection phase. */
export interface ConnectionHandler {
  /** The engine it instructs, handed over by the data plane before anything is accepted. */
  attach(engine: Engine): void;
  /** Returns the --connect-timeout in ms for the connection (its deadline to start piping). */
  accepted(id: number, peer: AcceptedPeer, listener: Listener): number;
  /**
   * During the handshake (native) or right after it (node): the verdict on the peer's
   * certificate, or undefined to give it later with Engine.verdict (the connection waits, within
   * --connect-timeout). A refusal ends the handshake with the alert (native) or the connection
   * (node); a refused resumption falls back to a full handshake instead (native).
   */
  verify(id: number, certificate: PresentedCertificate): Verdict | undefined;
  handshake(id: number, tls: HandshakeInfo): void;
  piping(id: number): void;
  /** Exactly once per accepted connection, whatever happened to it. */
  ended(id: number, end: ConnectionEnd): void;
  challenge?(id: number, serverName: string): PlaneContext | null;
}
