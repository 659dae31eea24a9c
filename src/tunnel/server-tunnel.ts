import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import { performance } from 'node:perf_hooks';
import { identityOf, type PeerIdentity } from '../auth/peer.ts';
import type { Log } from '../log/logger.ts';
import { dialPlain } from '../net/dial.ts';
import type { OpenConnections } from './open-connections.ts';
import { startPiping } from './piping.ts';
import { proxyHeaderFor } from './proxy-header.ts';
import { peerVerifyError } from './tls-peer.ts';
import type { ContextCell, RuntimeCell, ServerRuntime } from './runtime-settings.ts';
import type { ConnectionTracker } from './tracker.ts';
import type { TunnelEvents } from './events.ts';

export interface ServerTunnelDeps {
  readonly store: ContextCell;
  /** Target, access rules, timeouts, PROXY header: read once per connection, replaced by a reload. */
  readonly settings: RuntimeCell<ServerRuntime>;
  /** Where piping connections with a client certificate are registered, for re-authorization. */
  readonly connections: OpenConnections;
  readonly log: Log;
  readonly tracker: ConnectionTracker;
  readonly events: TunnelEvents;
}

export const DENIED = 'unauthorized: invalid principal, or principal not allowed';

/**
 * Server mode, per connection: TLS handshake with the credentials and settings current at accept
 * time, access check, backend dial (both within --connect-timeout), then the pipe.
 */
export class ServerTunnel {
  readonly #deps: ServerTunnelDeps;

  constructor(deps: ServerTunnelDeps) {
    this.#deps = deps;
  }

  /** `listenAddress`: the listening socket's address (its path, for the PROXY header on a UNIX listener). */
  handle(raw: Socket, listenAddress?: string): void {
    const { store, log, tracker, events } = this.#deps;
    const settings = this.#deps.settings.current;
    const { policy, verifyChain, timeouts, targetText } = settings;
    tracker.add();
    events.accepted();
    const started = performance.now();
    const from = `tcp:${raw.remoteAddress}:${raw.remotePort}`;
    const tls = new TLSSocket(raw, { isServer: true, secureContext: store.current.context, requestCert: settings.requestCert, rejectUnauthorized: verifyChain });
    let settled = false;
    const fail = (msg: string, reason: 'tls' | 'verify' | 'denied' | 'timeout' | 'dial'): void => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      release();
      events.handshakeFailed(reason);
      if (reason === 'dial') log.connError(msg, { peer: from });
      else log.handshakeError(`error on TLS handshake from ${from}: ${msg}`, { peer: from });
      tls.destroy();
      tracker.remove();
    };
    const deadline = setTimeout(() => fail('timed out (--connect-timeout)', 'timeout'), timeouts.connectMs);
    const release = tracker.connecting(() => fail('context canceled (shutting down)', 'tls'));
    tls.on('error', (err: Error & { reason?: string }) => fail(err.reason ?? err.message, 'tls'));
    tls.once('close', () => fail('connection closed during handshake', 'tls'));
    // A client that half-closes before finishing its handshake will never finish it. (After the
    // handshake an early end is the pipe's business: the bytes before it still go through.)
    const onEarlyEnd = (): void => fail('client closed the connection during the handshake', 'tls');
    tls.once('end', onEarlyEnd);
    tls.once('secure', () => {
      if (settled) return;
      tls.off('end', onEarlyEnd);
      events.handshakeDone(performance.now() - started);
      let peer: PeerIdentity | undefined;
      if (policy !== undefined) {
        const verifyError = verifyChain ? peerVerifyError(tls) : null;
        if (verifyError) return fail(`certificate verification failed: ${verifyError.code ?? verifyError.message}`, 'verify');
        peer = identityOf(tls);
        if (peer === undefined) return fail(DENIED, 'denied');
        const verdict = policy.allows(peer);
        if (verdict === true) return dial(peer);
        if (verdict === false) return fail(DENIED, 'denied');
        const admitted = peer;
        verdict.then(
          (ok) => (ok ? dial(admitted) : fail(DENIED, 'denied')),
          (err: Error) => fail(`unauthorized: policy returned error: ${err.message}`, 'denied'),
        );
        return;
      }
      dial(undefined);
    });
    const dial = (peer: PeerIdentity | undefined): void => {
      if (settled) return;
      const who = peer ? `[${peer.subject}]` : '[no cert]';
      const backend = dialPlain(settings.target);
      backend.once('error', (err) => fail(`error on dial: ${err.message}`, 'dial'));
      backend.once('connect', () => {
        if (settled) {
          backend.destroy();
          return;
        }
        if (settings.proxyProtocol !== undefined) {
          try {
            backend.write(proxyHeaderFor(settings.proxyProtocol, raw, tls, listenAddress));
          } catch (err) {
            backend.destroy();
            return fail(`error writing PROXY header: ${(err as Error).message}`, 'dial');
          }
        }
        settled = true;
        clearTimeout(deadline);
        release();
        tls.removeAllListeners('error');
        tls.removeAllListeners('close');
        backend.removeAllListeners('error');
        startPiping(this.#deps, { accepted: tls, dialed: backend, plainSide: backend, peer, from, route: `${from} ${who} <-> ${targetText} [no tls]`, target: targetText, started, timeouts });
      });
    };
  }
}
