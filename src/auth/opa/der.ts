/**
 * A minimal DER reader for the certificate input document: it keeps the exact byte ranges of each
 * element (Go exposes RawTBSCertificate, RawSubject and friends as those bytes), which generic
 * ASN.1 libraries decode away. Only low tag numbers (< 31) occur in X.509, so only those are read.
 */
export interface DerElement {
  /** The identifier octet: class, constructed bit and tag number. */
  readonly tag: number;
  /** The whole element, header included. */
  readonly bytes: Uint8Array;
  readonly content: Uint8Array;
}

export const Tag = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  NUMERIC_STRING: 0x12,
  PRINTABLE_STRING: 0x13,
  T61_STRING: 0x14,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  BMP_STRING: 0x1e,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

/** [n] IMPLICIT primitive, as in GeneralName's dNSName [2]. */
export function contextTag(n: number): number {
  return 0x80 | n;
}

/** [n] constructed (EXPLICIT, or IMPLICIT over a SEQUENCE). */
export function contextConstructed(n: number): number {
  return 0xa0 | n;
}

export class DerError extends Error {
  override name = 'DerError';
}

/** Reads the element starting at `offset`. */
export function readElement(buf: Uint8Array, offset = 0): DerElement {
  if (offset + 2 > buf.length) throw new DerError('truncated element header');
  const tag = buf[offset]!;
  if ((tag & 0x1f) === 0x1f) throw new DerError('high tag numbers are not used in X.509');
  let length = buf[offset + 1]!;
  let header = 2;
  if (length & 0x80) {
    const octets = length & 0x7f;
    if (octets === 0 || octets > 4) throw new DerError('unsupported length encoding');
    if (offset + 2 + octets > buf.length) throw new DerError('truncated length');
    length = 0;
    for (let i = 0; i < octets; i++) length = length * 256 + buf[offset + 2 + i]!;
    header += octets;
  }
  const end = offset + header + length;
  if (end > buf.length) throw new DerError('element runs past its container');
  return { tag, bytes: buf.subarray(offset, end), content: buf.subarray(offset + header, end) };
}

/** The elements inside a constructed element (or any byte run of consecutive elements). */
export function childrenOf(parent: DerElement | Uint8Array): DerElement[] {
  const buf = parent instanceof Uint8Array ? parent : parent.content;
  const out: DerElement[] = [];
  for (let offset = 0; offset < buf.length; ) {
    const el = readElement(buf, offset);
    out.push(el);
    offset += el.bytes.length;
  }
  return out;
}

/** Reads one element of the expected tag, or throws naming what was expected. */
export function expect(el: DerElement | undefined, tag: number, what: string): DerElement {
  if (el === undefined || el.tag !== tag) throw new DerError(`malformed ${what}`);
  return el;
}

/** A two's-complement INTEGER as an exact bigint. */
export function integerOf(el: DerElement): bigint {
  const c = el.content;
  if (c.length === 0) return 0n;
  let v = 0n;
  for (const b of c) v = (v << 8n) | BigInt(b);
  return c[0]! & 0x80 ? v - (1n << BigInt(c.length * 8)) : v;
}

/** An unsigned big-endian byte string as a bigint (elliptic-curve coordinates). */
export function unsignedOf(bytes: Uint8Array): bigint {
  let v = 0n;
  for (const b of bytes) v = (v << 8n) | BigInt(b);
  return v;
}

/** OBJECT IDENTIFIER arcs, as Go's asn1.ObjectIdentifier holds them. */
export function oidArcs(el: DerElement): number[] {
  const c = el.content;
  const arcs: number[] = [];
  let v = 0;
  for (let i = 0; i < c.length; i++) {
    v = v * 128 + (c[i]! & 0x7f);
    if (c[i]! & 0x80) continue;
    if (arcs.length === 0) arcs.push(v < 80 ? Math.floor(v / 40) : 2, v < 80 ? v % 40 : v - 80);
    else arcs.push(v);
    v = 0;
  }
  return arcs;
}

export function oidText(el: DerElement): string {
  return oidArcs(el).join('.');
}

/** BIT STRING content, right-aligned as Go's BitString.RightAlign gives it. */
export function bitStringBytes(el: DerElement): Uint8Array {
  const unused = el.content[0] ?? 0;
  const data = el.content.subarray(1);
  if (unused === 0) return data;
  const out = new Uint8Array(data.length);
  let carry = 0;
  for (let i = 0; i < data.length; i++) {
    out[i] = (carry << (8 - unused)) | (data[i]! >> unused);
    carry = data[i]! & ((1 << unused) - 1);
  }
  return out;
}

/** BIT STRING bit i (bit 0 is the most significant bit of the first octet), as Go's BitString.At. */
export function bitAt(el: DerElement, i: number): number {
  const data = el.content.subarray(1);
  const byte = Math.floor(i / 8);
  if (byte >= data.length) return 0;
  return (data[byte]! >> (7 - (i % 8))) & 1;
}

export function booleanOf(el: DerElement): boolean {
  return el.content[0] !== 0;
}
