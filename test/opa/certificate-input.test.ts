// The OPA input document: byte-for-byte what Go's OPA code path builds for each fixture certificate,
// and Go's crypto/x509 + net/url semantics on certificates made here (RSA, Ed25519, CA, odd URIs).
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { certificateInputJson, goIpString } from '../../src/auth/opa/certificate-input.ts';
import { parseGoUrl } from '../../src/auth/opa/go-url.ts';
import { issue, makeCa } from '../helpers/pki.ts';
import { cert, OPA_DIR, PEERS } from './fixtures.ts';

const { rawJSON } = JSON as unknown as { rawJSON(text: string): object };

/**
 * Parses keeping every number's source text, so that re-serialising changes no digit, with object
 * keys sorted as OPA renders a document (the input itself has Go's field order).
 */
function parseExactSorted(text: string): unknown {
  return JSON.parse(text, (_k, v: unknown, ctx?: { source?: string }) => {
    if (typeof v === 'number') return rawJSON(ctx!.source!);
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
    return Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1)));
  });
}

type Certificate = Record<string, unknown> & { PublicKey: unknown; SerialNumber: unknown };

function inputOf(pemPath: string): { text: string; certificate: Certificate } {
  const text = certificateInputJson(new X509Certificate(readFileSync(pemPath)).raw);
  return { text, certificate: (JSON.parse(text) as { certificate: Certificate }).certificate };
}

/** The integer's digits exactly as they stand in the JSON text. */
function numberText(json: string, field: string): string {
  return new RegExp(`"${field}":(-?\\d+)`).exec(json)![1]!;
}

const b64urlToBigInt = (s: string): bigint => BigInt(`0x${Buffer.from(s, 'base64url').toString('hex')}`);

describe('OPA input document', () => {
  for (const peer of PEERS) {
    it(`is byte-for-byte Ghostunnel's for ${peer}`, () => {
      const { text } = inputOf(cert(peer));
      const pretty = `${JSON.stringify(parseExactSorted(text), null, 2)}\n`;
      assert.equal(pretty, readFileSync(`${OPA_DIR}inputs/${peer}.json`, 'utf8'));
    });
  }

  it('keeps serial numbers exact where a float64 would merge them', () => {
    const a = numberText(inputOf(cert('client1')).text, 'SerialNumber');
    const b = numberText(inputOf(cert('client1-revoked')).text, 'SerialNumber');
    assert.equal(Number(a), Number(b), 'the fixture serials differ only below float64 precision');
    assert.notEqual(a, b);
    assert.equal(BigInt(b), BigInt(`0x${new X509Certificate(readFileSync(cert('client1-revoked'))).serialNumber}`));
  });

  it('encodes an RSA leaf as Go does (N, E, enums, key usage, IPv6 and URI SANs)', () => {
    const ca = makeCa('opa-rsa-ca', { alg: 'rsa' });
    const leaf = issue(ca, 'rsa-leaf', { alg: 'rsa', cn: 'svc', ou: ['a', 'b'], dns: ['svc.local'], ips: ['2001:db8:0:0:0:0:0:1', '10.0.0.1'], uris: ['https://user@host.example:8443/a%20b/c%2Fd?x=1'] });
    const { text, certificate: c } = inputOf(leaf.cert);
    const x509 = new X509Certificate(readFileSync(leaf.cert));
    const jwk = x509.publicKey.export({ format: 'jwk' });
    assert.equal(c.PublicKeyAlgorithm, 1);
    assert.equal(c.SignatureAlgorithm, 4, 'SHA256WithRSA');
    assert.equal(BigInt(numberText(text, 'N')), b64urlToBigInt(jwk.n!));
    assert.deepEqual((c.PublicKey as { E: number }).E, 65537);
    assert.equal(BigInt(numberText(text, 'SerialNumber')), BigInt(`0x${x509.serialNumber}`));
    assert.equal(c.NotAfter, x509.validToDate.toISOString().replace('.000Z', 'Z'));
    assert.equal(c.KeyUsage, 5, 'digitalSignature | keyEncipherment');
    assert.deepEqual(c.ExtKeyUsage, [1, 2]);
    assert.deepEqual([c.BasicConstraintsValid, c.IsCA, c.MaxPathLen, c.MaxPathLenZero], [true, false, -1, false]);
    assert.deepEqual(c.IPAddresses, ['2001:db8::1', '10.0.0.1']);
    assert.deepEqual((c.Subject as { OrganizationalUnit: string[] }).OrganizationalUnit, ['a', 'b']);
    assert.deepEqual(c.URIs, [
      { ForceQuery: false, Fragment: '', Host: 'host.example:8443', OmitHost: false, Opaque: '', Path: '/a b/c/d', RawFragment: '', RawPath: '/a%20b/c%2Fd', RawQuery: 'x=1', Scheme: 'https', User: {} },
    ]);
    assert.equal(c.EmailAddresses, null);
    assert.equal(c.UnhandledCriticalExtensions, null);
    assert.equal(Object.keys(c).length, 45);
    assert.deepEqual(Object.keys(c).slice(0, 4), ['Raw', 'RawTBSCertificate', 'RawSubjectPublicKeyInfo', 'RawSubject'], "Go's field order");
  });

  it('encodes an Ed25519 key as base64 and a CA certificate with its constraints', () => {
    const ca = makeCa('opa-ed-ca', { alg: 'ed25519' });
    const leaf = issue(ca, 'ed-leaf', { alg: 'ed25519', uris: ['spiffe://example.org/ns/x'] });
    const { certificate: c } = inputOf(leaf.cert);
    const jwk = new X509Certificate(readFileSync(leaf.cert)).publicKey.export({ format: 'jwk' });
    assert.equal(c.PublicKeyAlgorithm, 4);
    assert.equal(c.SignatureAlgorithm, 16, 'PureEd25519');
    assert.equal(c.PublicKey, Buffer.from(jwk.x!, 'base64url').toString('base64'));
    assert.equal(c.DNSNames, null);
    const { certificate: root } = inputOf(ca.cert);
    assert.deepEqual([root.BasicConstraintsValid, root.IsCA, root.MaxPathLen, root.KeyUsage], [true, true, -1, 96]);
    assert.equal(root.AuthorityKeyId, root.SubjectKeyId, 'self-signed: the AKI is its own SKI');
    assert.deepEqual((root.Subject as { Names: unknown }).Names, [{ Type: [2, 5, 4, 3], Value: 'opa-ed-ca' }]);
  });

  it('rejects bytes that are not a certificate', () => {
    assert.throws(() => certificateInputJson(Buffer.from('not a certificate')), /^Error: cannot build the OPA input from the peer certificate: /);
  });
});

describe("Go's net/url.Parse for URI SANs", () => {
  const cases: Array<[string, Partial<ReturnType<typeof parseGoUrl>>]> = [
    ['spiffe://example.org/ns/prod/sa/web', { Scheme: 'spiffe', Host: 'example.org', Path: '/ns/prod/sa/web', RawPath: '', User: null }],
    ['HTTP://Example.ORG/', { Scheme: 'http', Host: 'Example.ORG', Path: '/' }],
    ['urn:uuid:6e8bc430-9c3a-11d9', { Scheme: 'urn', Opaque: 'uuid:6e8bc430-9c3a-11d9', Path: '' }],
    ['file:///etc/hosts', { Scheme: 'file', Host: '', Path: '/etc/hosts', OmitHost: false }],
    ['spiffe:/only/path', { Scheme: 'spiffe', Host: '', Path: '/only/path', OmitHost: true }],
    ['https://h/?', { ForceQuery: true, RawQuery: '', Path: '/' }],
    ['https://h/p?a=1?b#x', { RawQuery: 'a=1?b', Fragment: 'x', RawFragment: '' }],
    ['https://h/#f%21%20', { Fragment: 'f! ', RawFragment: 'f%21%20' }],
    ['https://h/a%20b', { Path: '/a b', RawPath: '' }],
    ['https://[::1]:8443/x', { Host: '[::1]:8443', Path: '/x' }],
    ['https://u:p@h/', { User: {}, Host: 'h' }],
  ];
  for (const [raw, want] of cases) {
    it(raw, () => {
      const got = parseGoUrl(raw);
      for (const [k, v] of Object.entries(want)) assert.deepEqual(got[k as keyof typeof got], v, k);
    });
  }
  it('rejects what Go rejects', () => {
    assert.throws(() => parseGoUrl('https://h:port/'), /invalid port ":port" after host/);
    assert.throws(() => parseGoUrl('https://h/%zz'), /invalid URL escape "%zz"/);
    assert.throws(() => parseGoUrl('://x'), /missing protocol scheme/);
  });
});

describe("net.IP's text form", () => {
  it('dotted quads, IPv4-mapped IPv6 as IPv4, RFC 5952 compression', () => {
    assert.equal(goIpString(Uint8Array.from([10, 1, 2, 3])), '10.1.2.3');
    assert.equal(goIpString(Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 2, 3])), '10.1.2.3');
    assert.equal(goIpString(Uint8Array.from([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1])), '2001:db8::1:0:0:1');
    assert.equal(goIpString(new Uint8Array(16)), '::');
  });
});
