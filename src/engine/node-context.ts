import type { SecureContext } from 'node:tls';

/**
 * The portable data plane's TLS context (src/engine/node-plane.ts): Node's SecureContext of a
 * credential generation, and what each TLSSocket is told beside it, which Node keeps per socket.
 */
export interface NodeContext {
  readonly secureContext: SecureContext;
  /** Server: ask for a client certificate, and refuse a client without one inside the handshake. */
  readonly requireCertificate: boolean;
  /** Server: the ALPN protocols to select (acme-tls/1 for a TLS-ALPN-01 challenge context). */
  readonly alpn?: readonly string[];
}
