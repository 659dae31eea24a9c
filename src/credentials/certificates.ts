import { X509Certificate } from 'node:crypto';
import { CredentialError } from './credential-file.ts';

export function parseCertificates(ders: readonly Buffer[], path: string): X509Certificate[] {
  return ders.map((der, i) => {
    try {
      return new X509Certificate(der);
    } catch (err) {
      throw new CredentialError(`reading certificate file "${path}": certificate ${i + 1} does not parse: ${(err as Error).message}`);
    }
  });
}

/** The chain with the leaf moved first, the others in file order after it. */
export function leafFirst(certs: readonly X509Certificate[], leafIndex: number): X509Certificate[] {
  return [certs[leafIndex]!, ...certs.filter((_, i) => i !== leafIndex)];
}

/** An expired leaf is refused at load (a not-yet-valid one only warns, see the store). */
export function checkNotExpired(leaf: X509Certificate, path: string): void {
  if (leaf.validToDate.getTime() < Date.now()) {
    throw new CredentialError(`certificate in "${path}" expired on ${leaf.validToDate.toISOString()} (subject ${leaf.subject.replace(/\n/g, ', ')})`);
  }
}

/** "RSA 2048", "EC P-256", "Ed25519": the key kind, for messages that compare two keys. */
export function describeKeyType(key: { asymmetricKeyType?: string; asymmetricKeyDetails?: { modulusLength?: number; namedCurve?: string } }): string {
  const type = key.asymmetricKeyType ?? 'unknown';
  const d = key.asymmetricKeyDetails ?? {};
  if (type === 'rsa' || type === 'rsa-pss') return `RSA ${d.modulusLength ?? ''}`.trim();
  if (type === 'ec') return `EC ${CURVE_NAMES[d.namedCurve ?? ''] ?? d.namedCurve ?? ''}`.trim();
  return type === 'ed25519' ? 'Ed25519' : type === 'ed448' ? 'Ed448' : type;
}

const CURVE_NAMES: Record<string, string> = { prime256v1: 'P-256', secp384r1: 'P-384', secp521r1: 'P-521' };
