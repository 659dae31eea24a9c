import type forge from 'node-forge';
import { loadForge } from './forge.ts';

/** The key and certificates inside a PKCS#12 file, as DER. */
export interface Pkcs12Contents {
  readonly keyPkcs8Der: Buffer;
  /** Certificates in file order; the one matching the key is picked by the caller. */
  readonly certsDer: Buffer[];
}

function toBuffer(asn1: forge.asn1.Asn1): Buffer {
  return Buffer.from(loadForge().asn1.toDer(asn1).getBytes(), 'binary');
}

/**
 * Decodes PKCS#12 with node-forge rather than OpenSSL: forge reads the legacy RC2/3DES files that
 * OpenSSL 3 refuses without its legacy provider, and keys of any type (EC and Ed25519 come back
 * as raw PrivateKeyInfo, which Node's crypto then parses).
 */
export function readPkcs12(data: Buffer, password: string): Pkcs12Contents {
  const f = loadForge();
  const asn1 = f.asn1.fromDer(f.util.createBuffer(data.toString('binary')));
  const p12 = f.pkcs12.pkcs12FromAsn1(asn1, false, password);
  let key: Buffer | undefined;
  const certs: Buffer[] = [];
  for (const content of p12.safeContents) {
    for (const bag of content.safeBags) {
      const raw = bag as forge.pkcs12.Bag & { asn1?: forge.asn1.Asn1 };
      if (bag.type === f.pki.oids.certBag) {
        certs.push(toBuffer(bag.cert ? f.pki.certificateToAsn1(bag.cert) : raw.asn1!));
      } else if (bag.type === f.pki.oids.pkcs8ShroudedKeyBag || bag.type === f.pki.oids.keyBag) {
        if (key !== undefined) throw new Error('PKCS#12 file holds more than one private key');
        key = bag.key
          ? toBuffer(f.pki.wrapRsaPrivateKey(f.pki.privateKeyToAsn1(bag.key as forge.pki.rsa.PrivateKey)))
          : toBuffer(raw.asn1!);
      }
    }
  }
  if (key === undefined) throw new Error('PKCS#12 file holds no private key');
  if (certs.length === 0) throw new Error('PKCS#12 file holds no certificate');
  return { keyPkcs8Der: key, certsDer: certs };
}
