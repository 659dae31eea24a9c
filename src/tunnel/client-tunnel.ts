import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import { checkServerIdentity, connect as tlsConnect, type PeerCertificate, type TLSSocket } from 'node:tls';
import type { AccessPolicy } from '../auth/access-policy.ts';
import { identityOf, type PeerIdentity } from '../auth/peer.ts';
import type { Log } from '../log/logger.ts';
import type { TunnelEvents } from './events.ts';
import type { OpenConnections } from './open-connections.ts';
import { startPiping } from './piping.ts';
import type { ClientRuntime, ContextCell, RuntimeCell } from './runtime-settings.ts';
import { DENIED } from './server-tunnel.ts';
import { peerVerifyError } from './tls-peer.ts';
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
  readonly store: ContextCell;
  /** Target, proxy, verification, timeouts: read once per connection, replaced by a reload. */
  readonly settings: RuntimeCell<ClientRuntime>;
  /** Where piping connections are registered with the server's identity, for re-authorization. */
  readonly connections: OpenConnections;
  readonly log: Log;
  readonly tracker: ConnectionTracker;
  readonly events: TunnelEvents;
}

type Failure = 'tls' | 'verify' | 'denied' | 'dial';

function verifyFailure(tls: TLSSocket, nameError: Error | undefined): string {
  const err = nameError ?? peerVerifyError(tls);
  const code = (err as (Error & { code?: string }) | null)?.code;
  const text = err === null ? String(tls.authorizationError) : code && code !== err.message ? `${err.message} (${code})` : err.message;
  return `certificate verification failed: ${text}`;
}

/**
 * Client mode, per connection: dial the target (directly or through the proxy), TLS handshake with
 * the credentials current at that moment, verification, then the pipe. The dial and the handshake
 * share one --connect-timeout; any failure closes the local connection at once and says why.
 */
export class ClientTunnel {
  readonly #deps: ClientTunnelDeps;

  constructor(deps: ClientTunnelDeps) {
    this.#deps = deps;
  }

  handle(local: Socket): void {
    const { store, log, tracker, events } = this.#deps;
    const { verification, dialer, timeouts, targetText, sni, endpoint } = this.#deps.settings.current;
    tracker.add();
    events.accepted();
    const started = performance.now();
    const from = local.remoteAddress === undefined ? this.#deps.listen : `tcp:${local.remoteAddress}:${local.remotePort}`;
    const abort = new AbortController();
    let remote: Duplex | undefined;
    let settled = false;

    const fail = (why: string, reason: Failure, fields: object = {}): void => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      release();
      abort.abort(new Error(why));
      // Ghostunnel counts a client-side timeout as a failed dial (accept.error), not as the
      // server handshake timeout (accept.timeout).
      events.handshakeFailed(reason);
      log.connError(`error on dial: ${why}`, { peer: from, target: targetText, ...fields });
      remote?.destroy();
      local.destroy();
      tracker.remove();
    };
    const deadline = setTimeout(() => fail('timed out (--connect-timeout)', 'dial'), timeouts.connectMs);
    const release = tracker.connecting(() => fail('context canceled (shutting down)', 'dial'));
    const onLocalError = (): void => {};
    const onLocalClose = (): void => fail('local connection closed before the target was reached', 'dial');
    local.on('error', onLocalError);
    local.once('close', onLocalClose);

    const handshake = (raw: Duplex): void => {
      let nameError: Error | undefined;
      const tls = tlsConnect({
        socket: raw,
        secureContext: store.current.context,
        servername: sni,
        // Checked below, on 'secureConnect', so that the log can tell chain, name and policy apart;
        // Node completes the handshake before it verifies either way.
        rejectUnauthorized: false,
        checkServerIdentity: (_host: string, cert: PeerCertificate) => {
          nameError = verification.chainAndName && !verification.skipName ? checkServerIdentity(verification.serverName, cert) : undefined;
          return nameError;
        },
      });
      remote = tls;
      const onTlsError = (err: Error & { reason?: string }): void => fail(`tls: ${err.reason ?? err.message}`, 'tls');
      const onTlsClose = (): void => fail('connection closed during TLS handshake', 'tls');
      tls.on('error', onTlsError);
      tls.once('close', onTlsClose);
      tls.once('secureConnect', () => {
        if (settled) return;
        if (verification.chainAndName && !tls.authorized) return fail(verifyFailure(tls, nameError), 'verify');
        const peer = identityOf(tls);
        const policy = verification.policy;
        if (policy === undefined) return pipe(tls, peer);
        if (peer === undefined) return fail(DENIED, 'denied');
        const verdict = policy.allows(peer);
        if (verdict === true) return pipe(tls, peer);
        if (verdict === false) return fail(DENIED, 'denied', { subject: peer.subject });
        verdict.then(
          (ok) => (ok ? pipe(tls, peer) : fail(DENIED, 'denied', { subject: peer.subject })),
          (err: Error) => fail(`unauthorized: policy returned error: ${err.message}`, 'denied'),
        );
      });
      const pipe = (secure: TLSSocket, peer: PeerIdentity | undefined): void => {
        if (settled) return;
        settled = true;
        clearTimeout(deadline);
        release();
        local.off('error', onLocalError);
        local.off('close', onLocalClose);
        secure.off('error', onTlsError);
        secure.off('close', onTlsClose);
        const who = peer ? `[${peer.subject}]` : '[no cert]';
        startPiping(this.#deps, { accepted: local, dialed: secure, plainSide: local, peer, from, route: `${from} [no tls] <-> ${targetText} ${who}`, target: targetText, started, timeouts });
      };
    };

    dialer(endpoint, abort.signal).then(
      (raw) => {
        if (settled) raw.destroy();
        else handshake(raw);
      },
      (err: Error) => fail(err.message, 'dial'),
    );
  }
}
