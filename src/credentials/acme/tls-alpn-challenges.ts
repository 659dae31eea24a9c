import { createSecureContext, type SecureContext } from 'node:tls';
import { createNativeContext, type NativeContext } from '../../engine/native.ts';

/** The ALPN protocol of TLS-ALPN-01 validation connections (RFC 8737). */
export const ACME_TLS_ALPN = 'acme-tls/1';

/** A challenge certificate as each TLS stack takes it. */
interface ChallengeContexts {
  readonly native: NativeContext;
  readonly node: SecureContext;
}

/**
 * The TLS-ALPN-01 challenges being validated right now: the name under validation → contexts
 * serving its challenge certificate. The data plane asks about each ClientHello whose ALPN list is
 * exactly ["acme-tls/1"] (OpenSSL picks a context from SNI before it looks at ALPN, so the
 * engine looks at both in the ClientHello itself, native/context.cc); the responder on
 * --auto-acme-alt-tls-alpn-port (validation-port.ts) serves Node's context.
 */
export class TlsAlpnChallenges {
  readonly #contexts = new Map<string, ChallengeContexts>();

  add(name: string, certPem: string, keyPem: string): void {
    const native = createNativeContext({
      server: true,
      chain: certPem,
      key: keyPem,
      cas: [],
      caNames: false,
      minVersion: 0x0303,
      maxVersion: 0x0304,
      ciphers: '',
      suites: '',
      groups: '',
      alpn: [ACME_TLS_ALPN],
      // No session tickets: a validation connection is never resumed (spec §2.3).
      tickets: 0,
    });
    const node = createSecureContext({ cert: certPem, key: keyPem, minVersion: 'TLSv1.2' });
    this.#contexts.set(name.toLowerCase(), { native, node });
  }

  remove(name: string): void {
    this.#contexts.delete(name.toLowerCase());
  }

  /** The challenge context for the SNI name, if a challenge for it is pending. */
  contextFor(serverName: string): NativeContext | undefined {
    return this.#contexts.get(serverName.toLowerCase())?.native;
  }

  /** The same, as a Node.js context. */
  secureContextFor(serverName: string): SecureContext | undefined {
    return this.#contexts.get(serverName.toLowerCase())?.node;
  }
}
