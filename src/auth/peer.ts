import type { PeerCertificate } from 'node:tls';
import { X509Certificate } from 'node:crypto';

/** The facts about a peer certificate that access rules look at, read once per connection. */
export interface PeerIdentity {
  readonly cn: string;
  readonly ous: readonly string[];
  readonly dnsNames: readonly string[];
  readonly ips: readonly string[];
  readonly uris: readonly string[];
  /** Subject as a one-line DN, for logs ("CN=client,OU=bench"). */
  readonly subject: string;
  /** Subject and SAN text as Node's legacy certificate object has them (what checkServerIdentity reads). */
  readonly names: CertificateNames;
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

/** The subject and SAN text of a certificate, as Node's legacy certificate object gives them. */
export type CertificateNames = Pick<PeerCertificate, 'subject' | 'subjectaltname'>;

export function peerIdentity(cert: CertificateNames, x509: X509Certificate): PeerIdentity {
  const sans = parseSubjectAltNames(cert.subjectaltname);
  const of = (type: string): string[] => sans.filter(([t]) => t === type).map(([, v]) => v);
  return {
    cn: asList(cert.subject?.CN)[0] ?? '',
    ous: asList(cert.subject?.OU),
    dnsNames: of('DNS'),
    ips: of('IP Address'),
    uris: of('URI'),
    subject: dn(cert.subject),
    names: cert,
    x509,
  };
}

// A subject attribute as X509Certificate.subject prints it: a short name, then "=" (an attribute
// OpenSSL has no name for prints as a dotted OID, and may print its value as "#hex").
const ATTRIBUTE = /^([A-Za-z][A-Za-z0-9-]*)=(.*)$/s;

/** Undoes OpenSSL's RFC 2253 escaping ("\," and the like) and its "\XX" escapes of control characters. */
function unescapeValue(v: string): string {
  return v.indexOf('\\') < 0 ? v : v.replace(/\\([0-9A-Fa-f]{2}|[^])/g, (_m, e: string) => (e.length === 2 ? String.fromCharCode(parseInt(e, 16)) : e));
}

/**
 * The subject as toLegacyObject() gives it, read from X509Certificate.subject: one line per RDN
 * (" + " between the parts of a multi-valued one), values escaped, a repeated attribute becoming
 * a list. toLegacyObject() also hashes, exports and copies everything else in the certificate,
 * which costs a full handshake about 40 µs; this costs a few. Undefined when the text holds what
 * the legacy object may render differently (an attribute without a short name), or is empty.
 */
export function subjectOf(x509: X509Certificate): PeerCertificate['subject'] | undefined {
  const text = x509.subject as string | undefined;
  if (!text) return undefined;
  const subject: Record<string, string | string[]> = {};
  for (const rdn of text.split('\n')) {
    for (const part of rdn.split(' + ')) {
      const m = ATTRIBUTE.exec(part);
      if (m === null || m[2]!.startsWith('#')) return undefined;
      const [, key, raw] = m as unknown as [string, string, string];
      const value = unescapeValue(raw);
      const seen = subject[key];
      subject[key] = seen === undefined ? value : Array.isArray(seen) ? [...seen, value] : [seen, value];
    }
  }
  return subject as unknown as PeerCertificate['subject'];
}

/** Recently seen peer certificates (DER as a latin1 string) → their identity. */
const recent = new Map<string, PeerIdentity>();
const RECENT_MAX = 256;

/**
 * The identity in a certificate the peer presented (DER, as the data plane reports it). Clients
 * reconnect with the same certificate, and parsing one costs a twentieth of a handshake, so the
 * last few hundred are remembered: a certificate is immutable, and its chain and validity are the
 * handshake's to check (native/verify.cc), every time or within the window a remembered pass holds.
 */
export function identityFromDer(der: Buffer): PeerIdentity {
  const key = der.toString('latin1');
  const known = recent.get(key);
  if (known !== undefined) return known;
  const identity = identityOfCertificate(new X509Certificate(der));
  if (recent.size >= RECENT_MAX) recent.delete(recent.keys().next().value!);
  recent.set(key, identity);
  return identity;
}

export function identityOfCertificate(x509: X509Certificate): PeerIdentity {
  const subject = subjectOf(x509);
  return peerIdentity(subject === undefined ? x509.toLegacyObject() : { subject, subjectaltname: x509.subjectAltName }, x509);
}
