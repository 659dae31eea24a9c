// Node's TLSSocket as the portable data plane drives it. Sockets are made by hand over accepted or
// dialed ones (not by tls.Server or tls.connect), so that each takes the context of its own
// credential generation and skips the checks the tunnel makes itself. Two things this needs have
// no public API; they are kept here, in one place: starting a client handshake on a socket made
// by hand, and OpenSSL's verdict on the peer's chain (what tls.Server and tls.connect read).
// node:tls is loaded at the first socket, not at start: the bundle holds this plane beside the
// native one, whose daemon never needs it.
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { SecureContext, TLSSocket } from 'node:tls';
import type { NodeContext } from './node-context.ts';

interface TlsInternals {
  _handle: { verifyError(): (Error & { code?: string }) | null } | null;
  _start(): void;
  setServername(name: string): void;
}

/**
 * The server side of a TLS connection over an accepted socket, with `secureContext` (one of
 * `context`'s, picked from the ClientHello). On a socket made by hand,
 * rejectUnauthorized adds only OpenSSL's SSL_VERIFY_FAIL_IF_NO_PEER_CERT: a client without a
 * certificate is refused inside the handshake, as the engine does; a failed chain is the tunnel's
 * to decide (tls.Server's own check after the handshake is not attached here).
 */
export function serverTls(raw: Socket, context: NodeContext, secureContext: SecureContext): TLSSocket {
  return new (process.getBuiltinModule('node:tls').TLSSocket)(raw, {
    isServer: true,
    secureContext,
    requestCert: context.requireCertificate,
    rejectUnauthorized: context.requireCertificate,
    ...(context.alpn === undefined ? {} : { ALPNProtocols: [...context.alpn] }),
  });
}

/** The client side over a connected socket (or a proxy's stream), handshake started; `serverName` '' sends no SNI. */
export function clientTls(over: Socket | Duplex, context: NodeContext, serverName: string): TLSSocket {
  const tls = new (process.getBuiltinModule('node:tls').TLSSocket)(over as Socket, { isServer: false, secureContext: context.secureContext, requestCert: true, rejectUnauthorized: false });
  const internals = tls as unknown as TlsInternals;
  if (serverName !== '') internals.setServername(serverName);
  internals._start();
  return tls;
}

/** The advice Node appends to some verification texts; the engine reports OpenSSL's text alone. */
const NODE_ADVICE = /; if the root CA is installed locally, .*$/;

/** OpenSSL's verdict on the peer's chain: null when it passed, else Node's code and OpenSSL's text. */
export function chainVerdict(tls: TLSSocket): { code: string | null; text: string | null } {
  const handle = (tls as unknown as TlsInternals)._handle;
  const error: (Error & { code?: string }) | null = handle === null ? new Error('connection closed during handshake') : handle.verifyError();
  return error === null ? { code: null, text: null } : { code: error.code ?? 'UNSPECIFIED', text: error.message.replace(NODE_ADVICE, '') };
}
