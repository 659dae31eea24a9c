import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { peerIdentity, subjectOf, type PeerIdentity } from '../../src/auth/peer.ts';
import { openssl, tempDir } from '../helpers/pki.ts';

/** A self-signed certificate with this subject (openssl -subj syntax) and optional SAN extension. */
function certWith(subj: string, san?: string, config?: string): X509Certificate {
  const dir = tempDir();
  const cert = join(dir, 'c.pem');
  const args = ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'k.pem'), '-out', cert, '-days', '1', '-utf8', '-multivalue-rdn'];
  if (config !== undefined) {
    writeFileSync(join(dir, 'req.cnf'), config);
    args.push('-config', join(dir, 'req.cnf'));
  } else args.push('-subj', subj);
  if (san !== undefined) args.push('-addext', `subjectAltName=${san}`);
  openssl(args);
  return new X509Certificate(readFileSync(cert));
}

/** The identity as identityOf() builds it without toLegacyObject(), or undefined where it falls back. */
function fastIdentity(x509: X509Certificate): object | undefined {
  const subject = subjectOf(x509);
  if (subject === undefined) return undefined;
  return comparable(peerIdentity({ subject, subjectaltname: x509.subjectAltName }, x509));
}

/** The identity without the certificate object, and with only the names checkServerIdentity reads. */
function comparable(identity: PeerIdentity): object {
  return { ...identity, names: { subject: { ...identity.names.subject }, subjectaltname: identity.names.subjectaltname }, x509: undefined };
}

describe('peer identity read from X509Certificate fields', () => {
  const cases: Array<[string, string, string | undefined]> = [
    ['an ordinary client certificate', '/CN=client/OU=bench', 'DNS:client.local,URI:spiffe://bench/client,IP:10.0.0.1'],
    ['RFC 2253 specials, leading and trailing spaces', '/CN=a, b+UID=x/OU=o1/OU= lead"q<>;#/OU=#hash/OU=trail /OU=back\\\\slash/C=US', 'DNS:a.example'],
    ['a control character and non-ASCII text', '/CN=tab\there/O=Grüße €/serialNumber=12', undefined],
    ['a multi-valued RDN', '/CN=x+OU=y+OU=z/OU=w', undefined],
  ];
  for (const [what, subj, san] of cases) {
    it(`equals the legacy object's: ${what}`, () => {
      const x509 = certWith(subj, san);
      const fast = fastIdentity(x509);
      assert.notEqual(fast, undefined, `no fast path for ${JSON.stringify(x509.subject)}`);
      assert.deepEqual(fast, comparable(peerIdentity(x509.toLegacyObject(), x509)));
    });
  }

  it('reads the subject line and the attribute lists exactly', () => {
    const x509 = certWith('/CN=a, b/OU=o1/OU= lead"q<>;#/O=x+UID=u', 'DNS:d.example,URI:spiffe://td/w');
    assert.deepEqual(fastIdentity(x509), {
      cn: 'a, b',
      ous: ['o1', ' lead"q<>;#'],
      dnsNames: ['d.example'],
      ips: [],
      uris: ['spiffe://td/w'],
      subject: 'CN=a, b,OU=o1,OU= lead"q<>;#,O=x,UID=u',
      names: { subject: { CN: 'a, b', OU: ['o1', ' lead"q<>;#'], O: 'x', UID: 'u' }, subjectaltname: 'DNS:d.example, URI:spiffe://td/w' },
      x509: undefined,
    });
  });

  it('falls back to the legacy object for an attribute without a short name', () => {
    const x509 = certWith('', undefined, '[req]\ndistinguished_name=dn\nprompt=no\n[dn]\nCN=c\n1.2.3.4.5=v\n');
    assert.equal(subjectOf(x509), undefined);
  });

  it('falls back to the legacy object for an empty subject', () => {
    assert.equal(subjectOf(certWith('/', 'DNS:only.example')), undefined);
  });
});
