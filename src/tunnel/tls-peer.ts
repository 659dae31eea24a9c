import type { TLSSocket } from 'node:tls';

interface TlsHandle {
  verifyError(): (Error & { code?: string }) | null;
}

/**
 * OpenSSL's verdict on the peer chain. tls.Server reads it the same way (its handle's
 * verifyError()); a TLSSocket made by hand has no public accessor, and we make them by hand so
 * that each connection takes the credentials current at accept time.
 */
export function peerVerifyError(socket: TLSSocket): (Error & { code?: string }) | null {
  const handle = (socket as unknown as { _handle: TlsHandle | null })._handle;
  if (handle === null) return new Error('connection closed during handshake');
  return handle.verifyError();
}
