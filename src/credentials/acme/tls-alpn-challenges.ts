import type { SecureContext } from 'node:tls';
import type { DataPlaneKind } from '../../config/types.ts';
import { ACME_TLS_ALPN, type PlaneContext } from '../../engine/engine.ts';
import { challengeContext } from '../secure-context.ts';

/** A challenge certificate for the data plane, and for the responder on the alternate port. */
interface ChallengeContexts {
  readonly plane: PlaneContext;
  readonly node: SecureContext;
}

/**
 * The TLS-ALPN-01 challenges being validated right now: the name under validation → contexts
 * serving its challenge certificate. The data plane asks about each ClientHello whose ALPN list is
 * exactly ["acme-tls/1"] (OpenSSL picks a context from SNI before it looks at ALPN, so the
 * data plane looks at both in the ClientHello itself: native/context.cc, src/engine/node-connection.ts);
 * the responder on --auto-acme-alt-tls-alpn-port (validation-port.ts) serves Node's context.
 */
export class TlsAlpnChallenges {
  readonly #contexts = new Map<string, ChallengeContexts>();
  readonly #plane: DataPlaneKind;

  /** `plane`: the data plane that answers the validations (its contexts are built for it). */
  constructor(plane: DataPlaneKind) {
    this.#plane = plane;
  }

  add(name: string, certPem: string, keyPem: string): void {
    const plane = challengeContext(certPem, keyPem, ACME_TLS_ALPN, this.#plane);
    // On the node plane the plane's context is Node's already. Elsewhere node:tls is loaded with
    // the first challenge, not by every daemon that imports this module.
    const node = 'secureContext' in plane ? plane.secureContext : process.getBuiltinModule('node:tls').createSecureContext({ cert: certPem, key: keyPem, minVersion: 'TLSv1.2' });
    this.#contexts.set(name.toLowerCase(), { plane, node });
  }

  remove(name: string): void {
    this.#contexts.delete(name.toLowerCase());
  }

  /** The challenge context for the SNI name, if a challenge for it is pending. */
  contextFor(serverName: string): PlaneContext | undefined {
    return this.#contexts.get(serverName.toLowerCase())?.plane;
  }

  /** The same, as a Node.js context (the alternate port's responder). */
  secureContextFor(serverName: string): SecureContext | undefined {
    return this.#contexts.get(serverName.toLowerCase())?.node;
  }
}
