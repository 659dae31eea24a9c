import { extname } from 'node:path';

/** pkcs7: a certificates-only PKCS#7 bundle, PEM or DER. der: one or more DER certificates. */
export type KeystoreFormat = 'pem' | 'pkcs12' | 'jceks' | 'der' | 'pkcs7';

const BY_EXTENSION: Record<string, KeystoreFormat> = {
  '.pem': 'pem',
  '.crt': 'pem',
  '.p7b': 'pkcs7',
  '.p7c': 'pkcs7',
  '.p12': 'pkcs12',
  '.pfx': 'pkcs12',
  '.jceks': 'jceks',
  '.jks': 'jceks',
  '.der': 'der',
};

const JCEKS_MAGIC = 0xcececece;
const JKS_MAGIC = 0xfeedfeed;
const SEQUENCE = 0x30;
const INTEGER = 0x02;
const OID = 0x06;
/** 1.2.840.113549.1.7.2, PKCS#7 signedData, as DER content octets. */
const SIGNED_DATA_OID = Buffer.from('2a864886f70d010702', 'hex');

/** Tag, header length and content length of the DER element at `offset`, or undefined. */
function derHeader(data: Buffer, offset: number): { tag: number; headerLength: number; length: number } | undefined {
  if (offset + 2 > data.length) return undefined;
  const tag = data[offset]!;
  const first = data[offset + 1]!;
  if (first < 0x80) return { tag, headerLength: 2, length: first };
  const n = first & 0x7f;
  if (n === 0 || n > 4 || offset + 2 + n > data.length) return undefined;
  return { tag, headerLength: 2 + n, length: data.readUIntBE(offset + 2, n) };
}

/** What a DER file holds, from its first element: PFX starts with version 3, PKCS#7 with its OID, a certificate with tbsCertificate. */
function derFormat(data: Buffer): KeystoreFormat | undefined {
  const outer = derHeader(data, 0);
  if (outer?.tag !== SEQUENCE) return undefined;
  const inner = derHeader(data, outer.headerLength);
  if (inner === undefined) return undefined;
  const content = data.subarray(outer.headerLength + inner.headerLength, outer.headerLength + inner.headerLength + inner.length);
  if (inner.tag === INTEGER && content.length === 1 && content[0] === 3) return 'pkcs12';
  if (inner.tag === OID && content.equals(SIGNED_DATA_OID)) return 'pkcs7';
  if (inner.tag === SEQUENCE) return 'der';
  return undefined;
}

/** The keystore format (spec §2.3): by extension, then by content. */
export function detectKeystoreFormat(path: string, data: Buffer): KeystoreFormat {
  return BY_EXTENSION[extname(path).toLowerCase()] ?? detectFormatByContent(data);
}

export function isPemText(data: Buffer): boolean {
  return data.subarray(0, 5).toString('latin1') === '-----';
}

/** The format from the first bytes: keystore magic, PEM armour, or the shape of the DER. */
export function detectFormatByContent(data: Buffer): KeystoreFormat {
  if (data.length >= 4) {
    const magic = data.readUInt32BE(0);
    if (magic === JCEKS_MAGIC || magic === JKS_MAGIC) return 'jceks';
  }
  if (isPemText(data) || data.subarray(0, 4).toString('latin1') === 'CONN') return 'pem';
  const der = derFormat(data);
  if (der) return der;
  throw new Error('unable to guess file format');
}
