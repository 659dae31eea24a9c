import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseSubjectAltNames } from '../../src/auth/peer.ts';
import { compileUriPattern } from '../../src/auth/uri-pattern.ts';

describe('URI wildcard patterns (spec §2.5)', () => {
  const table: Array<[string, string, boolean]> = [
    ['spiffe://foo/*/bar', 'spiffe://foo/x/bar', true],
    ['spiffe://foo/*/bar', 'spiffe://foo/x/bar/', true],
    ['spiffe://foo/*/bar', 'spiffe://foo//bar', false],
    ['spiffe://foo/*/bar', 'spiffe://foo/x/bar/y', false],
    ['spiffe://foo/*/bar', 'spiffe://foo/x/y/bar', false],
    ['spiffe://*/*/bar', 'spiffe://any/x/bar', true],
    ['a/**', 'a', true],
    ['a/**', 'a/', true],
    ['a/**', 'a/b/c', true],
    ['a/**', 'b/c', false],
    ['**', 'anything/at/all', true],
    ['spiffe://foo/bar/', 'spiffe://foo/bar', true],
    ['spiffe://foo/bar', 'spiffe://foo/bar/', true],
    ['spiffe://foo/bar', 'spiffe://foo/baz', false],
    ['spiffe://foo/ba?', 'spiffe://foo/bar', false],
    ['spiffe://foo/x.y', 'spiffe://foo/xzy', false],
  ];
  for (const [pattern, uri, want] of table) {
    it(`${pattern} ${want ? 'matches' : 'does not match'} ${uri}`, () => assert.equal(compileUriPattern(pattern).matches(uri), want));
  }
  it('gives Ghostunnel\'s errors for bad patterns', () => {
    assert.throws(() => compileUriPattern(''), /^Error: input pattern was empty string$/);
    assert.throws(() => compileUriPattern('a/**/b'), /wildcard '\*\*' can only appear at end of pattern/);
    assert.throws(() => compileUriPattern('a/b*'), /wildcard '\*' can only appear between two separators/);
    assert.throws(() => compileUriPattern('a/***'), /wildcard/);
  });
});

describe("Node's subjectaltname text", () => {
  it('splits plain entries', () => {
    assert.deepEqual(parseSubjectAltNames('DNS:a.example, IP Address:10.0.0.1, URI:spiffe://td/x'), [
      ['DNS', 'a.example'],
      ['IP Address', '10.0.0.1'],
      ['URI', 'spiffe://td/x'],
    ]);
  });
  it('decodes JSON-quoted values that hold a comma', () => {
    assert.deepEqual(parseSubjectAltNames('URI:"spiffe://td/a, b", DNS:c'), [
      ['URI', 'spiffe://td/a, b'],
      ['DNS', 'c'],
    ]);
  });
  it('handles no SAN', () => assert.deepEqual(parseSubjectAltNames(undefined), []));
});
