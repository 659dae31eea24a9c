// URI wildcard patterns (src/auth/uri-pattern.ts, spec §2.5) on generated patterns and URIs.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { compileUriPattern } from '../../src/auth/uri-pattern.ts';

const DOCUMENTED_ERRORS = ['input pattern was empty string', "wildcard '**' can only appear at end of pattern", "wildcard '*' can only appear between two separators"];

/** A path segment: no "/" and no "*" (those are the pattern syntax), may be empty. */
const segment = fc.string({ unit: fc.constantFrom(...'abcxyz019-._~:%@?#=&+é'.split('')), maxLength: 6 });
const nonEmpty = segment.filter((s) => s !== '');
/** spiffe://domain/seg/seg…, as a list of "/"-separated segments. */
const uri = fc.tuple(nonEmpty, fc.array(nonEmpty, { minLength: 1, maxLength: 6 })).map(([domain, path]) => ['spiffe:', '', domain, ...path]);

describe('URI wildcard patterns (property-based)', () => {
  it('compiling any string gives a matcher or one of the documented errors', () => {
    const text = fc.oneof(fc.string(), fc.array(fc.constantFrom('a', '*', '**', '/', '***', 'b*', ''), { maxLength: 8 }).map((p) => p.join('')));
    fc.assert(
      fc.property(text, fc.string(), (pattern, input) => {
        let matcher;
        try {
          matcher = compileUriPattern(pattern);
        } catch (err) {
          assert.ok(err instanceof Error && DOCUMENTED_ERRORS.includes(err.message), `${JSON.stringify(pattern)}: ${String(err)}`);
          return;
        }
        assert.equal(typeof matcher.matches(input), 'boolean');
      }),
      { numRuns: 3000 },
    );
  });

  it('a pattern spelled exactly like a URI matches it, with or without a trailing slash on either', () => {
    fc.assert(
      fc.property(uri, fc.boolean(), fc.boolean(), (segs, slashPattern, slashUri) => {
        const text = segs.join('/');
        assert.ok(compileUriPattern(text + (slashPattern ? '/' : '')).matches(text + (slashUri ? '/' : '')), text);
      }),
    );
  });

  it('"*" in place of any non-empty segments still matches; one more or one fewer segment does not', () => {
    fc.assert(
      fc.property(uri, fc.array(fc.nat(), { minLength: 1, maxLength: 3 }), nonEmpty, (segs, picks, extra) => {
        const starred = [...segs];
        for (const p of picks) {
          const i = p % segs.length;
          if (segs[i] !== '') starred[i] = '*';
        }
        const pattern = compileUriPattern(starred.join('/'));
        assert.ok(pattern.matches(segs.join('/')), `${starred.join('/')} vs ${segs.join('/')}`);
        assert.ok(!pattern.matches([...segs, extra].join('/')), 'one segment more');
        assert.ok(!pattern.matches(segs.slice(0, -1).join('/')), 'one segment fewer');
      }),
    );
  });

  it('"*" never matches an empty segment', () => {
    fc.assert(
      fc.property(uri, fc.nat(), (segs, p) => {
        const i = 2 + (p % (segs.length - 2));
        const pattern = [...segs];
        pattern[i] = '*';
        const emptied = [...segs];
        emptied[i] = '';
        assert.ok(!compileUriPattern(pattern.join('/')).matches(emptied.join('/')));
      }),
    );
  });

  it('a prefix of the segments followed by "/**" matches the URI and anything longer', () => {
    fc.assert(
      fc.property(uri, fc.nat(), fc.array(segment, { maxLength: 3 }), (segs, p, more) => {
        const cut = 3 + (p % (segs.length - 2));
        const pattern = compileUriPattern([...segs.slice(0, cut), '**'].join('/'));
        assert.ok(pattern.matches(segs.join('/')));
        assert.ok(pattern.matches([...segs, ...more].join('/')));
      }),
    );
  });

  it('changing one literal segment of the pattern makes it stop matching', () => {
    fc.assert(
      fc.property(uri, fc.nat(), nonEmpty, (segs, p, other) => {
        const i = 2 + (p % (segs.length - 2));
        fc.pre(segs[i] !== other);
        const changed = [...segs];
        changed[i] = other;
        assert.ok(!compileUriPattern(changed.join('/')).matches(segs.join('/')));
      }),
    );
  });
});
