import { identityFromDer } from '../auth/peer.ts';
import type { TlsAlpnChallenges } from '../credentials/acme/tls-alpn-challenges.ts';
import { ADMIT, Alert, End, type AcceptedPeer, type ConnectionEnd, type ConnectionHandler, type Engine, type HandshakeInfo, type PlaneContext, type PresentedCertificate, type Verdict } from '../engine/engine.ts';
import type { Log } from '../log/logger.ts';
import type { Listener } from '../net/listener.ts';
import { goDialError } from '../net/go-errors.ts';
import { withDialAddresses } from '../net/resolve.ts';
import { ConnectionTable, DENIED, type ConnectionCensus, type TunnelConnection } from './connection-table.ts';
import type { TunnelEvents } from './events.ts';
import type { OpenConnections } from './open-connections.ts';
import { closedPipe } from './piping.ts';
import { proxyHeaderFor } from './proxy-header.ts';
import type { PlaneContextCell, RuntimeCell, ServerRuntime } from './runtime-settings.ts';
import type { ConnectionTracker } from './tracker.ts';

export interface ServerTunnelDeps {
  readonly store: PlaneContextCell;
  /** Target, access rules, timeouts, PROXY header: read once per connection, replaced by a reload. */
  readonly settings: RuntimeCell<ServerRuntime>;
  /** Where piping connections with a client certificate are registered, for re-authorization. */
  readonly connections: OpenConnections;
  readonly log: Log;
  readonly tracker: ConnectionTracker;
  readonly events: TunnelEvents;
  /** --auto-acme-cert: the TLS-ALPN-01 validations being answered on this listener. */
  readonly challenges?: TlsAlpnChallenges;
}

type Failure = 'tls' | 'verify' | 'denied' | 'timeout' | 'dial';

/** One connection as this side sees it; the bytes are the data plane's. */
interface ServerConnection extends TunnelConnection {
  readonly settings: ServerRuntime;
  readonly peerAddress: AcceptedPeer;
  readonly listenAddress: string;
  handshaken: boolean;
  failure: { readonly message: string; readonly reason: Failure } | undefined;
  /** A TLS-ALPN-01 validation: answered, then closed; never dialed. */
  challenge: boolean;
}

/** Verification codes of a chain that leads to no trusted root (Go: x509.UnknownAuthorityError). */
const UNKNOWN_AUTHORITY = new Set(['UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN']);

/** The alert for a client chain that failed, as Go's server sends it. */
function chainAlert(code: string): Alert {
  if (UNKNOWN_AUTHORITY.has(code)) return Alert.unknownCa;
  return code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID' ? Alert.certificateExpired : Alert.badCertificate;
}

/**
 * Server mode, per connection: the data plane accepts and runs the TLS handshake with the context
 * current at accept time; this decides during the handshake (chain verdict, access rules), names
 * the target, and accounts for the end. --connect-timeout covers handshake, decision and dial.
 */
export class ServerTunnel implements ConnectionHandler {
  readonly #deps: ServerTunnelDeps;
  readonly #table = new ConnectionTable<ServerConnection>();
  #context: PlaneContext | undefined;

  constructor(deps: ServerTunnelDeps) {
    this.#deps = deps;
  }

  attach(engine: Engine): void {
    this.#table.attach(engine);
  }

  /** Its connections by phase (/debug/pprof/goroutine). */
  census(): ConnectionCensus {
    return this.#table.census();
  }

  accepted(id: number, peer: AcceptedPeer, listener: Listener): number {
    const { store, tracker, events } = this.#deps;
    // The credentials current at accept time: the context the handshake about to start uses.
    const context = store.current.planeContext;
    if (context !== this.#context) {
      this.#table.engine.setContext(context);
      this.#context = context;
    }
    const settings = this.#deps.settings.current;
    tracker.add();
    events.accepted();
    const c: ServerConnection = {
      settings,
      peerAddress: peer,
      listenAddress: listener.address,
      started: performance.now(),
      from: peer.remote === '' ? `unix:${listener.address}` : `tcp:${peer.remote}:${peer.remotePort}`,
      route: '',
      target: settings.targetText,
      peer: undefined,
      piped: false,
      forget: undefined,
      handshaken: false,
      failure: undefined,
      challenge: false,
    };
    this.#table.add(id, c);
    return settings.timeouts.connectMs;
  }

  challenge(id: number, serverName: string): PlaneContext | null {
    const c = this.#table.get(id);
    const context = serverName === '' ? undefined : this.#deps.challenges?.contextFor(serverName);
    if (c !== undefined && context === undefined) {
      // A validator for a challenge we are not answering (any more): it never reaches the backend.
      c.failure = { message: `no pending TLS-ALPN-01 challenge for ${serverName || '(no SNI)'}`, reason: 'tls' };
    }
    return context ?? null;
  }

  verify(id: number, certificate: PresentedCertificate): Verdict | undefined {
    const c = this.#table.get(id);
    if (c === undefined) return Alert.badCertificate;
    const { policy, verifyChain } = c.settings;
    if (policy === undefined) return ADMIT;
    const { verifyCode, resumed } = certificate;
    const refuse = (message: string, reason: Failure, alert?: Alert): Verdict => this.#table.refuse(c, resumed, { message, reason }, alert);
    if (verifyChain && verifyCode !== null) return refuse(`certificate verification failed: ${verifyCode}`, 'verify', chainAlert(verifyCode));
    const peer = identityFromDer(certificate.der);
    return this.#table.judge(id, c, policy.allows(peer), () => (c.peer = peer), (message) => refuse(message, 'denied'));
  }

  handshake(id: number, tls: HandshakeInfo): void {
    const c = this.#table.get(id);
    if (c === undefined || c.failure !== undefined) return;
    c.handshaken = true;
    if (tls.challenge) {
      c.challenge = true;
      this.#deps.log.info(`answered TLS-ALPN-01 challenge for ${tls.serverName} from ${c.from}`, { peer: c.from, fqdn: tls.serverName });
      this.#table.engine.close(id);
      return;
    }
    this.#deps.events.handshakeDone(performance.now() - c.started);
    // Fails closed: with access rules, only a peer admitted during the handshake is dialed.
    if (c.settings.policy !== undefined && c.peer === undefined) return this.#fail(id, c, DENIED, 'denied');
    this.#dial(id, c, tls);
  }

  #dial(id: number, c: ServerConnection, tls: HandshakeInfo): void {
    const { settings, peer } = c;
    c.route = `${c.from} ${peer ? `[${peer.subject}]` : '[no cert]'} <-> ${settings.targetText} [no tls]`;
    let header: Buffer | null = null;
    if (settings.proxyProtocol !== undefined) {
      try {
        header = proxyHeaderFor(settings.proxyProtocol, c.peerAddress, tls, peer, c.listenAddress);
      } catch (err) {
        return this.#fail(id, c, `error writing PROXY header: ${(err as Error).message}`, 'dial');
      }
    }
    const { target, timeouts } = settings;
    const go = (hosts: readonly string[], port: number, path: string): void => {
      if (this.#table.live(id, c)) this.#table.engine.connectPlain(id, hosts, port, path, header, timeouts.closeMs, timeouts.maxLifetimeMs);
    };
    if (target.kind !== 'tcp') return go([], -1, (target as { path: string }).path);
    withDialAddresses(target.host, (hosts) => go(hosts, target.port, ''), (err) => this.#fail(id, c, `error on dial: ${err.message}`, 'dial'));
  }

  piping(id: number): void {
    this.#table.piping(id, this.#deps);
  }

  #fail(id: number, c: ServerConnection, message: string, reason: Failure): void {
    this.#table.fail(id, c, { message, reason });
  }

  ended(id: number, end: ConnectionEnd): void {
    const c = this.#table.take(id);
    if (c === undefined) return;
    const { log, events, tracker } = this.#deps;
    if (c.challenge) {
      events.closed(performance.now() - c.started, 0, 0, false);
    } else if (c.piped) {
      closedPipe(this.#deps, c, end);
    } else {
      const { message, reason } = c.failure ?? this.#failureOf(c, end);
      events.handshakeFailed(reason);
      if (reason === 'dial') log.connError(message, { peer: c.from });
      else log.handshakeError(`error on TLS handshake from ${c.from}: ${message}`, { peer: c.from });
    }
    tracker.remove();
  }

  /** What the data plane's report of a connection that never piped means. */
  #failureOf(c: ServerConnection, end: ConnectionEnd): { message: string; reason: Failure } {
    switch (end.kind) {
      case End.timeout:
        return { message: 'timed out (--connect-timeout)', reason: 'timeout' };
      case End.dial:
        return { message: `error on dial: ${goDialError(end.message ?? 'dial failed')}`, reason: 'dial' };
      case End.eof:
        return { message: c.handshaken ? 'connection closed during handshake' : 'client closed the connection during the handshake', reason: 'tls' };
      default:
        return { message: end.message ?? 'connection closed during handshake', reason: 'tls' };
    }
  }
}
