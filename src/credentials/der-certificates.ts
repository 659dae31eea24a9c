import { X509Certificate } from 'node:crypto';
import { CredentialError } from './credential-file.ts';

/** The length of the DER element at `offset` (tag, length octets and content). */
function elementLength(der: Buffer, offset: number): number {
  if (offset + 2 > der.length) throw new Error(`truncated DER at byte ${offset}`);
  const first = der[offset + 1]!;
  if (first < 0x80) return 2 + first;
  const octets = first & 0x7f;
  if (octets === 0 || octets > 4 || offset + 2 + octets > der.length) throw new Error(`bad DER length at byte ${offset}`);
  let length = 0;
  for (let i = 0; i < octets; i++) length = length * 256 + der[offset + 2 + i]!;
  return 2 + octets + length;
}

/**
 * Certificates given as concatenated ASN.1 DER (how the SPIFFE Workload API sends chains and
 * bundles), in order. `what` names the source in the error.
 */
export function splitDerCertificates(der: Buffer, what: string): X509Certificate[] {
  const certs: X509Certificate[] = [];
  let offset = 0;
  try {
    while (offset < der.length) {
      const length = elementLength(der, offset);
      if (offset + length > der.length) throw new Error(`certificate ${certs.length + 1} is truncated`);
      certs.push(new X509Certificate(der.subarray(offset, offset + length)));
      offset += length;
    }
  } catch (err) {
    throw new CredentialError(`${what}: certificate ${certs.length + 1} does not parse: ${(err as Error).message}`);
  }
  return certs;
}
