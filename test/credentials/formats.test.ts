import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { readCertificateChain } from '../../src/credentials/certificate-chain.ts';
import { detectKeystoreFormat } from '../../src/credentials/keystore-format.ts';
import { issue, makeCa, openssl, tempDir, toPkcs12, type Ca, type Issued } from '../helpers/pki.ts';

function serials(ders: Buffer[]): string[] {
  return ders.map((d) => new X509Certificate(d).serialNumber);
}

describe('keystore formats: by extension, then by content (spec §2.3)', () => {
  let ca: Ca, leaf: Issued, dir: string, leafDer: Buffer, caDer: Buffer;
  before(() => {
    ca = makeCa();
    dir = tempDir();
    leaf = issue(ca, 'leaf', {}, dir);
    leafDer = new X509Certificate(readFileSync(leaf.cert)).raw;
    caDer = new X509Certificate(readFileSync(ca.cert)).raw;
  });

  it('names each format from its content when the extension says nothing', () => {
    const p7 = join(dir, 'bundle-p7');
    openssl(['crl2pkcs7', '-nocrl', '-certfile', leaf.cert, '-outform', 'DER', '-out', p7]);
    const p12 = toPkcs12(leaf, ca, 'pw', { out: join(dir, 'store-p12') });
    assert.equal(detectKeystoreFormat('x', readFileSync(p7)), 'pkcs7');
    assert.equal(detectKeystoreFormat('x', readFileSync(p12)), 'pkcs12');
    assert.equal(detectKeystoreFormat('x', leafDer), 'der');
    assert.equal(detectKeystoreFormat('x', readFileSync(leaf.pem)), 'pem');
    assert.equal(detectKeystoreFormat('x', Buffer.from('cececece00000002', 'hex')), 'jceks');
    assert.equal(detectKeystoreFormat('x', Buffer.from('feedfeed00000002', 'hex')), 'jceks');
    assert.throws(() => detectKeystoreFormat('x', Buffer.from('hello')), { message: 'unable to guess file format' });
    // The extension wins over the content.
    assert.equal(detectKeystoreFormat('x.p12', leafDer), 'pkcs12');
    assert.equal(detectKeystoreFormat('x.P7B', leafDer), 'pkcs7');
  });

  it('reads a chain from PEM, PEM PKCS7, concatenated DER and DER PKCS#7, in file order', () => {
    const pemP7 = join(dir, 'chain.pem.p7b');
    openssl(['crl2pkcs7', '-nocrl', '-certfile', leaf.cert, '-certfile', ca.cert, '-out', pemP7]);
    const derP7 = join(dir, 'chain.der.p7b');
    openssl(['crl2pkcs7', '-nocrl', '-certfile', leaf.cert, '-certfile', ca.cert, '-outform', 'DER', '-out', derP7]);
    const want = [leaf.serial, ca.serial];
    assert.deepEqual(serials(readCertificateChain(Buffer.from(readFileSync(leaf.cert, 'utf8') + readFileSync(ca.cert, 'utf8')))), want);
    assert.deepEqual(serials(readCertificateChain(readFileSync(pemP7))), want);
    assert.deepEqual(serials(readCertificateChain(readFileSync(derP7))), want);
    assert.deepEqual(serials(readCertificateChain(Buffer.concat([leafDer, caDer]))), want);
    // Re-encoding must give the exact bytes back, or the signatures would not verify.
    assert.deepEqual(readCertificateChain(readFileSync(derP7)), [leafDer, caDer]);
  });

  it('refuses a keystore with a private key where only a chain belongs', () => {
    const p12 = toPkcs12(leaf, ca, 'pw', { out: join(dir, 'chain-p12') });
    assert.throws(() => readCertificateChain(readFileSync(p12)), { message: /a PKCS#12 keystore holds a private key; with --pkcs11-module give the certificate chain alone/ });
    const junk = join(dir, 'junk');
    writeFileSync(junk, 'not a certificate');
    assert.throws(() => readCertificateChain(readFileSync(junk)), { message: 'unable to guess file format' });
  });
});
