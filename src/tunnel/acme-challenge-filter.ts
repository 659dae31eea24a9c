import type { Socket } from 'node:net';
import { TLSSocket, type SecureContext } from 'node:tls';
import { ACME_TLS_ALPN, type TlsAlpnChallenges } from '../credentials/acme/tls-alpn-challenges.ts';
import type { Log } from '../log/logger.ts';
import { firstRecordLength, parseClientHello } from './client-hello.ts';

/** The handler the filter passes every other connection to (the server tunnel). */
export interface ConnectionHandler {
  handle(socket: Socket, listenAddress: string): void;
}

/**
 * With --auto-acme-cert, in front of the server tunnel: reads the ClientHello of each connection
 * before any TLS state exists. One whose ALPN list is exactly ["acme-tls/1"] and whose SNI names a
 * pending challenge is a TLS-ALPN-01 validation: it gets the challenge certificate, no client
 * certificate request, ALPN acme-tls/1, and is closed after the handshake without dialing the
 * backend (spec §2.3); one for a name with no pending challenge is closed at once. Every other
 * connection goes on to the tunnel with its bytes put back.
 *
 * Why not SNICallback/ALPNCallback: OpenSSL picks the context from SNI before it looks at ALPN,
 * so neither callback alone can tell a validation from an ordinary client of the same name.
 */
export class AcmeChallengeFilter implements ConnectionHandler {
  readonly #next: ConnectionHandler;
  readonly #challenges: TlsAlpnChallenges;
  readonly #log: Log;
  readonly #timeoutMs: number;

  constructor(next: ConnectionHandler, challenges: TlsAlpnChallenges, log: Log, timeoutMs: number) {
    this.#next = next;
    this.#challenges = challenges;
    this.#log = log;
    this.#timeoutMs = timeoutMs;
  }

  handle(raw: Socket, listenAddress: string): void {
    let head: Buffer = Buffer.alloc(0);
    const timer = setTimeout(() => raw.destroy(), this.#timeoutMs);
    const stop = (): void => {
      clearTimeout(timer);
      raw.off('data', onData);
      raw.off('error', onError);
      raw.off('end', onEnd);
      raw.pause();
      if (head.length > 0) raw.unshift(head);
    };
    const route = (): void => {
      stop();
      const hello = parseClientHello(head);
      if (hello === undefined || hello.alpn.length !== 1 || hello.alpn[0] !== ACME_TLS_ALPN) return this.#next.handle(raw, listenAddress);
      const context = hello.serverName === undefined ? undefined : this.#challenges.contextFor(hello.serverName);
      if (context !== undefined) return this.#answer(raw, context, hello.serverName!);
      // A validator for a challenge we are not answering (any more): it never reaches the backend.
      this.#log.handshakeError(`error on TLS handshake from tcp:${raw.remoteAddress}:${raw.remotePort}: no pending TLS-ALPN-01 challenge for ${hello.serverName ?? '(no SNI)'}`);
      raw.destroy();
    };
    const onData = (chunk: Buffer): void => {
      head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
      const needed = firstRecordLength(head);
      if (needed !== undefined && head.length >= needed) route();
    };
    const onError = (): void => {
      clearTimeout(timer);
      raw.destroy();
    };
    const onEnd = (): void => route();
    raw.on('data', onData);
    raw.on('error', onError);
    raw.on('end', onEnd);
  }

  #answer(raw: Socket, secureContext: SecureContext, serverName: string): void {
    const from = `tcp:${raw.remoteAddress}:${raw.remotePort}`;
    const tls = new TLSSocket(raw, { isServer: true, secureContext, requestCert: false, ALPNProtocols: [ACME_TLS_ALPN] });
    const timer = setTimeout(() => tls.destroy(), this.#timeoutMs);
    tls.once('secure', () => {
      clearTimeout(timer);
      this.#log.info(`answered TLS-ALPN-01 challenge for ${serverName} from ${from}`, { peer: from, fqdn: serverName });
      tls.end();
    });
    tls.on('error', (err) => {
      clearTimeout(timer);
      this.#log.handshakeError(`error on TLS-ALPN-01 challenge handshake from ${from}: ${err.message}`, { peer: from });
      tls.destroy();
    });
    tls.once('close', () => clearTimeout(timer));
  }
}
