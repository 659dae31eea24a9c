import type { AccessPolicy } from './access-policy.ts';
import type { PeerIdentity } from './peer.ts';

// A SPIFFE ID (spiffe.io X.509-SVID standard, §2): lower-case trust domain, then path segments
// that are not empty, "." or "..", of letters, digits, ".", "-" and "_".
const SPIFFE_ID = /^spiffe:\/\/[a-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/;

function isSpiffeId(uri: string): boolean {
  return SPIFFE_ID.test(uri) && !uri.split('/').slice(3).some((s) => s === '.' || s === '..');
}

/** A leaf that is an X.509-SVID: not a CA, and exactly one URI SAN, a SPIFFE ID. */
export function isSvid(peer: PeerIdentity): boolean {
  return !peer.x509.ca && peer.uris.length === 1 && isSpiffeId(peer.uris[0]!);
}

/**
 * With --use-workload-api the peer must present an X.509-SVID (its chain is verified by OpenSSL
 * against the trust bundles, which are the context's CAs); then the --allow-* or --verify-* rules
 * run on it, and without rules any SVID of a trusted trust domain is accepted (spec §2.5, §2.6).
 */
export function svidPolicy(rules: AccessPolicy | undefined): AccessPolicy {
  return { allows: (peer) => (isSvid(peer) ? (rules?.allows(peer) ?? true) : false) };
}
