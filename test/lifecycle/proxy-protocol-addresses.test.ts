// Address encodings of the PROXY v2 header builder, read back with proxy-protocol-js.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AddressFamilyType, IPv4ProxyAddress, IPv6ProxyAddress, V2ProxyProtocol } from 'proxy-protocol-js';
import { proxyV2Header } from '../../src/net/proxy-protocol.ts';

const tcp = (src: string, dst: string) => V2ProxyProtocol.parse(new Uint8Array(proxyV2Header({ kind: 'tcp', source: { address: src, port: 1 }, destination: { address: dst, port: 2 } })));

describe('PROXY v2 address encodings', () => {
  it('IPv4-mapped IPv6 addresses (a dual-stack listener) are sent as TCPv4, as Go does', () => {
    const p = tcp('::ffff:192.0.2.7', '::FFFF:198.51.100.1');
    assert.equal(p.addressFamilyType, AddressFamilyType.INET);
    const a = p.proxyAddress as IPv4ProxyAddress;
    assert.deepEqual(a.sourceAddress.address, [192, 0, 2, 7]);
    assert.deepEqual(a.destinationAddress.address, [198, 51, 100, 1]);
  });

  it('IPv6 forms: compressed, full, zone, embedded IPv4, and a v4/v6 mix', () => {
    const bytes = (p: V2ProxyProtocol, side: 'sourceAddress' | 'destinationAddress'): string => Buffer.from((p.proxyAddress as IPv6ProxyAddress)[side].address).toString('hex');
    let p = tcp('2001:db8::1', 'fe80::a:b%eth0');
    assert.equal(p.addressFamilyType, AddressFamilyType.INET6);
    assert.equal(bytes(p, 'sourceAddress'), '20010db8000000000000000000000001');
    assert.equal(bytes(p, 'destinationAddress'), 'fe80' + '0'.repeat(20) + '000a000b');
    p = tcp('2001:0db8:0001:0002:0003:0004:0005:0006', '::');
    assert.equal(bytes(p, 'sourceAddress'), '20010db8000100020003000400050006');
    assert.equal(bytes(p, 'destinationAddress'), '0'.repeat(32));
    p = tcp('64:ff9b::192.0.2.33', '127.0.0.1');
    assert.equal(bytes(p, 'sourceAddress'), '0064ff9b0000000000000000c0000221');
    assert.equal(bytes(p, 'destinationAddress'), '00000000000000000000ffff7f000001');
  });
});
