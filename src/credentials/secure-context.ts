import { randomBytes } from 'node:crypto';
import { createSecureContext, type SecureContext } from 'node:tls';
import type { TlsSettings } from '../config/types.ts';
import type { Identity, IdentityKey } from './identity.ts';
import type { TrustAnchors } from './trust.ts';

// TLS 1.3 suites are fixed, as in Go; listed because Node disables TLS 1.3 when the cipher
// string names none.
const TLS13_SUITES = 'TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256';
// Go's preference order (without the post-quantum hybrid, which OpenSSL 3.0 lacks).
const GROUPS = 'X25519:P-256:P-384:P-521';

/** 48 random bytes: the ticket name, HMAC and AES keys OpenSSL protects session tickets with. */
export function newTicketKeys(): Buffer {
  return randomBytes(48);
}

function keyOptions(key: IdentityKey): { key: string } | { privateKeyEngine: string; privateKeyIdentifier: string } {
  return key.kind === 'pem' ? { key: key.pem } : { privateKeyEngine: key.engine, privateKeyIdentifier: key.uri };
}

/**
 * One SecureContext serves both roles: as a server it presents the identity and verifies client
 * certificates against the trust anchors; as a client it does the same towards the target. Each
 * context gets fresh session-ticket keys (`newTicketKeys()`), so a swap also ends resumption of
 * sessions established under the previous credentials; the --workers loops build theirs with the
 * same keys, so that a ticket resumes on whichever loop accepts the connection.
 */
export function buildSecureContext(identity: Pick<Identity, 'chainPem' | 'key'> | undefined, trust: Pick<TrustAnchors, 'pems'>, settings: TlsSettings, ticketKeys: Buffer): SecureContext {
  const build = (): SecureContext =>
    createSecureContext({
      ...(identity ? { cert: identity.chainPem, ...keyOptions(identity.key) } : {}),
      // Without `ca` no CA names go into the CertificateRequest (server pin mode, spec §2.4).
      ...(settings.omitCaNames ? {} : { ca: [...trust.pems] }),
      minVersion: 'TLSv1.2',
      maxVersion: settings.maxVersion,
      ciphers: `${TLS13_SUITES}:${settings.ciphers}`,
      ecdhCurve: GROUPS,
      sessionIdContext: 'ghostunnel',
      ticketKeys,
    });
  return identity?.key.kind === 'engine' ? identity.key.unlock(build) : build();
}
