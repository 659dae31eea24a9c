// PROXY v2 header building (src/net/proxy-protocol.ts), read back by an independent parser
// (proxy-protocol-js) and a TLV walk from haproxy's proxy-protocol.txt.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { AddressFamilyType, Command, TransportProtocol, V2ProxyProtocol, type IPv4ProxyAddress, type IPv6ProxyAddress, type UnixProxyAddress } from 'proxy-protocol-js';
import { PP2_SUBTYPE_SSL_CLIENT_CERT, PP2_SUBTYPE_SSL_CN, PP2_SUBTYPE_SSL_VERSION, PP2_TYPE_SSL, proxyV2Header, sslTlv, tlv, type Tlv } from '../../src/net/proxy-protocol.ts';

const port = fc.integer({ min: 0, max: 0xffff });
const ipv4Bytes = fc.uint8Array({ minLength: 4, maxLength: 4 });
const ipv6Bytes = fc.uint8Array({ minLength: 16, maxLength: 16 });

const v4Text = (b: Uint8Array): string => [...b].join('.');
/** Eight groups, no compression, in upper or lower case. */
const v6Full = (b: Uint8Array, upper: boolean): string => {
  const groups = [];
  for (let i = 0; i < 16; i += 2) groups.push(((b[i]! << 8) | b[i + 1]!).toString(16));
  const text = groups.join(':');
  return upper ? text.toUpperCase() : text;
};
/** The WHATWG URL parser's canonical spelling (longest run of zero groups as "::"). */
const v6Canonical = (text: string): string => new URL(`http://[${text}]/`).hostname.slice(1, -1);
const isMapped = (b: Uint8Array): boolean => b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff;

function walkTlvs(area: Uint8Array): Tlv[] {
  const out: Tlv[] = [];
  const buf = Buffer.from(area);
  for (let i = 0; i < buf.length; ) {
    assert.ok(i + 3 <= buf.length, 'TLV header runs past the end');
    const length = buf.readUInt16BE(i + 1);
    assert.ok(i + 3 + length <= buf.length, 'TLV value runs past the end');
    out.push({ type: buf[i]!, value: buf.subarray(i + 3, i + 3 + length) });
    i += 3 + length;
  }
  return out;
}

const tlvs = fc.array(fc.record({ type: fc.integer({ min: 0, max: 255 }), value: fc.uint8Array({ maxLength: 300 }) }).map(({ type, value }) => tlv(type, Buffer.from(value))), { maxLength: 5 });

function check(header: Buffer, sent: readonly Tlv[]): V2ProxyProtocol {
  assert.equal(header.readUInt16BE(14), header.length - 16, 'length field covers addresses and TLVs');
  const parsed = V2ProxyProtocol.parse(new Uint8Array(header));
  assert.equal(parsed.command, Command.PROXY);
  const area = header.subarray(16 + parsed.proxyAddress.getLength());
  assert.deepEqual(walkTlvs(area).map((t) => [t.type, t.value.toString('hex')]), sent.map((t) => [t.type, t.value.toString('hex')]));
  return parsed;
}

describe('PROXY v2 headers (property-based)', () => {
  it('IPv4 pairs, ports and TLVs read back as sent', () => {
    fc.assert(
      fc.property(ipv4Bytes, ipv4Bytes, port, port, tlvs, fc.boolean(), (src, dst, sp, dp, extra, mapped) => {
        const spell = (b: Uint8Array): string => (mapped ? `::ffff:${v4Text(b)}` : v4Text(b));
        const header = proxyV2Header({ kind: 'tcp', source: { address: spell(src), port: sp }, destination: { address: spell(dst), port: dp } }, extra);
        const parsed = check(header, extra);
        assert.equal(parsed.addressFamilyType, AddressFamilyType.INET);
        assert.equal(parsed.transportProtocol, TransportProtocol.STREAM);
        const a = parsed.proxyAddress as IPv4ProxyAddress;
        assert.deepEqual(a.sourceAddress.address, [...src]);
        assert.deepEqual(a.destinationAddress.address, [...dst]);
        assert.equal(a.sourcePort, sp);
        assert.equal(a.destinationPort, dp);
      }),
      { numRuns: 500 },
    );
  });

  it('IPv6 pairs read back as the same 16 bytes, whichever way the addresses are spelled', () => {
    fc.assert(
      fc.property(ipv6Bytes, ipv6Bytes, port, port, fc.constantFrom('full', 'upper', 'canonical'), tlvs, (src, dst, sp, dp, spelling, extra) => {
        fc.pre(!(isMapped(src) && isMapped(dst)));
        const spell = (b: Uint8Array): string => (spelling === 'canonical' ? v6Canonical(v6Full(b, false)) : v6Full(b, spelling === 'upper'));
        const header = proxyV2Header({ kind: 'tcp', source: { address: spell(src), port: sp }, destination: { address: spell(dst), port: dp } }, extra);
        const parsed = check(header, extra);
        assert.equal(parsed.addressFamilyType, AddressFamilyType.INET6);
        const a = parsed.proxyAddress as IPv6ProxyAddress;
        assert.deepEqual(a.sourceAddress.address, [...src]);
        assert.deepEqual(a.destinationAddress.address, [...dst]);
        assert.equal(a.sourcePort, sp);
        assert.equal(a.destinationPort, dp);
      }),
      { numRuns: 500 },
    );
  });

  it('any two spellings of the same IPv6 addresses (fast-check\'s generator, and canonical) give the same header', () => {
    fc.assert(
      fc.property(fc.ipV6(), fc.ipV6(), port, port, (src, dst, sp, dp) => {
        const header = (s: string, d: string): string => proxyV2Header({ kind: 'tcp', source: { address: s, port: sp }, destination: { address: d, port: dp } }).toString('hex');
        assert.equal(header(src, dst), header(v6Canonical(src), v6Canonical(dst)));
      }),
      { numRuns: 500 },
    );
  });

  it('IPv4-mapped IPv6 addresses are sent as IPv4, however they are spelled (as Go\'s To4 does)', () => {
    fc.assert(
      fc.property(ipv4Bytes, ipv4Bytes, fc.constantFrom('dotted', 'hex', 'full'), (src, dst, spelling) => {
        const mapped = (b: Uint8Array): Uint8Array => new Uint8Array([...Array(10).fill(0), 0xff, 0xff, ...b]);
        const spell = (b: Uint8Array): string => (spelling === 'dotted' ? `::ffff:${v4Text(b)}` : spelling === 'hex' ? v6Canonical(v6Full(mapped(b), false)) : v6Full(mapped(b), true));
        const parsed = check(proxyV2Header({ kind: 'tcp', source: { address: spell(src), port: 1 }, destination: { address: spell(dst), port: 2 } }), []);
        assert.equal(parsed.addressFamilyType, AddressFamilyType.INET, `${spell(src)} ${spell(dst)}`);
        assert.deepEqual((parsed.proxyAddress as IPv4ProxyAddress).sourceAddress.address, [...src]);
      }),
    );
  });

  it('a v4/v6 mix is sent as IPv6 with the IPv4 side mapped', () => {
    fc.assert(
      fc.property(ipv4Bytes, ipv6Bytes, port, port, (v4, v6, sp, dp) => {
        fc.pre(!isMapped(v6));
        const parsed = check(proxyV2Header({ kind: 'tcp', source: { address: v4Text(v4), port: sp }, destination: { address: v6Full(v6, false), port: dp } }), []);
        const a = parsed.proxyAddress as IPv6ProxyAddress;
        assert.deepEqual(a.sourceAddress.address, [...Array(10).fill(0), 0xff, 0xff, ...v4]);
        assert.deepEqual(a.destinationAddress.address, [...v6]);
      }),
    );
  });

  it('UNIX socket paths up to 108 bytes read back; longer ones are refused', () => {
    const path = fc.string({ unit: fc.constantFrom(...'/abc.-_é0'.split('')), maxLength: 60 });
    fc.assert(
      fc.property(path, path, (src, dst) => {
        const build = (): Buffer => proxyV2Header({ kind: 'unix', source: src, destination: dst });
        if (Buffer.byteLength(src) > 108 || Buffer.byteLength(dst) > 108) {
          assert.throws(build, /socket path longer than 108 bytes/);
          return;
        }
        const parsed = check(build(), []);
        assert.equal(parsed.addressFamilyType, AddressFamilyType.UNIX);
        const a = parsed.proxyAddress as UnixProxyAddress;
        const text = (bytes: number[]): string => Buffer.from(bytes).toString().replace(/\0+$/, '');
        assert.equal(text(a.sourceAddress.address), src);
        assert.equal(text(a.destinationAddress.address), dst);
      }),
    );
  });

  it('the SSL TLV nests its sub-TLVs with consistent lengths', () => {
    const info = fc.record({ version: fc.constantFrom('TLS 1.2', 'TLS 1.3'), clientCert: fc.option(fc.uint8Array({ minLength: 1, maxLength: 2000 }), { nil: undefined }), commonName: fc.option(fc.string({ maxLength: 64 }), { nil: undefined }) });
    fc.assert(
      fc.property(info, (i) => {
        const ssl = sslTlv({ version: i.version, clientCert: i.clientCert && Buffer.from(i.clientCert), commonName: i.commonName });
        const header = proxyV2Header({ kind: 'tcp', source: { address: '127.0.0.1', port: 1 }, destination: { address: '127.0.0.1', port: 2 } }, [ssl]);
        check(header, [ssl]);
        assert.equal(ssl.type, PP2_TYPE_SSL);
        assert.equal(ssl.value[0]! & 0x01, 1, 'PP2_CLIENT_SSL');
        assert.equal(Boolean(ssl.value[0]! & 0x06), i.clientCert !== undefined, 'certificate flags');
        assert.equal(ssl.value.readUInt32BE(1), 0, 'verify result');
        const subs = new Map(walkTlvs(ssl.value.subarray(5)).map((t) => [t.type, t.value]));
        assert.equal(subs.get(PP2_SUBTYPE_SSL_VERSION)?.toString(), i.version);
        assert.equal(subs.get(PP2_SUBTYPE_SSL_CLIENT_CERT)?.toString('hex'), i.clientCert && Buffer.from(i.clientCert).toString('hex'));
        assert.equal(subs.get(PP2_SUBTYPE_SSL_CN)?.toString(), i.clientCert && i.commonName ? i.commonName : undefined);
      }),
      { numRuns: 300 },
    );
  });

  it('a TLV over 65535 bytes is refused rather than truncated', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0x10000, max: 0x20000 }), (n) => {
        assert.throws(() => proxyV2Header({ kind: 'tcp', source: { address: '127.0.0.1', port: 1 }, destination: { address: '127.0.0.1', port: 2 } }, [tlv(0xe0, Buffer.alloc(n))]), /too long/);
      }),
      { numRuns: 5 },
    );
  });
});
