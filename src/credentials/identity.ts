import { createPrivateKey, type KeyObject, type X509Certificate } from 'node:crypto';
import type { CredentialSources } from '../config/types.ts';
import { pemCertificates } from './certificate-chain.ts';
import { checkNotExpired, leafFirst, parseCertificates } from './certificates.ts';
import { CredentialError, readCredentialFile, type FileReader } from './credential-file.ts';
import { readJceks } from './jceks.ts';
import { detectKeystoreFormat } from './keystore-format.ts';
import { isPrivateKeyBlock, parsePem } from './pem.ts';
import { readPkcs12 } from './pkcs12.ts';
import { tokenIdentity } from './pkcs11.ts';

export { CredentialError, readCredentialFile, type FileReader };

/**
 * The private key of an identity: in memory (PKCS#8 PEM, a secret: never logged), or on a PKCS#11
 * token, used through an OpenSSL engine by a URI that names the key but holds no PIN. A context
 * that loads an engine key is built inside `unlock`, which makes the PIN readable meanwhile.
 */
export type IdentityKey =
  | { readonly kind: 'pem'; readonly pem: string }
  | { readonly kind: 'engine'; readonly engine: string; readonly uri: string; readonly unlock: <T>(load: () => T) => T };

/** A certificate chain and its private key, ready for a SecureContext. */
export interface Identity {
  /** Leaf first, then intermediates, as PEM. */
  readonly chainPem: string;
  readonly key: IdentityKey;
  readonly leaf: X509Certificate;
  readonly chain: readonly X509Certificate[];
}

function parseKey(der: Buffer | string, path: string): KeyObject {
  try {
    return typeof der === 'string' ? createPrivateKey(der) : createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  } catch (err) {
    throw new CredentialError(`reading private key file "${path}": ${(err as Error).message}`);
  }
}

/**
 * Puts the certificate that matches the key first (a PKCS#12 or PEM bundle may hold the CA before
 * the leaf) and checks the pair: key matches certificate, and the leaf is not expired.
 */
function assemble(certs: X509Certificate[], key: KeyObject, path: string): Identity {
  if (certs.length === 0) throw new CredentialError(`reading certificate file "${path}": no certificate found`);
  const leafIndex = certs.findIndex((c) => c.checkPrivateKey(key));
  if (leafIndex < 0) throw new CredentialError(`parsing X509 key pair from "${path}": private key does not match public key`);
  const chain = leafFirst(certs, leafIndex);
  const leaf = chain[0]!;
  checkNotExpired(leaf, path);
  return {
    chainPem: chain.map((c) => c.toString()).join(''),
    key: { kind: 'pem', pem: key.export({ type: 'pkcs8', format: 'pem' }) as string },
    leaf,
    chain,
  };
}

function fromPem(certPath: string, certData: Buffer, keyPath: string, keyData: Buffer): Identity {
  let certDers: Buffer[];
  try {
    certDers = pemCertificates(certData.toString('latin1'));
  } catch (err) {
    throw new CredentialError(`reading certificate file "${certPath}": ${(err as Error).message}`);
  }
  const keyBlocks = parsePem(keyData.toString('latin1')).filter((b) => isPrivateKeyBlock(b.type));
  if (certDers.length === 0) throw new CredentialError(`reading certificate file "${certPath}": no PEM certificate found`);
  if (keyBlocks.length === 0) throw new CredentialError(`reading private key file "${keyPath}": no PEM private key found`);
  if (keyBlocks.length > 1) throw new CredentialError(`reading private key file "${keyPath}": more than one private key`);
  if (keyBlocks[0]!.type === 'ENCRYPTED PRIVATE KEY') throw new CredentialError(`reading private key file "${keyPath}": encrypted PEM keys are not supported`);
  const certs = parseCertificates(certDers, certPath);
  return assemble(certs, parseKey(keyBlocks[0]!.text, keyPath), certPath);
}

function fromKeystore(path: string, password: string, read: FileReader): Identity {
  const data = read(path, 'keystore');
  let format;
  try {
    format = detectKeystoreFormat(path, data);
  } catch (err) {
    throw new CredentialError(`reading keystore file "${path}": ${(err as Error).message}`);
  }
  switch (format) {
    case 'pem':
      return fromPem(path, data, path, data);
    case 'pkcs12':
    case 'jceks': {
      let contents;
      try {
        contents = format === 'pkcs12' ? readPkcs12(data, password) : readJceks(data, password);
      } catch (err) {
        throw new CredentialError(`reading keystore file "${path}" (${format === 'pkcs12' ? 'PKCS#12' : 'JCEKS'}): ${(err as Error).message}`);
      }
      const certs = parseCertificates(contents.certsDer, path);
      return assemble(certs, parseKey(contents.keyPkcs8Der, path), path);
    }
    case 'pkcs7':
      // Ghostunnel reads .p7b/.p7c as PEM: a PEM bundle with a key there still works.
      if (parsePem(data.toString('latin1')).some((b) => isPrivateKeyBlock(b.type))) return fromPem(path, data, path, data);
      throw certificatesOnly(path, 'PKCS#7');
    case 'der':
      throw certificatesOnly(path, 'DER');
  }
}

function certificatesOnly(path: string, what: string): CredentialError {
  return new CredentialError(`reading keystore file "${path}": a ${what} file holds certificates only, no private key (it can be the certificate chain of a --pkcs11-module key)`);
}

/** Reads the identity named by the sources, or undefined when there is none (no-cert client). */
export function loadIdentity(sources: CredentialSources, read: FileReader = readCredentialFile): Identity | undefined {
  if (sources.pkcs11 !== undefined) {
    const chainPath = sources.keystore ?? sources.cert;
    if (chainPath === undefined) throw new CredentialError('--pkcs11-module needs the certificate chain in --cert or --keystore');
    return tokenIdentity(sources.pkcs11, chainPath, read);
  }
  if (sources.keystore !== undefined) return fromKeystore(sources.keystore, sources.storepass ?? '', read);
  if (sources.cert !== undefined && sources.key !== undefined) {
    return fromPem(sources.cert, read(sources.cert, 'certificate'), sources.key, read(sources.key, 'private key'));
  }
  return undefined;
}
