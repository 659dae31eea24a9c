import type { X509Certificate } from 'node:crypto';
import type { Mode } from '../config/types.ts';
import type { Credentials } from '../credentials/store.ts';
import { subjectLine } from '../reload/reloader.ts';

/** The tunnel's own leaf ("server" or "client" by mode), the chain above it, and the --cacert anchors. */
export type CertificateRole = Mode | 'intermediate' | 'ca';

/** One certificate the daemon is using, as /_status and the expiry metric show it. */
export interface ActiveCertificate {
  readonly role: CertificateRole;
  readonly subject: string;
  readonly serial: string;
  /** SHA-256 of the DER, colon-separated hex (openssl x509 -fingerprint -sha256). */
  readonly sha256: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

function describe(role: CertificateRole, cert: X509Certificate): ActiveCertificate {
  return { role, subject: subjectLine(cert.subject), serial: cert.serialNumber, sha256: cert.fingerprint256, notBefore: cert.validFromDate, notAfter: cert.validToDate };
}

/** The certificates of the current generation; system roots are left out (hundreds, not ours). */
export function activeCertificates(mode: Mode, creds: Credentials): ActiveCertificate[] {
  const chain = creds.identity?.chain ?? [];
  return [
    ...chain.map((cert, i) => describe(i === 0 ? mode : 'intermediate', cert)),
    ...creds.trust.certs.map((cert) => describe('ca', cert)),
  ];
}

/** The soonest expiry of each role, in seconds since the epoch: what an alert wants. */
export function soonestExpiry(certs: readonly ActiveCertificate[]): Map<CertificateRole, number> {
  const byRole = new Map<CertificateRole, number>();
  for (const c of certs) {
    const at = c.notAfter.getTime() / 1000;
    byRole.set(c.role, Math.min(byRole.get(c.role) ?? Infinity, at));
  }
  return byRole;
}
