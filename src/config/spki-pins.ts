import type { SpkiHash, SpkiPin } from './types.ts';

const DIGEST_BYTES: Record<SpkiHash, number> = { sha256: 32, sha384: 48, sha512: 64 };
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const DECODE = new Map([...ALPHABET].map((c, i) => [c, i]));

function corrupt(offset: number): Error {
  return new Error(`illegal base64 data at input byte ${offset}`);
}

/**
 * Standard padded base64, strict as Go's base64.StdEncoding (Buffer.from is lenient and would
 * accept a mistyped pin), with Go's error offsets so the messages read the same.
 */
export function decodeStdBase64(text: string): Buffer {
  const out: number[] = [];
  let si = 0;
  const newline = (c: string | undefined): boolean => c === '\n' || c === '\r';
  while (si < text.length) {
    const quantum: number[] = [];
    let j = 0;
    let padded = false;
    for (; j < 4; j++) {
      if (si === text.length) {
        if (j === 0) return Buffer.from(out);
        throw corrupt(si - j);
      }
      const c = text[si++]!;
      const v = DECODE.get(c);
      if (v !== undefined) {
        quantum.push(v);
        continue;
      }
      if (newline(c)) {
        j--;
        continue;
      }
      if (c !== '=') throw corrupt(si - 1);
      if (j < 2) throw corrupt(si - 1);
      if (j === 2) {
        while (si < text.length && newline(text[si])) si++;
        if (si === text.length) throw corrupt(text.length);
        if (text[si] !== '=') throw corrupt(si - 1);
        si++;
      }
      while (si < text.length && newline(text[si])) si++;
      if (si < text.length) throw corrupt(si);
      padded = true;
      break;
    }
    const bits = quantum.reduce((acc, v) => (acc << 6) | v, 0) << (6 * (4 - quantum.length));
    const bytes = [(bits >> 16) & 0xff, (bits >> 8) & 0xff, bits & 0xff];
    out.push(...bytes.slice(0, quantum.length - 1));
    if (padded) break;
  }
  return Buffer.from(out);
}

/** Parses one pin, "<algo>:<base64 digest>"; the error text is Ghostunnel's (spec §1.7). */
export function parseSpkiPin(text: string): SpkiPin {
  const colon = text.indexOf(':');
  const algo = colon < 0 ? '' : text.slice(0, colon);
  const encoded = colon < 0 ? '' : text.slice(colon + 1);
  if (algo === '' || encoded === '') throw new Error(`invalid pin "${text}": expected format <algo>:<base64-digest>`);
  const hash = algo.toLowerCase();
  if (!(hash in DIGEST_BYTES)) throw new Error(`invalid pin "${text}": unsupported hash algorithm "${algo}" (supported: sha256, sha384, sha512)`);
  let digest: Buffer;
  try {
    digest = decodeStdBase64(encoded);
  } catch (err) {
    throw new Error(`invalid pin "${text}": base64 decode failed: ${(err as Error).message}`);
  }
  const want = DIGEST_BYTES[hash as SpkiHash];
  if (digest.length !== want) throw new Error(`invalid pin "${text}": expected ${want} bytes for ${hash}, got ${digest.length}`);
  return { hash: hash as SpkiHash, digest, text };
}

/** Parses every value of a pin flag; the first bad one throws, prefixed with the flag name. */
export function parseSpkiPins(flag: string, texts: readonly string[]): SpkiPin[] {
  return texts.map((text) => {
    try {
      return parseSpkiPin(text);
    } catch (err) {
      throw new Error(`${flag}: ${(err as Error).message}`);
    }
  });
}
