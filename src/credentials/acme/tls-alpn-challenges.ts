import { constants } from 'node:crypto';
import { createSecureContext, type SecureContext } from 'node:tls';

/** The ALPN protocol of TLS-ALPN-01 validation connections (RFC 8737). */
export const ACME_TLS_ALPN = 'acme-tls/1';

/**
 * The TLS-ALPN-01 challenges being validated right now: the name under validation → a context
 * serving its challenge certificate. The listener asks it about each ClientHello whose ALPN list is
 * exactly ["acme-tls/1"].
 */
export class TlsAlpnChallenges {
  readonly #contexts = new Map<string, SecureContext>();

  add(name: string, certPem: string, keyPem: string): void {
    // No session tickets: a validation connection is never resumed (spec §2.3).
    this.#contexts.set(name.toLowerCase(), createSecureContext({ cert: certPem, key: keyPem, minVersion: 'TLSv1.2', secureOptions: constants.SSL_OP_NO_TICKET }));
  }

  remove(name: string): void {
    this.#contexts.delete(name.toLowerCase());
  }

  /** The challenge context for the SNI name, if a challenge for it is pending. */
  contextFor(serverName: string): SecureContext | undefined {
    return this.#contexts.get(serverName.toLowerCase());
  }
}
