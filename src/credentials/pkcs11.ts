import type { KeyObject, X509Certificate } from 'node:crypto';
import type { Pkcs11Token } from '../config/types.ts';
import { readCertificateChain } from './certificate-chain.ts';
import { checkNotExpired, describeKeyType, leafFirst, parseCertificates } from './certificates.ts';
import { CredentialError, type FileReader } from './credential-file.ts';
import type { Identity } from './identity.ts';
import { ENGINE_ID, engineKeyUri, prepareEngine, withPinFile } from './pkcs11-engine.ts';
import { listTokenKeys, type TokenPrivateKey } from './pkcs11-token.ts';

/** The token key an identity uses, found once per process (spec §2.3: the key handle is cached). */
interface TokenKey {
  readonly publicKey: KeyObject;
  readonly uri: string;
  /** 'EC P-256 key "tls" (id 02) on token "hsm"', for messages. */
  readonly description: string;
}

const tokenKeys = new Map<string, TokenKey>();

/** 'EC P-256 key "tls" (id 02)' */
function describe(key: TokenPrivateKey): string {
  const type = key.publicKey ? describeKeyType(key.publicKey) : key.type;
  return `${type} key${key.label ? ` "${key.label}"` : ''} (id ${key.id.toString('hex') || 'none'})`;
}

/**
 * Logs in and finds the private key whose public half equals a certificate's, preferring the first
 * certificate of the file (the leaf). Matching whole public keys also rules out a key of another
 * type, which the engine itself would not notice (an RSA certificate with an EC key).
 */
function findTokenKey(token: Pkcs11Token, certs: readonly X509Certificate[], path: string): TokenKey {
  prepareEngine(token.module);
  const keys = listTokenKeys(token);
  for (const cert of certs) {
    const key = keys.find((k) => k.publicKey?.equals(cert.publicKey));
    if (key === undefined) continue;
    const what = `${describe(key)} on token "${token.tokenLabel}"`;
    if (key.type !== 'RSA' && key.type !== 'EC') throw new CredentialError(`the ${what} matches "${path}", but OpenSSL's pkcs11 engine signs with RSA and EC keys only`);
    if (key.id.length === 0) throw new CredentialError(`the ${what} has no CKA_ID, which the OpenSSL engine needs to find it; set one (pkcs11-tool --set-id)`);
    const twins = keys.filter((k) => k.id.equals(key.id) && (key.label === '' || k.label === key.label));
    if (twins.length > 1) throw new CredentialError(`the ${what} shares its CKA_ID and label with another private key, so the OpenSSL engine cannot tell them apart; give it a unique CKA_ID`);
    return { publicKey: cert.publicKey, uri: engineKeyUri(token.tokenLabel, key.id, key.label, token.pin), description: what };
  }
  const sorted = [...keys].sort((a, b) => Buffer.compare(a.id, b.id));
  const held = keys.length ? sorted.map(describe).join(', ') : `no private key visible${token.pin === '' ? ' (no --pkcs11-pin, so not logged in)' : ''}`;
  throw new CredentialError(`no private key on PKCS#11 token "${token.tokenLabel}" matches the ${describeKeyType(certs[0]!.publicKey)} certificate in "${path}" (token holds: ${held})`);
}

/**
 * The identity of a PKCS#11 setup: the chain from the file, the key on the token. The key is looked
 * up at the first load only; a reload re-reads the chain and refuses a certificate for another key.
 */
export function tokenIdentity(token: Pkcs11Token, chainPath: string, read: FileReader): Identity {
  const data = read(chainPath, 'certificate');
  let ders: Buffer[];
  try {
    ders = readCertificateChain(data);
  } catch (err) {
    throw new CredentialError(`reading certificate file "${chainPath}": ${(err as Error).message}`);
  }
  const certs = parseCertificates(ders, chainPath);
  if (certs.length === 0) throw new CredentialError(`reading certificate file "${chainPath}": no certificate found`);
  const cacheKey = `${token.module}\0${token.tokenLabel}`;
  let key = tokenKeys.get(cacheKey);
  if (key === undefined) {
    key = findTokenKey(token, certs, chainPath);
    tokenKeys.set(cacheKey, key);
  }
  const tokenKey = key;
  const leafIndex = certs.findIndex((c) => c.publicKey.equals(tokenKey.publicKey));
  if (leafIndex < 0) {
    const certType = describeKeyType(certs[0]!.publicKey);
    const keyType = describeKeyType(tokenKey.publicKey);
    const types = certType === keyType ? '' : ` (the certificate has an ${certType} key, the token key is ${keyType})`;
    throw new CredentialError(`certificate in "${chainPath}" does not match the private key in use, the ${tokenKey.description}${types}; a reload can change the certificate, not the key`);
  }
  const chain = leafFirst(certs, leafIndex);
  const leaf = chain[0]!;
  checkNotExpired(leaf, chainPath);
  const unlock = <T>(load: () => T): T => (token.pin === '' ? load() : withPinFile(token.pin, load));
  return { chainPem: chain.map((c) => c.toString()).join(''), key: { kind: 'engine', engine: ENGINE_ID, uri: tokenKey.uri, unlock }, leaf, chain };
}
