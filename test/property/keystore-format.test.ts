// Keystore format detection (src/credentials/keystore-format.ts) on arbitrary bytes and on
// generated DER shapes: it names a format or says it cannot guess, and never reads out of bounds.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { detectFormatByContent, detectKeystoreFormat, type KeystoreFormat } from '../../src/credentials/keystore-format.ts';

const FORMATS: readonly KeystoreFormat[] = ['pem', 'pkcs12', 'jceks', 'der', 'pkcs7'];
const BY_EXTENSION: Record<string, KeystoreFormat> = { pem: 'pem', crt: 'pem', p7b: 'pkcs7', p7c: 'pkcs7', p12: 'pkcs12', pfx: 'pkcs12', jceks: 'jceks', jks: 'jceks', der: 'der' };
const SIGNED_DATA_OID = Buffer.from('2a864886f70d010702', 'hex');

/** A DER length, in the short form or a (possibly non-minimal) long form of 1 to 4 bytes. */
function derLength(n: number, longBytes: number): Buffer {
  if (longBytes === 0 && n < 0x80) return Buffer.from([n]);
  const size = Math.max(longBytes, Math.ceil(Math.log2(n + 1) / 8), 1);
  const out = Buffer.alloc(1 + size);
  out[0] = 0x80 | size;
  out.writeUIntBE(n, 1, size);
  return out;
}
const element = (tag: number, content: Buffer, longBytes: number): Buffer => Buffer.concat([Buffer.from([tag]), derLength(content.length, longBytes), content]);

const bytes = fc.uint8Array({ maxLength: 600 }).map((b) => Buffer.from(b));
const longForm = fc.integer({ min: 0, max: 4 });
const unknownPath = fc.stringMatching(/^[a-z0-9/_-]{1,12}(\.(key|bin|txt|p8|x))?$/);

/** The first element inside the outer SEQUENCE, and the format it makes of the file. */
const firstElement = fc.oneof(
  fc.tuple(bytes, longForm).map(([rest, l]) => ({ inner: element(0x02, Buffer.from([3]), l), rest, want: 'pkcs12' as const })),
  fc.tuple(bytes, longForm).map(([rest, l]) => ({ inner: element(0x06, SIGNED_DATA_OID, l), rest, want: 'pkcs7' as const })),
  fc.tuple(bytes, bytes, longForm).map(([content, rest, l]) => ({ inner: element(0x30, content, l), rest, want: 'der' as const })),
);

function detectOrCannot(path: string, data: Buffer): KeystoreFormat | 'cannot guess' {
  try {
    return detectKeystoreFormat(path, data);
  } catch (err) {
    assert.ok(err instanceof Error && err.message === 'unable to guess file format', `${path}: ${String(err)}`);
    return 'cannot guess';
  }
}

describe('keystore format detection (property-based)', () => {
  it('arbitrary bytes give a format or "unable to guess file format", nothing else', () => {
    fc.assert(
      fc.property(unknownPath, fc.oneof(bytes, bytes.map((b) => Buffer.concat([Buffer.from([0x30]), b]))), (path, data) => {
        const got = detectOrCannot(path, data);
        assert.ok(got === 'cannot guess' || FORMATS.includes(got));
      }),
      { numRuns: 3000 },
    );
  });

  it('a known extension decides, in any case, whatever the content', () => {
    fc.assert(
      fc.property(fc.constantFrom(...Object.keys(BY_EXTENSION)), fc.boolean(), bytes, (ext, upper, data) => {
        assert.equal(detectKeystoreFormat(`/x/store.${upper ? ext.toUpperCase() : ext}`, data), BY_EXTENSION[ext]);
      }),
    );
  });

  it('JCEKS and JKS magic, and PEM armour, are recognised whatever follows', () => {
    fc.assert(
      fc.property(fc.constantFrom('cececece', 'feedfeed', Buffer.from('-----').toString('hex'), Buffer.from('CONN').toString('hex')), bytes, (head, rest) => {
        const want = head.startsWith('cece') || head.startsWith('feed') ? 'jceks' : 'pem';
        assert.equal(detectFormatByContent(Buffer.concat([Buffer.from(head, 'hex'), rest])), want);
      }),
    );
  });

  it('DER is told apart by its first inner element (PFX version 3, signedData OID, a certificate), however lengths are encoded', () => {
    fc.assert(
      fc.property(firstElement, longForm, fc.boolean(), ({ inner, rest, want }, outerLong, truncateOuter) => {
        const content = Buffer.concat([inner, rest]);
        const whole = element(0x30, content, outerLong);
        assert.equal(detectFormatByContent(whole), want);
        // The outer length is not checked against the file size: a truncated file still names its format.
        if (truncateOuter) assert.equal(detectFormatByContent(whole.subarray(0, whole.length - rest.length)), want);
      }),
      { numRuns: 1000 },
    );
  });

  it('a file cut anywhere inside its first two DER headers is "unable to guess", not a crash', () => {
    fc.assert(
      fc.property(firstElement, longForm, fc.nat(), ({ inner, rest }, outerLong, cut) => {
        const whole = element(0x30, Buffer.concat([inner, rest]), outerLong);
        const headerBytes = whole.length - inner.length - rest.length + (inner[1]! & 0x80 ? 2 + (inner[1]! & 0x7f) : 2);
        const short = whole.subarray(0, cut % headerBytes);
        assert.equal(detectOrCannot('/x/store', short), 'cannot guess');
      }),
      { numRuns: 1000 },
    );
  });
});
