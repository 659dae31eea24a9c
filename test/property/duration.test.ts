// Go duration parsing (src/cli/duration.ts) against properties rather than examples: it reads back
// what formatDuration prints, agrees with a model of Go's grammar, and fails only with an Error.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { formatDuration, parseDuration } from '../../src/cli/duration.ts';

const UNIT_NS = { ns: 1, us: 1e3, 'µs': 1e3, ms: 1e6, s: 1e9, m: 6e10, h: 3.6e12 } as const;
type Unit = keyof typeof UNIT_NS;

/** Whole nanoseconds up to ~11 days: beyond, milliseconds in a double no longer hold every nanosecond. */
const nanoseconds = fc.integer({ min: -1e15, max: 1e15 });

/** One "<number><unit>" term of Go's grammar, and the nanoseconds it stands for. */
const term = fc
  .record({ whole: fc.integer({ min: 0, max: 9999 }), frac: fc.option(fc.integer({ min: 0, max: 999 }), { nil: undefined }), unit: fc.constantFrom(...(Object.keys(UNIT_NS) as Unit[])) })
  .map(({ whole, frac, unit }) => {
    const digits = frac === undefined ? '' : `.${String(frac).padStart(3, '0')}`;
    return { text: `${whole}${digits}${unit}`, ns: Number(`${whole}${digits}`) * UNIT_NS[unit] };
  });

const close = (a: number, b: number): boolean => Math.abs(a - b) <= 1e-6 + Math.abs(b) * 1e-12;

describe('Go durations (property-based)', () => {
  it('parses back what formatDuration prints, to the nanosecond', () => {
    fc.assert(
      fc.property(nanoseconds, (ns) => {
        const ms = ns / 1e6;
        const text = formatDuration(ms);
        assert.ok(close(parseDuration(text), ms), `${ms} ms printed as ${text}, read back as ${parseDuration(text)}`);
      }),
      { numRuns: 2000 },
    );
  });

  it('formatting is canonical: printing what was read back prints the same text', () => {
    fc.assert(
      fc.property(nanoseconds, (ns) => {
        const text = formatDuration(ns / 1e6);
        assert.equal(formatDuration(parseDuration(text)), text);
      }),
      { numRuns: 1000 },
    );
  });

  it('a sequence of terms, with an optional sign, is the signed sum of its terms', () => {
    fc.assert(
      fc.property(fc.array(term, { minLength: 1, maxLength: 5 }), fc.constantFrom('', '+', '-'), (terms, sign) => {
        const text = sign + terms.map((t) => t.text).join('');
        const ms = ((sign === '-' ? -1 : 1) * terms.reduce((sum, t) => sum + t.ns, 0)) / 1e6;
        assert.ok(close(parseDuration(text), ms), `${text}: want ${ms}, got ${parseDuration(text)}`);
      }),
      { numRuns: 1000 },
    );
  });

  it('any other string either parses to a finite number or throws an Error naming the input', () => {
    const anyText = fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.stringMatching(/^[-+]?[0-9.]{0,6}(ns|us|µs|μs|ms|s|m|h|d|x)?[0-9.]{0,3}$/));
    fc.assert(
      fc.property(anyText, (text) => {
        let ms: number;
        try {
          ms = parseDuration(text);
        } catch (err) {
          assert.ok(err instanceof Error && err.constructor === Error, `threw ${String(err)}`);
          assert.ok(err.message.includes(JSON.stringify(text).slice(1, -1)) || err.message.includes(text), err.message);
          assert.match(err.message, /^(invalid duration|missing unit in duration) "/);
          return;
        }
        assert.ok(Number.isFinite(ms), `${JSON.stringify(text)} parsed to ${ms}`);
      }),
      { numRuns: 3000 },
    );
  });
});
