import type { SecureContext } from 'node:tls';

/**
 * The portable data plane's TLS context (src/engine/node-plane.ts): Node's SecureContext of a
 * credential generation, and what each TLSSocket is told beside it, which Node keeps per socket.
 */
export interface NodeContext {
  readonly secureContext: SecureContext;
  /**
   * Server: the same context without session tickets, for a client that cannot resume (it offers
   * neither psk_key_exchange_modes nor session_ticket). Node cannot set how many tickets a context
   * sends; making none saves about a fifth of a full handshake's CPU (docs/data-plane.md).
   */
  readonly withoutTickets?: SecureContext;
  /** Server: ask for a client certificate, and refuse a client without one inside the handshake. */
  readonly requireCertificate: boolean;
  /** Server: the ALPN protocols to select (acme-tls/1 for a TLS-ALPN-01 challenge context). */
  readonly alpn?: readonly string[];
}
