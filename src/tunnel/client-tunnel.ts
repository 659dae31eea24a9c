import type { PeerCertificate } from 'node:tls';
import type { AccessPolicy } from '../auth/access-policy.ts';
import { identityFromDer, type PeerIdentity } from '../auth/peer.ts';
import { ADMIT, Alert, End, type AcceptedPeer, type ConnectionEnd, type ConnectionHandler, type Engine, type PresentedCertificate, type Verdict } from '../engine/engine.ts';
import type { Log } from '../log/logger.ts';
import { goDialError } from '../net/go-errors.ts';
import { withDialAddresses } from '../net/resolve.ts';
import { ConnectionTable, DENIED, type ConnectionCensus, type TunnelConnection } from './connection-table.ts';
import type { TunnelEvents } from './events.ts';
import type { OpenConnections } from './open-connections.ts';
import { closedPipe } from './piping.ts';
import type { ClientRuntime, PlaneContextCell, RuntimeCell } from './runtime-settings.ts';
import type { ConnectionTracker } from './tracker.ts';

/** How the target's certificate is checked (spec §2.6). */
export interface ServerVerification {
  /** The name verified against the certificate; also sent as SNI unless it is an IP address. */
  readonly serverName: string;
  /** Chain against the trust anchors, then the name. False only for pin-only checking (--verify-spki-pin). */
  readonly chainAndName: boolean;
  /** --use-workload-api: the chain is verified against the SPIFFE bundle, the name is not (spec §2.6). */
  readonly skipName?: boolean;
  /** Further checks on the certificate (--verify-*; OPA and pins plug in here); undefined accepts it. */
  readonly policy: AccessPolicy | undefined;
}

export interface ClientTunnelDeps {
  /** --listen as given, naming the accepted side of a UNIX or systemd listener in log lines. */
  readonly listen: string;
  readonly store: PlaneContextCell;
  /** Target, proxy, verification, timeouts: read once per connection, replaced by a reload. */
  readonly settings: RuntimeCell<ClientRuntime>;
  /** Where piping connections are registered with the server's identity, for re-authorization. */
  readonly connections: OpenConnections;
  readonly log: Log;
  readonly tracker: ConnectionTracker;
  readonly events: TunnelEvents;
}

type Failure = 'tls' | 'verify' | 'denied' | 'dial';

interface ClientConnection extends TunnelConnection {
  readonly settings: ClientRuntime;
  failure: { readonly message: string; readonly reason: Failure; readonly subject?: string } | undefined;
  /** Cancels a dial through the proxy still under way. */
  readonly abort: AbortController;
}

/** "unable to verify the first certificate (UNABLE_TO_VERIFY_LEAF_SIGNATURE)", as Node words a failed check. */
function withCode(message: string, code: string | undefined): string {
  return code && code !== message ? `${message} (${code})` : message;
}

/** The chain's verdict, then the name: why the target's certificate fails, or undefined. */
function verificationFailure(v: ServerVerification, certificate: PresentedCertificate, peer: PeerIdentity): string | undefined {
  if (!v.chainAndName) return undefined;
  if (certificate.verifyCode !== null) return withCode(certificate.verifyText ?? certificate.verifyCode, certificate.verifyCode);
  if (v.skipName) return undefined;
  const err = process.getBuiltinModule('node:tls').checkServerIdentity(v.serverName, peer.names as PeerCertificate) as (Error & { code?: string }) | undefined;
  return err === undefined ? undefined : withCode(err.message, err.code);
}

/**
 * Client mode, per connection: the data plane accepts the local connection; this names the target
 * (or connects through the proxy and hands the socket over), checks the target's certificate during
 * the handshake (a refusal is a bad_certificate alert, before our certificate or Finished is sent),
 * and accounts for the end. The dial and the handshake share one --connect-timeout;
 * any failure closes the local connection at once and says why.
 */
export class ClientTunnel implements ConnectionHandler {
  readonly #deps: ClientTunnelDeps;
  readonly #table = new ConnectionTable<ClientConnection>();

  constructor(deps: ClientTunnelDeps) {
    this.#deps = deps;
  }

  attach(engine: Engine): void {
    this.#table.attach(engine);
  }

  /** Its connections by phase (/debug/pprof/goroutine). */
  census(): ConnectionCensus {
    return this.#table.census();
  }

  accepted(id: number, peer: AcceptedPeer): number {
    const { tracker, events, store } = this.#deps;
    const settings = this.#deps.settings.current;
    tracker.add();
    events.accepted();
    const c: ClientConnection = {
      settings,
      started: performance.now(),
      from: peer.remote === '' ? this.#deps.listen : `tcp:${peer.remote}:${peer.remotePort}`,
      route: '',
      target: settings.targetText,
      peer: undefined,
      piped: false,
      forget: undefined,
      failure: undefined,
      abort: new AbortController(),
    };
    this.#table.add(id, c);
    // The credentials current now are the ones the handshake uses.
    const context = store.current.planeContext;
    const { endpoint, sni, proxy } = settings;
    const { engine } = this.#table;
    const failDial = (err: Error): void => this.#fail(id, c, err.message, 'dial');
    if (proxy === undefined) {
      withDialAddresses(endpoint.host, (hosts) => this.#table.live(id, c) && engine.connectTls(id, hosts, endpoint.port, null, context, sni ?? '', false), failDial);
    } else {
      proxy(endpoint, c.abort.signal).then((socket) => {
        // The data plane takes the socket over; through a proxy, a half-close is close_notify alone.
        if (this.#table.live(id, c)) engine.connectTls(id, [], 0, socket, context, sni ?? '', true);
        else socket.destroy();
      }, failDial);
    }
    return settings.timeouts.connectMs;
  }

  verify(id: number, certificate: PresentedCertificate): Verdict | undefined {
    const c = this.#table.get(id);
    if (c === undefined) return Alert.badCertificate;
    const { verification } = c.settings;
    const peer = identityFromDer(certificate.der);
    const refuse = (message: string, reason: Failure, subject?: string): Verdict => this.#table.refuse(c, false, { message, reason, ...(subject === undefined ? {} : { subject }) });
    const failed = verificationFailure(verification, certificate, peer);
    if (failed !== undefined) return refuse(`certificate verification failed: ${failed}`, 'verify');
    const admit = (): void => void (c.peer = peer);
    if (verification.policy === undefined) return (admit(), ADMIT);
    return this.#table.judge(id, c, verification.policy.allows(peer), admit, (message) => refuse(message, 'denied', message === DENIED ? peer.subject : undefined));
  }

  handshake(id: number): void {
    const c = this.#table.get(id);
    if (c === undefined || c.failure !== undefined) return;
    const { peer } = c;
    c.route = `${c.from} [no tls] <-> ${c.settings.targetText} ${peer ? `[${peer.subject}]` : '[no cert]'}`;
    const { timeouts } = c.settings;
    this.#table.engine.pipe(id, timeouts.closeMs, timeouts.maxLifetimeMs);
  }

  piping(id: number): void {
    this.#table.piping(id, this.#deps);
  }

  #fail(id: number, c: ClientConnection, message: string, reason: Failure, subject?: string): void {
    this.#table.fail(id, c, { message, reason, ...(subject === undefined ? {} : { subject }) });
  }

  ended(id: number, end: ConnectionEnd): void {
    const c = this.#table.take(id);
    if (c === undefined) return;
    c.abort.abort(new Error('connection ended'));
    const { log, events, tracker } = this.#deps;
    if (c.piped) {
      closedPipe(this.#deps, c, end);
    } else {
      // Ghostunnel counts a client-side timeout as a failed dial (accept.error), not as the
      // server handshake timeout (accept.timeout).
      const { message, reason, subject } = c.failure ?? failureOf(end);
      events.handshakeFailed(reason);
      log.connError(`error on dial: ${message}`, { peer: c.from, target: c.settings.targetText, ...(subject === undefined ? {} : { subject }) });
    }
    tracker.remove();
  }
}

/** What the data plane's report of a connection that never piped means. */
function failureOf(end: ConnectionEnd): { message: string; reason: Failure; subject?: string } {
  switch (end.kind) {
    case End.timeout:
      return { message: 'timed out (--connect-timeout)', reason: 'dial' };
    case End.dial:
      return { message: goDialError(end.message ?? 'dial failed'), reason: 'dial' };
    case End.eof:
      return end.message === 'accepted'
        ? { message: 'local connection closed before the target was reached', reason: 'dial' }
        : { message: 'connection closed during TLS handshake', reason: 'tls' };
    default:
      return { message: `tls: ${end.message ?? 'connection closed during TLS handshake'}`, reason: 'tls' };
  }
}
