/**
 * What the tunnels report as connections come and go. Metrics implement it; the tunnels call it
 * without knowing who listens. Calls are on the hot path: implementations only bump counters.
 * Every accepted() connection ends with exactly one handshakeFailed() or closed().
 */
export interface TunnelEvents {
  /** A connection was accepted (before any TLS). */
  accepted(): void;
  /** accept() itself failed (EMFILE and the like). */
  acceptError(): void;
  /** The handshake with the TLS peer finished, after `ms`. Server mode only, as in Ghostunnel. */
  handshakeDone(ms: number): void;
  /** The handshake, the access check or the dial failed; `reason` is a short stable word. */
  handshakeFailed(reason: 'tls' | 'verify' | 'denied' | 'timeout' | 'dial'): void;
  /** Bytes started flowing: the target was dialed (and any PROXY header written). */
  piping(): void;
  /** A connection closed after `lifetimeMs`; byte counts are per direction. */
  closed(lifetimeMs: number, forwarded: number, returned: number, timedOut: boolean): void;
}

export const NO_EVENTS: TunnelEvents = {
  accepted() {},
  acceptError() {},
  handshakeDone() {},
  handshakeFailed() {},
  piping() {},
  closed() {},
};
