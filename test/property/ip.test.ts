// src/net/ip.ts recognises IP literals exactly as node:net does (the daemon no longer loads node:net
// at start just for isIP): the same answer for addresses, near-addresses and arbitrary text.
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isIP, isIPv4, isIPv6 } from '../../src/net/ip.ts';

const sameAsNode = (s: string): void => {
  assert.equal(isIP(s), net.isIP(s), s);
  assert.equal(isIPv4(s), net.isIPv4(s), s);
  assert.equal(isIPv6(s), net.isIPv6(s), s);
};

/** Text made of the characters addresses are made of, so that near-misses are common. */
const addressy = fc.string({ unit: fc.constantFrom(...'0123456789abcdefABCDEFxg.:%[]-/ '), maxLength: 48 });

describe('isIP', () => {
  it('answers as node:net for IPv4 and IPv6 addresses, with zones, and for text around them', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.ipV4(), fc.ipV4Extended(), fc.ipV6(), fc.tuple(fc.ipV6(), fc.stringMatching(/^%[0-9a-zA-Z.:-]{0,8}$/)).map(([a, z]) => a + z), addressy, fc.string()),
        (s) => sameAsNode(s),
      ),
      { numRuns: 20_000 },
    );
  });

  it('on the edges: empty, leading zeros, too many groups, embedded IPv4, brackets', () => {
    for (const s of ['', '0.0.0.0', '255.255.255.255', '256.0.0.1', '01.2.3.4', '1.2.3', '1.2.3.4.5', '::', '::1', '[::1]', '1::2::3', '::ffff:1.2.3.4', '1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8:9', 'fe80::1%eth0', 'fe80::1%', 'localhost', ' 1.2.3.4']) sameAsNode(s);
  });
});
