import {
  bitAt,
  bitStringBytes,
  booleanOf,
  childrenOf,
  contextConstructed,
  contextTag,
  expect,
  integerOf,
  oidArcs,
  oidText,
  readElement,
  Tag,
  unsignedOf,
  type DerElement,
} from './der.ts';
import { parseGoUrl, type GoUrl } from './go-url.ts';

/**
 * The OPA input document Ghostunnel builds for a peer: {"certificate": <x509.Certificate>} in
 * Go's encoding/json form (spec §2.8), so that policies written for Ghostunnel keep working.
 * Field names, their order, enum numbers, null-for-empty and base64 for bytes follow Go 1.23's
 * crypto/x509 parser and encoding/json; big integers (serial number, key material) are written
 * exactly, never through a float.
 */

// JSON.rawJSON (Node >= 21) is not in TypeScript's es2023 lib.
const { rawJSON } = JSON as unknown as { rawJSON(text: string): object };

type Json = string | number | boolean | null | object;

function bigNumber(v: bigint): object {
  return rawJSON(v.toString());
}

function base64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

/** Go encodes a nil slice as null; the parser leaves a slice nil until it appends to it. */
function list<T>(items: T[]): T[] | null {
  return items.length === 0 ? null : items;
}

const SIGNATURE_ALGORITHMS: Record<string, number> = {
  '1.2.840.113549.1.1.2': 1, // MD2WithRSA
  '1.2.840.113549.1.1.4': 2, // MD5WithRSA
  '1.2.840.113549.1.1.5': 3, // SHA1WithRSA
  '1.3.14.3.2.29': 3, // SHA1WithRSA (ISO OID)
  '1.2.840.113549.1.1.11': 4, // SHA256WithRSA
  '1.2.840.113549.1.1.12': 5, // SHA384WithRSA
  '1.2.840.113549.1.1.13': 6, // SHA512WithRSA
  '1.2.840.10040.4.3': 7, // DSAWithSHA1
  '2.16.840.1.101.3.4.3.2': 8, // DSAWithSHA256
  '1.2.840.10045.4.1': 9, // ECDSAWithSHA1
  '1.2.840.10045.4.3.2': 10, // ECDSAWithSHA256
  '1.2.840.10045.4.3.3': 11, // ECDSAWithSHA384
  '1.2.840.10045.4.3.4': 12, // ECDSAWithSHA512
  '1.3.101.112': 16, // PureEd25519
};
const RSA_PSS = '1.2.840.113549.1.1.10';
const MGF1 = '1.2.840.113549.1.1.8';
/** Hash OID → [SignatureAlgorithm for RSA-PSS, required salt length]. */
const PSS_BY_HASH: Record<string, [number, bigint]> = {
  '2.16.840.1.101.3.4.2.1': [13, 32n],
  '2.16.840.1.101.3.4.2.2': [14, 48n],
  '2.16.840.1.101.3.4.2.3': [15, 64n],
};

const PUBLIC_KEY_ALGORITHMS: Record<string, number> = {
  '1.2.840.113549.1.1.1': 1, // RSA
  '1.2.840.10040.4.1': 2, // DSA
  '1.2.840.10045.2.1': 3, // ECDSA
  '1.3.101.112': 4, // Ed25519
};
/** Named curve OID → coordinate size in bytes (Go supports only these four). */
const CURVES: Record<string, number> = {
  '1.3.132.0.33': 28, // P-224
  '1.2.840.10045.3.1.7': 32, // P-256
  '1.3.132.0.34': 48, // P-384
  '1.3.132.0.35': 66, // P-521
};

const EXT_KEY_USAGES: Record<string, number> = {
  '2.5.29.37.0': 0, // Any
  '1.3.6.1.5.5.7.3.1': 1, // ServerAuth
  '1.3.6.1.5.5.7.3.2': 2, // ClientAuth
  '1.3.6.1.5.5.7.3.3': 3, // CodeSigning
  '1.3.6.1.5.5.7.3.4': 4, // EmailProtection
  '1.3.6.1.5.5.7.3.5': 5, // IPSECEndSystem
  '1.3.6.1.5.5.7.3.6': 6, // IPSECTunnel
  '1.3.6.1.5.5.7.3.7': 7, // IPSECUser
  '1.3.6.1.5.5.7.3.8': 8, // TimeStamping
  '1.3.6.1.5.5.7.3.9': 9, // OCSPSigning
  '1.3.6.1.4.1.311.10.3.3': 10, // MicrosoftServerGatedCrypto
  '2.16.840.1.113730.4.1': 11, // NetscapeServerGatedCrypto
  '1.3.6.1.4.1.311.2.1.22': 12, // MicrosoftCommercialCodeSigning
  '1.3.6.1.4.1.311.61.1.1': 13, // MicrosoftKernelCodeSigning
};

const AUTHORITY_INFO_ACCESS = '1.3.6.1.5.5.7.1.1';
const AIA_OCSP = '1.3.6.1.5.5.7.48.1';
const AIA_CA_ISSUERS = '1.3.6.1.5.5.7.48.2';

const latin1 = new TextDecoder('latin1');
const utf8 = new TextDecoder('utf-8');
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** Go's parseASN1String: the directory-string types a Name attribute may use. */
function directoryString(el: DerElement): string {
  switch (el.tag) {
    case Tag.UTF8_STRING:
      return strictUtf8.decode(el.content);
    case Tag.T61_STRING: // Go keeps the raw bytes; its JSON encoder then replaces invalid UTF-8
      return utf8.decode(el.content);
    case Tag.PRINTABLE_STRING:
    case Tag.IA5_STRING:
    case Tag.NUMERIC_STRING:
      return latin1.decode(el.content);
    case Tag.BMP_STRING: {
      const c = el.content;
      const units: number[] = [];
      for (let i = 0; i + 1 < c.length; i += 2) units.push((c[i]! << 8) | c[i + 1]!);
      return String.fromCharCode(...units);
    }
    default:
      throw new Error(`x509: invalid RDNSequence: invalid attribute value: unsupported string type: ${el.tag}`);
  }
}

/** pkix.Name as FillFromRDNSequence fills it. */
function pkixName(rdnSequence: DerElement): object {
  const n = {
    Country: [] as string[],
    Organization: [] as string[],
    OrganizationalUnit: [] as string[],
    Locality: [] as string[],
    Province: [] as string[],
    StreetAddress: [] as string[],
    PostalCode: [] as string[],
    SerialNumber: '',
    CommonName: '',
    Names: [] as Array<{ Type: number[]; Value: string }>,
  };
  const byAttribute: Record<number, string[]> = { 6: n.Country, 7: n.Locality, 8: n.Province, 9: n.StreetAddress, 10: n.Organization, 11: n.OrganizationalUnit, 17: n.PostalCode };
  for (const rdn of childrenOf(expect(rdnSequence, Tag.SEQUENCE, 'Name'))) {
    for (const atv of childrenOf(expect(rdn, Tag.SET, 'RelativeDistinguishedName'))) {
      const [type, value] = childrenOf(expect(atv, Tag.SEQUENCE, 'AttributeTypeAndValue'));
      const arcs = oidArcs(expect(type, Tag.OID, 'attribute type'));
      const text = directoryString(value!);
      n.Names.push({ Type: arcs, Value: text });
      if (arcs.length !== 4 || arcs[0] !== 2 || arcs[1] !== 5 || arcs[2] !== 4) continue;
      if (arcs[3] === 3) n.CommonName = text;
      else if (arcs[3] === 5) n.SerialNumber = text;
      else byAttribute[arcs[3]!]?.push(text);
    }
  }
  return {
    Country: list(n.Country),
    Organization: list(n.Organization),
    OrganizationalUnit: list(n.OrganizationalUnit),
    Locality: list(n.Locality),
    Province: list(n.Province),
    StreetAddress: list(n.StreetAddress),
    PostalCode: list(n.PostalCode),
    SerialNumber: n.SerialNumber,
    CommonName: n.CommonName,
    Names: list(n.Names),
    ExtraNames: null,
  };
}

/** UTCTime or GeneralizedTime, written as Go's time.Time MarshalJSON (RFC 3339) writes it. */
function goTime(el: DerElement): string {
  const text = latin1.decode(el.content);
  const utc = el.tag === Tag.UTC_TIME;
  const m = (utc ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})?(Z|[+-]\d{4})$/ : /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(Z|[+-]\d{4})$/).exec(text);
  if (m === null || (el.tag !== Tag.UTC_TIME && el.tag !== Tag.GENERALIZED_TIME)) throw new Error(`x509: malformed validity time "${text}"`);
  let year = Number(m[1]);
  if (utc) year += year >= 50 ? 1900 : 2000;
  const zone = m[7] === 'Z' ? 'Z' : `${m[7]!.slice(0, 3)}:${m[7]!.slice(3)}`;
  return `${String(year).padStart(4, '0')}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6] ?? '00'}${zone}`;
}

/** net.IP's text form: dotted quad for IPv4 (also IPv4-mapped IPv6), RFC 5952 for IPv6. */
export function goIpString(ip: Uint8Array): string {
  if (ip.length === 4) return ip.join('.');
  if (ip.length !== 16) throw new Error(`x509: cannot parse IP address of length ${ip.length}`);
  if (ip.subarray(0, 10).every((b) => b === 0) && ip[10] === 0xff && ip[11] === 0xff) return ip.subarray(12).join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((ip[i]! << 8) | ip[i + 1]!).toString(16));
  // The WHATWG serialiser compresses the first longest run of zero groups, as RFC 5952 and Go do.
  return new URL(`http://[${groups.join(':')}]/`).hostname.slice(1, -1);
}

function algorithmOf(ai: DerElement): { oid: string; params: DerElement | undefined } {
  const [oid, params] = childrenOf(expect(ai, Tag.SEQUENCE, 'AlgorithmIdentifier'));
  return { oid: oidText(expect(oid, Tag.OID, 'algorithm OID')), params };
}

function isAbsentOrNull(el: DerElement | undefined): boolean {
  return el === undefined || (el.tag === Tag.NULL && el.content.length === 0);
}

/** Go's getSignatureAlgorithmFromAI, including its three accepted RSA-PSS shapes. */
function signatureAlgorithm(ai: DerElement): number {
  const { oid, params } = algorithmOf(ai);
  if (oid === '1.3.101.112' && params !== undefined) return 0;
  if (oid !== RSA_PSS) return SIGNATURE_ALGORITHMS[oid] ?? 0;
  if (params?.tag !== Tag.SEQUENCE) return 0;
  const fields = new Map(childrenOf(params).map((f) => [f.tag, childrenOf(f)[0]!]));
  const hash = fields.get(contextConstructed(0));
  const mgf = fields.get(contextConstructed(1));
  if (hash === undefined || mgf === undefined) return 0;
  const h = algorithmOf(hash);
  const m = algorithmOf(mgf);
  const mgfHash = m.params && m.params.tag === Tag.SEQUENCE ? algorithmOf(m.params) : undefined;
  const salt = fields.has(contextConstructed(2)) ? integerOf(fields.get(contextConstructed(2))!) : 20n;
  const trailer = fields.has(contextConstructed(3)) ? integerOf(fields.get(contextConstructed(3))!) : 1n;
  if (!isAbsentOrNull(h.params) || m.oid !== MGF1 || mgfHash?.oid !== h.oid || !isAbsentOrNull(mgfHash.params) || trailer !== 1n) return 0;
  const pss = PSS_BY_HASH[h.oid];
  return pss !== undefined && pss[1] === salt ? pss[0] : 0;
}

/** PublicKeyAlgorithm and the key as Go's *rsa/*ecdsa/*dsa.PublicKey or ed25519.PublicKey encode. */
function publicKey(spki: DerElement): { algorithm: number; key: Json } {
  const [ai, bits] = childrenOf(expect(spki, Tag.SEQUENCE, 'SubjectPublicKeyInfo'));
  const { oid, params } = algorithmOf(ai!);
  const algorithm = PUBLIC_KEY_ALGORITHMS[oid] ?? 0;
  const keyBytes = bitStringBytes(expect(bits, Tag.BIT_STRING, 'subject public key'));
  switch (algorithm) {
    case 1: {
      const [n, e] = childrenOf(readElement(keyBytes));
      return { algorithm, key: { N: bigNumber(integerOf(n!)), E: Number(integerOf(e!)) } };
    }
    case 2: {
      const [p, q, g] = childrenOf(expect(params, Tag.SEQUENCE, 'DSA parameters'));
      const y = integerOf(readElement(keyBytes));
      // dsa.PublicKey embeds dsa.Parameters, whose fields Go's encoder promotes.
      return { algorithm, key: { P: bigNumber(integerOf(p!)), Q: bigNumber(integerOf(q!)), G: bigNumber(integerOf(g!)), Y: bigNumber(y) } };
    }
    case 3: {
      const size = CURVES[oidText(expect(params, Tag.OID, 'named curve'))];
      if (size === undefined) throw new Error('x509: unsupported elliptic curve');
      if (keyBytes.length !== 1 + 2 * size || keyBytes[0] !== 4) throw new Error('x509: failed to unmarshal elliptic curve point');
      // The Curve interface holds a value with unexported fields only: Go writes {}.
      return { algorithm, key: { Curve: {}, X: bigNumber(unsignedOf(keyBytes.subarray(1, 1 + size))), Y: bigNumber(unsignedOf(keyBytes.subarray(1 + size))) } };
    }
    case 4:
      return { algorithm, key: base64(keyBytes) };
    default:
      return { algorithm, key: null };
  }
}

/** The fields crypto/x509's processExtensions fills, in their zero state. */
function extensionFields() {
  return {
    KeyUsage: 0,
    UnhandledCriticalExtensions: [] as number[][],
    ExtKeyUsage: [] as number[],
    UnknownExtKeyUsage: [] as number[][],
    BasicConstraintsValid: false,
    IsCA: false,
    MaxPathLen: 0,
    MaxPathLenZero: false,
    SubjectKeyId: null as string | null,
    AuthorityKeyId: null as string | null,
    OCSPServer: [] as string[],
    IssuingCertificateURL: [] as string[],
    DNSNames: [] as string[],
    EmailAddresses: [] as string[],
    IPAddresses: [] as string[],
    URIs: [] as GoUrl[],
    PermittedDNSDomainsCritical: false,
    PermittedDNSDomains: [] as string[],
    ExcludedDNSDomains: [] as string[],
    PermittedIPRanges: [] as object[],
    ExcludedIPRanges: [] as object[],
    PermittedEmailAddresses: [] as string[],
    ExcludedEmailAddresses: [] as string[],
    PermittedURIDomains: [] as string[],
    ExcludedURIDomains: [] as string[],
    CRLDistributionPoints: [] as string[],
    PolicyIdentifiers: null as number[][] | null,
    Policies: null as string[] | null,
  };
}
type ExtensionFields = ReturnType<typeof extensionFields>;

function ia5(el: DerElement, what: string): string {
  if (el.content.some((b) => b > 0x7f)) throw new Error(`x509: SAN ${what} is malformed`);
  return latin1.decode(el.content);
}

/** x509's domainToReverseLabels validity check, applied to URI SAN hosts. */
function validDomain(domain: string): boolean {
  if (domain === '') return true;
  const labels = domain.split('.');
  return labels.every((l) => l !== '' && [...l].every((c) => c.charCodeAt(0) >= 33 && c.charCodeAt(0) <= 126));
}

function subjectAltNames(value: Uint8Array, out: ExtensionFields): void {
  for (const name of childrenOf(expect(readElement(value), Tag.SEQUENCE, 'subject alternative name'))) {
    switch (name.tag) {
      case contextTag(1):
        out.EmailAddresses.push(ia5(name, 'rfc822Name'));
        break;
      case contextTag(2):
        out.DNSNames.push(ia5(name, 'dNSName'));
        break;
      case contextTag(6): {
        const text = ia5(name, 'uniformResourceIdentifier');
        let uri: GoUrl;
        try {
          uri = parseGoUrl(text);
        } catch (err) {
          throw new Error(`x509: cannot parse URI "${text}": ${(err as Error).message}`);
        }
        if (!validDomain(uri.Host)) throw new Error(`x509: cannot parse URI "${text}": invalid domain`);
        out.URIs.push(uri);
        break;
      }
      case contextTag(7):
        out.IPAddresses.push(goIpString(name.content));
        break;
    }
  }
}

/** Returns true when a subtree used a name form Go does not handle (the extension is then "unhandled"). */
function nameConstraints(value: Uint8Array, out: ExtensionFields): boolean {
  let unhandled = false;
  const subtrees = (el: DerElement, dns: string[], ips: object[], emails: string[], uris: string[]): void => {
    for (const subtree of childrenOf(el)) {
      const base = childrenOf(expect(subtree, Tag.SEQUENCE, 'GeneralSubtree'))[0]!;
      if (base.tag === contextTag(2)) dns.push(latin1.decode(base.content));
      else if (base.tag === contextTag(1)) emails.push(latin1.decode(base.content));
      else if (base.tag === contextTag(6)) uris.push(latin1.decode(base.content));
      else if (base.tag === contextTag(7)) {
        const half = base.content.length / 2;
        if (half !== 4 && half !== 16) throw new Error(`x509: IP constraint contained value of length ${base.content.length}`);
        ips.push({ IP: goIpString(base.content.subarray(0, half)), Mask: base64(base.content.subarray(half)) });
      } else unhandled = true;
    }
  };
  for (const part of childrenOf(expect(readElement(value), Tag.SEQUENCE, 'NameConstraints'))) {
    if (part.tag === contextConstructed(0)) subtrees(part, out.PermittedDNSDomains, out.PermittedIPRanges, out.PermittedEmailAddresses, out.PermittedURIDomains);
    else if (part.tag === contextConstructed(1)) subtrees(part, out.ExcludedDNSDomains, out.ExcludedIPRanges, out.ExcludedEmailAddresses, out.ExcludedURIDomains);
  }
  return unhandled;
}

function crlDistributionPoints(value: Uint8Array, out: ExtensionFields): void {
  for (const point of childrenOf(expect(readElement(value), Tag.SEQUENCE, 'CRL distribution points'))) {
    const name = childrenOf(point).find((f) => f.tag === contextConstructed(0));
    const fullName = name && childrenOf(name)[0];
    if (fullName?.tag !== contextConstructed(0)) continue;
    for (const general of childrenOf(fullName)) {
      if (general.tag !== contextTag(6)) break;
      out.CRLDistributionPoints.push(latin1.decode(general.content));
    }
  }
}

function authorityInfoAccess(value: Uint8Array, out: ExtensionFields): void {
  for (const access of childrenOf(expect(readElement(value), Tag.SEQUENCE, 'authority information access'))) {
    const [method, location] = childrenOf(access);
    if (location?.tag !== contextTag(6)) continue;
    const oid = oidText(method!);
    if (oid === AIA_OCSP) out.OCSPServer.push(latin1.decode(location.content));
    else if (oid === AIA_CA_ISSUERS) out.IssuingCertificateURL.push(latin1.decode(location.content));
  }
}

/** One extension into the certificate fields; returns whether Go would count it as handled. */
function applyExtension(arcs: number[], critical: boolean, value: Uint8Array, out: ExtensionFields): boolean {
  const id = arcs.join('.');
  if (id === AUTHORITY_INFO_ACCESS) {
    authorityInfoAccess(value, out);
    return true;
  }
  if (arcs.length !== 4 || !id.startsWith('2.5.29.')) return false;
  switch (arcs[3]) {
    case 15: {
      const bits = expect(readElement(value), Tag.BIT_STRING, 'key usage');
      for (let i = 0; i < 9; i++) if (bitAt(bits, i)) out.KeyUsage |= 1 << i;
      return true;
    }
    case 19: {
      const fields = childrenOf(expect(readElement(value), Tag.SEQUENCE, 'basic constraints'));
      const ca = fields.find((f) => f.tag === Tag.BOOLEAN);
      const pathLen = fields.find((f) => f.tag === Tag.INTEGER);
      out.IsCA = ca !== undefined && booleanOf(ca);
      out.MaxPathLen = pathLen === undefined ? -1 : Number(integerOf(pathLen));
      out.BasicConstraintsValid = true;
      out.MaxPathLenZero = out.MaxPathLen === 0;
      return true;
    }
    case 17:
      subjectAltNames(value, out);
      return out.DNSNames.length + out.EmailAddresses.length + out.IPAddresses.length + out.URIs.length > 0;
    case 30:
      out.PermittedDNSDomainsCritical = critical;
      return !nameConstraints(value, out);
    case 31:
      crlDistributionPoints(value, out);
      return true;
    case 35: {
      const keyId = childrenOf(expect(readElement(value), Tag.SEQUENCE, 'authority key identifier')).find((f) => f.tag === contextTag(0));
      if (keyId) out.AuthorityKeyId = base64(keyId.content);
      return true;
    }
    case 37:
      for (const usage of childrenOf(expect(readElement(value), Tag.SEQUENCE, 'extended key usage'))) {
        const known = EXT_KEY_USAGES[oidText(usage)];
        if (known === undefined) out.UnknownExtKeyUsage.push(oidArcs(usage));
        else out.ExtKeyUsage.push(known);
      }
      return true;
    case 14:
      out.SubjectKeyId = base64(expect(readElement(value), Tag.OCTET_STRING, 'subject key identifier').content);
      return true;
    case 32: {
      const policies = childrenOf(expect(readElement(value), Tag.SEQUENCE, 'certificate policies')).map((p) => childrenOf(p)[0]!);
      // x509.OID marshals as dotted text; PolicyIdentifiers is made non-nil even when empty.
      out.Policies = policies.map(oidText);
      out.PolicyIdentifiers = policies.map(oidArcs);
      return true;
    }
    default:
      return false;
  }
}

/** Builds the JSON text of OPA's input document for a peer certificate (DER). Throws on a malformed certificate. */
export function certificateInputJson(der: Uint8Array): string {
  let certificate: object;
  try {
    certificate = goCertificate(der);
  } catch (err) {
    throw new Error(`cannot build the OPA input from the peer certificate: ${(err as Error).message}`);
  }
  return JSON.stringify({ certificate });
}

/** x509.Certificate's exported fields, in Go's declaration order (which is also encoding/json's). */
function goCertificate(der: Uint8Array): object {
  const cert = expect(readElement(der), Tag.SEQUENCE, 'certificate');
  const [tbs, , signature] = childrenOf(cert);
  const fields = childrenOf(expect(tbs, Tag.SEQUENCE, 'TBSCertificate'));
  let i = 0;
  let version = 0;
  if (fields[0]?.tag === contextConstructed(0)) version = Number(integerOf(childrenOf(fields[i++]!)[0]!));
  const serial = expect(fields[i++], Tag.INTEGER, 'serial number');
  const signatureAi = fields[i++]!;
  const issuer = fields[i++]!;
  const [notBefore, notAfter] = childrenOf(expect(fields[i++], Tag.SEQUENCE, 'validity'));
  const subject = fields[i++]!;
  const spki = fields[i++]!;
  const extensions: object[] = [];
  const ext = extensionFields();
  const explicitExtensions = fields.slice(i).find((f) => f.tag === contextConstructed(3));
  const extensionList = explicitExtensions ? childrenOf(expect(childrenOf(explicitExtensions)[0], Tag.SEQUENCE, 'extensions')) : [];
  for (const e of extensionList) {
    const parts = childrenOf(expect(e, Tag.SEQUENCE, 'extension'));
    const arcs = oidArcs(expect(parts[0], Tag.OID, 'extension id'));
    const critical = parts[1]?.tag === Tag.BOOLEAN && booleanOf(parts[1]);
    const value = expect(parts[parts.length - 1], Tag.OCTET_STRING, 'extension value').content;
    extensions.push({ Id: arcs, Critical: critical, Value: base64(value) });
    if (!applyExtension(arcs, critical, value, ext) && critical) ext.UnhandledCriticalExtensions.push(arcs);
  }
  const { algorithm, key } = publicKey(spki);
  return {
    Raw: base64(cert.bytes),
    RawTBSCertificate: base64(tbs!.bytes),
    RawSubjectPublicKeyInfo: base64(spki.bytes),
    RawSubject: base64(subject.bytes),
    RawIssuer: base64(issuer.bytes),
    Signature: base64(bitStringBytes(expect(signature, Tag.BIT_STRING, 'signature'))),
    SignatureAlgorithm: signatureAlgorithm(signatureAi),
    PublicKeyAlgorithm: algorithm,
    PublicKey: key,
    Version: version + 1,
    SerialNumber: bigNumber(integerOf(serial)),
    Issuer: pkixName(issuer),
    Subject: pkixName(subject),
    NotBefore: goTime(notBefore!),
    NotAfter: goTime(notAfter!),
    KeyUsage: ext.KeyUsage,
    Extensions: list(extensions),
    ExtraExtensions: null,
    UnhandledCriticalExtensions: list(ext.UnhandledCriticalExtensions),
    ExtKeyUsage: list(ext.ExtKeyUsage),
    UnknownExtKeyUsage: list(ext.UnknownExtKeyUsage),
    BasicConstraintsValid: ext.BasicConstraintsValid,
    IsCA: ext.IsCA,
    MaxPathLen: ext.MaxPathLen,
    MaxPathLenZero: ext.MaxPathLenZero,
    SubjectKeyId: ext.SubjectKeyId,
    AuthorityKeyId: ext.AuthorityKeyId,
    OCSPServer: list(ext.OCSPServer),
    IssuingCertificateURL: list(ext.IssuingCertificateURL),
    DNSNames: list(ext.DNSNames),
    EmailAddresses: list(ext.EmailAddresses),
    IPAddresses: list(ext.IPAddresses),
    URIs: list(ext.URIs),
    PermittedDNSDomainsCritical: ext.PermittedDNSDomainsCritical,
    PermittedDNSDomains: list(ext.PermittedDNSDomains),
    ExcludedDNSDomains: list(ext.ExcludedDNSDomains),
    PermittedIPRanges: list(ext.PermittedIPRanges),
    ExcludedIPRanges: list(ext.ExcludedIPRanges),
    PermittedEmailAddresses: list(ext.PermittedEmailAddresses),
    ExcludedEmailAddresses: list(ext.ExcludedEmailAddresses),
    PermittedURIDomains: list(ext.PermittedURIDomains),
    ExcludedURIDomains: list(ext.ExcludedURIDomains),
    CRLDistributionPoints: list(ext.CRLDistributionPoints),
    PolicyIdentifiers: ext.PolicyIdentifiers,
    Policies: ext.Policies,
  };
}
