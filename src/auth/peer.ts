import type { PeerCertificate, TLSSocket } from 'node:tls';
import type { X509Certificate } from 'node:crypto';

/** The facts about a peer certificate that access rules look at, read once per connection. */
export interface PeerIdentity {
  readonly cn: string;
  readonly ous: readonly string[];
  readonly dnsNames: readonly string[];
  readonly ips: readonly string[];
  readonly uris: readonly string[];
  /** Subject as a one-line DN, for logs ("CN=client,OU=bench"). */
  readonly subject: string;
  readonly x509: X509Certificate;
}

function asList(v: string | string[] | undefined): string[] {
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

/**
 * Splits Node's subjectaltname text ("DNS:a, URI:spiffe://x, IP Address:1.2.3.4"). Node writes a
 * value holding a comma or quote as a JSON string, so those are decoded rather than split.
 */
export function parseSubjectAltNames(text: string | undefined): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  if (!text) return out;
  let i = 0;
  while (i < text.length) {
    const colon = text.indexOf(':', i);
    if (colon < 0) break;
    const type = text.slice(i, colon);
    let j = colon + 1;
    let value: string;
    if (text[j] === '"') {
      let k = j + 1;
      while (k < text.length && text[k] !== '"') k += text[k] === '\\' ? 2 : 1;
      value = JSON.parse(text.slice(j, k + 1)) as string;
      j = k + 1;
    } else {
      const comma = text.indexOf(', ', j);
      const end = comma < 0 ? text.length : comma;
      value = text.slice(j, end);
      j = end;
    }
    out.push([type, value]);
    i = text.startsWith(', ', j) ? j + 2 : j;
  }
  return out;
}

function dn(subject: PeerCertificate['subject']): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(subject ?? {})) for (const one of asList(v)) parts.push(`${k}=${one}`);
  return parts.join(',');
}

export function peerIdentity(cert: PeerCertificate, x509: X509Certificate): PeerIdentity {
  const sans = parseSubjectAltNames(cert.subjectaltname);
  const of = (type: string): string[] => sans.filter(([t]) => t === type).map(([, v]) => v);
  return {
    cn: asList(cert.subject?.CN)[0] ?? '',
    ous: asList(cert.subject?.OU),
    dnsNames: of('DNS'),
    ips: of('IP Address'),
    uris: of('URI'),
    subject: dn(cert.subject),
    x509,
  };
}

/** The peer's leaf certificate as an identity, or undefined when it sent none. */
export function identityOf(socket: TLSSocket): PeerIdentity | undefined {
  const x509 = socket.getPeerX509Certificate();
  if (x509 === undefined) return undefined;
  return peerIdentity(x509.toLegacyObject(), x509);
}
