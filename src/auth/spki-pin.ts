import { createHash, timingSafeEqual, type X509Certificate } from 'node:crypto';
import type { SpkiHash, SpkiPin } from '../config/types.ts';
import type { AccessPolicy } from './access-policy.ts';
import type { PeerIdentity } from './peer.ts';

/** The DER SubjectPublicKeyInfo of a certificate: what a pin is a digest of. */
export function spkiDer(cert: X509Certificate): Buffer {
  return cert.publicKey.export({ type: 'spki', format: 'der' });
}

/** The pin of a certificate's key, "sha256:BASE64" (as an operator would write it in a flag). */
export function spkiPinOf(cert: X509Certificate, hash: SpkiHash = 'sha256'): string {
  return `${hash}:${createHash(hash).update(spkiDer(cert)).digest('base64')}`;
}

/**
 * True when the certificate's key matches any pin. Every pin is compared, in constant time, so the
 * time taken says nothing about which pin (or how much of one) matched.
 */
export function matchesSpkiPins(cert: X509Certificate, pins: readonly SpkiPin[]): boolean {
  const spki = spkiDer(cert);
  const digests = new Map<SpkiHash, Buffer>();
  let matched = false;
  for (const pin of pins) {
    let digest = digests.get(pin.hash);
    if (digest === undefined) {
      digest = createHash(pin.hash).update(spki).digest();
      digests.set(pin.hash, digest);
    }
    if (timingSafeEqual(digest, pin.digest)) matched = true;
  }
  return matched;
}

/**
 * Pin-only authentication (spec §2.7), as an access policy: only the leaf's key counts; its chain,
 * dates and names are deliberately not looked at.
 */
export function spkiPinPolicy(pins: readonly SpkiPin[]): AccessPolicy {
  if (pins.length === 0) throw new Error('internal: a pin policy needs at least one pin');
  return { allows: (peer: PeerIdentity) => matchesSpkiPins(peer.x509, pins) };
}
