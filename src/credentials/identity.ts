import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { CredentialSources } from '../config/types.ts';
import { detectKeystoreFormat } from './keystore-format.ts';
import { isPrivateKeyBlock, parsePem } from './pem.ts';
import { readPkcs12 } from './pkcs12.ts';

/** A certificate chain and its private key, ready for a SecureContext. */
export interface Identity {
  /** Leaf first, then intermediates, as PEM. */
  readonly chainPem: string;
  /** The private key as PKCS#8 PEM. A secret: never logged, never shown. */
  readonly keyPem: string;
  readonly leaf: X509Certificate;
  readonly chain: readonly X509Certificate[];
}

/** An error in one credential file; the message names the file. */
export class CredentialError extends Error {
  override name = 'CredentialError';
}

const MAX_KEYSTORE_BYTES = 50 * 1024 * 1024;

export function readCredentialFile(path: string, what: string): Buffer {
  try {
    const data = readFileSync(path);
    return data.length > MAX_KEYSTORE_BYTES ? data.subarray(0, MAX_KEYSTORE_BYTES) : data;
  } catch (err) {
    throw new CredentialError(`reading ${what} file "${path}": ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (err as Error).message}`);
  }
}

function parseCertificates(ders: readonly Buffer[], path: string): X509Certificate[] {
  return ders.map((der, i) => {
    try {
      return new X509Certificate(der);
    } catch (err) {
      throw new CredentialError(`reading certificate file "${path}": certificate ${i + 1} does not parse: ${(err as Error).message}`);
    }
  });
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
  const chain = [certs[leafIndex]!, ...certs.filter((_, i) => i !== leafIndex)];
  const leaf = chain[0]!;
  if (leaf.validToDate.getTime() < Date.now()) {
    throw new CredentialError(`certificate in "${path}" expired on ${leaf.validToDate.toISOString()} (subject ${leaf.subject.replace(/\n/g, ', ')})`);
  }
  return {
    chainPem: chain.map((c) => c.toString()).join(''),
    keyPem: key.export({ type: 'pkcs8', format: 'pem' }) as string,
    leaf,
    chain,
  };
}

function fromPem(certPath: string, certData: Buffer, keyPath: string, keyData: Buffer): Identity {
  const certBlocks = parsePem(certData.toString('latin1')).filter((b) => b.type === 'CERTIFICATE');
  const keyBlocks = parsePem(keyData.toString('latin1')).filter((b) => isPrivateKeyBlock(b.type));
  if (certBlocks.length === 0) throw new CredentialError(`reading certificate file "${certPath}": no PEM certificate found`);
  if (keyBlocks.length === 0) throw new CredentialError(`reading private key file "${keyPath}": no PEM private key found`);
  if (keyBlocks.length > 1) throw new CredentialError(`reading private key file "${keyPath}": more than one private key`);
  if (keyBlocks[0]!.type === 'ENCRYPTED PRIVATE KEY') throw new CredentialError(`reading private key file "${keyPath}": encrypted PEM keys are not supported`);
  const certs = parseCertificates(certBlocks.map((b) => b.der), certPath);
  return assemble(certs, parseKey(keyBlocks[0]!.text, keyPath), certPath);
}

/** Reads one credential file; the store passes a reader that also fingerprints what it read. */
export type FileReader = (path: string, what: string) => Buffer;

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
    case 'pkcs12': {
      let contents;
      try {
        contents = readPkcs12(data, password);
      } catch (err) {
        throw new CredentialError(`reading keystore file "${path}" (PKCS#12): ${(err as Error).message}`);
      }
      const certs = parseCertificates(contents.certsDer, path);
      return assemble(certs, parseKey(contents.keyPkcs8Der, path), path);
    }
    case 'jceks':
      throw new CredentialError(`reading keystore file "${path}": JCEKS keystores are not supported yet; convert to PKCS#12 with keytool -importkeystore -deststoretype pkcs12`);
    case 'der':
      throw new CredentialError(`reading keystore file "${path}": a DER file holds certificates only, no private key`);
  }
}

/** Reads the identity named by the sources, or undefined when there is none (no-cert client). */
export function loadIdentity(sources: CredentialSources, read: FileReader = readCredentialFile): Identity | undefined {
  if (sources.keystore !== undefined) return fromKeystore(sources.keystore, sources.storepass ?? '', read);
  if (sources.cert !== undefined && sources.key !== undefined) {
    return fromPem(sources.cert, read(sources.cert, 'certificate'), sources.key, read(sources.key, 'private key'));
  }
  return undefined;
}
