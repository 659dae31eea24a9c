import type forge from 'node-forge';
import { loadForge } from './forge.ts';
import { splitDerCertificates } from './der-certificates.ts';
import { detectFormatByContent } from './keystore-format.ts';
import { parsePem } from './pem.ts';

/** forge takes an options object here (since 0.10); its type declarations still say `strict?: boolean`. */
type FromDer = (bytes: forge.util.ByteStringBuffer, options: { parseAllBytes?: boolean; decodeBitStrings?: boolean }) => forge.asn1.Asn1;

// BIT STRINGs are left undecoded so that re-encoding gives back the exact bytes (signatures).
function toAsn1(der: Buffer): forge.asn1.Asn1 {
  const f = loadForge();
  return (f.asn1.fromDer as unknown as FromDer)(f.util.createBuffer(der.toString('binary')), { decodeBitStrings: false });
}

function toDer(asn1: forge.asn1.Asn1): Buffer {
  return Buffer.from(loadForge().asn1.toDer(asn1).getBytes(), 'binary');
}

function children(asn1: forge.asn1.Asn1 | undefined): forge.asn1.Asn1[] {
  return asn1 !== undefined && Array.isArray(asn1.value) ? asn1.value : [];
}

/**
 * The certificates of a PKCS#7 SignedData (a .p7b "certificate bundle"). Read from the ASN.1 here
 * rather than with forge.pkcs7, which parses each certificate and knows only RSA keys.
 */
export function pkcs7Certificates(der: Buffer): Buffer[] {
  const f = loadForge();
  const [type, explicit] = children(toAsn1(der));
  if (type?.type !== f.asn1.Type.OID || f.asn1.derToOid(type.value as string) !== f.pki.oids.signedData /* 1.2.840.113549.1.7.2 */) {
    throw new Error('not a PKCS#7 SignedData structure');
  }
  const signedData = children(explicit)[0];
  const certificates = children(signedData).find((e) => e.tagClass === f.asn1.Class.CONTEXT_SPECIFIC && e.type === 0);
  return children(certificates).map(toDer);
}

/** The certificates of PEM text: CERTIFICATE blocks, and the contents of PKCS7 blocks, in file order. */
export function pemCertificates(text: string): Buffer[] {
  const out: Buffer[] = [];
  for (const block of parsePem(text)) {
    if (block.type === 'CERTIFICATE') out.push(block.der);
    else if (block.type === 'PKCS7') out.push(...pkcs7Certificates(block.der));
  }
  return out;
}

/**
 * A certificate chain without a key, as DER in file order: PEM (CERTIFICATE or PKCS7 blocks), DER
 * certificates, or DER PKCS#7. This is the chain that goes with a PKCS#11 key; the content decides
 * (a ".crt" is as often DER as PEM).
 */
export function readCertificateChain(data: Buffer): Buffer[] {
  if (data.includes('-----BEGIN ')) return pemCertificates(data.toString('latin1'));
  const format = detectFormatByContent(data);
  if (format === 'pkcs7') return pkcs7Certificates(data);
  if (format === 'der') return splitDerCertificates(data, 'DER certificates').map((c) => c.raw);
  if (format === 'pkcs12' || format === 'jceks') {
    throw new Error(`a ${format === 'pkcs12' ? 'PKCS#12' : 'JCEKS'} keystore holds a private key; with --pkcs11-module give the certificate chain alone (PEM, DER or PKCS#7)`);
  }
  return [];
}
