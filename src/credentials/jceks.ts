import { createDecipheriv, createHash, hash, timingSafeEqual } from 'node:crypto';
import type forge from 'node-forge';
import { loadForge } from './forge.ts';

/** The private key entry of a JCEKS keystore, as DER. */
export interface JceksContents {
  readonly keyPkcs8Der: Buffer;
  /** The entry's chain, leaf first as keytool stores it. */
  readonly certsDer: Buffer[];
}

const JCEKS_MAGIC = 0xcececece;
const JKS_MAGIC = 0xfeedfeed;
const PRIVATE_KEY_ENTRY = 1;
const TRUSTED_CERT_ENTRY = 2;
const SECRET_KEY_ENTRY = 3;
/** Sun's PBEWithMD5AndTripleDES, the only key protection JCEKS writes. */
const PBE_MD5_3DES_OID = '1.3.6.1.4.1.42.2.19.1';
const DIGEST_LENGTH = 20;
/** Sun's fixed salt of the keystore integrity digest. */
const INTEGRITY_SALT = Buffer.from('Mighty Aphrodite', 'utf8');

/** java.io.DataInputStream over a buffer; every read is bounds-checked. */
class DataReader {
  #offset = 0;
  readonly #data: Buffer;
  constructor(data: Buffer) {
    this.#data = data;
  }
  get offset(): number {
    return this.#offset;
  }
  #take(n: number): Buffer {
    if (n < 0 || this.#offset + n > this.#data.length) throw new Error('keystore file is truncated');
    const out = this.#data.subarray(this.#offset, this.#offset + n);
    this.#offset += n;
    return out;
  }
  int(): number {
    return this.#take(4).readUInt32BE(0);
  }
  long(): bigint {
    return this.#take(8).readBigUInt64BE(0);
  }
  /** writeUTF: a 16-bit length, then (modified) UTF-8, which equals UTF-8 for any alias keytool writes. */
  utf(): string {
    return this.#take(this.#take(2).readUInt16BE(0)).toString('utf8');
  }
  bytes(): Buffer {
    return this.#take(this.int());
  }
}

interface PrivateKeyEntry {
  readonly alias: string;
  readonly protectedKey: Buffer;
  readonly chain: Buffer[];
}

function readCertificate(r: DataReader, version: number): Buffer {
  if (version === 2) {
    const type = r.utf();
    if (type !== 'X.509') throw new Error(`unsupported certificate type "${type}"`);
  }
  return r.bytes();
}

/**
 * Key derivation of Sun's PBEWithMD5AndTripleDES (com.sun.crypto.provider.PBES1Core): each salt
 * half is hashed with the password `iterations` times; the two digests give the 3DES key and IV.
 * Equal halves would give a weak key, so Sun reverses the first half in that case.
 */
function deriveKeyAndIv(password: Buffer, salt: Buffer, iterations: number): { key: Buffer; iv: Buffer } {
  const s = Buffer.from(salt);
  if (s.subarray(0, 4).equals(s.subarray(4, 8))) s.subarray(0, 4).reverse();
  const halves = [s.subarray(0, 4), s.subarray(4, 8)].map((half) => {
    let digest: Buffer = half;
    for (let i = 0; i < iterations; i++) digest = hash('md5', Buffer.concat([digest, password]), 'buffer');
    return digest;
  });
  const out = Buffer.concat(halves);
  return { key: out.subarray(0, 24), iv: out.subarray(24, 32) };
}

/** Sun's PBE key takes printable ASCII only, one byte per character. */
function pbePasswordBytes(password: string): Buffer {
  if (!/^[\x20-\x7e]*$/.test(password)) throw new Error('the password holds characters other than printable ASCII, which JCEKS keys cannot be protected with');
  return Buffer.from(password, 'latin1');
}

/**
 * The last key recovered, by a digest of its protected form and the password. keytool protects
 * keys with 200,000 iterations, most of a second of blocked event loop per load: a reload (every
 * --timed-reload) of an unchanged keystore takes the key from here instead.
 */
let lastRecovered: { readonly digest: string; readonly key: Buffer } | undefined;

function recoverKey(entry: PrivateKeyEntry, password: string): Buffer {
  const digest = createHash('sha256').update(entry.protectedKey).update('\0').update(password, 'utf8').digest('hex');
  if (lastRecovered?.digest !== digest) lastRecovered = { digest, key: decryptKey(entry, password) };
  return lastRecovered.key;
}

/** Decrypts a JCEKS-protected key (an EncryptedPrivateKeyInfo) to PKCS#8 DER. */
function decryptKey(entry: PrivateKeyEntry, password: string): Buffer {
  let algorithm: string, salt: Buffer, iterations: number, encrypted: Buffer;
  try {
    const f = loadForge();
    const info = f.asn1.fromDer(f.util.createBuffer(entry.protectedKey.toString('binary')));
    const [algId, data] = info.value as forge.asn1.Asn1[];
    const [oid, params] = algId!.value as forge.asn1.Asn1[];
    algorithm = f.asn1.derToOid(oid!.value as string);
    const [saltAsn1, countAsn1] = (params?.value ?? []) as forge.asn1.Asn1[];
    salt = Buffer.from((saltAsn1?.value as string | undefined) ?? '', 'binary');
    iterations = Number.parseInt(f.util.bytesToHex(countAsn1!.value as string), 16);
    encrypted = Buffer.from(data!.value as string, 'binary');
  } catch {
    throw new Error(`the private key of entry "${entry.alias}" is not a well-formed encrypted key`);
  }
  if (algorithm !== PBE_MD5_3DES_OID) throw new Error(`the private key of entry "${entry.alias}" is protected with an unsupported algorithm (OID ${algorithm})`);
  if (salt.length !== 8 || iterations < 1) throw new Error(`the private key of entry "${entry.alias}" has invalid protection parameters`);
  const { key, iv } = deriveKeyAndIv(pbePasswordBytes(password), salt, iterations);
  try {
    const decipher = createDecipheriv('des-ede3-cbc', key, iv);
    return Buffer.concat([decipher.update(encrypted), decipher.final()]);
  } catch {
    throw new Error(`cannot decrypt the private key of entry "${entry.alias}": wrong password (--storepass is also the key password)`);
  }
}

/** The store's integrity digest: SHA-1 over the password (UTF-16BE), a fixed salt and the content. */
function checkIntegrity(data: Buffer, end: number, password: string): void {
  if (end + DIGEST_LENGTH > data.length) throw new Error('keystore file is truncated');
  const utf16be = Buffer.from(password, 'utf16le').swap16();
  const expected = createHash('sha1').update(utf16be).update(INTEGRITY_SALT).update(data.subarray(0, end)).digest();
  if (!timingSafeEqual(expected, data.subarray(end, end + DIGEST_LENGTH))) {
    throw new Error('integrity check failed: wrong --storepass, or the file is damaged');
  }
}

/**
 * Reads a JCEKS keystore (Sun's format, as keytool -storetype jceks writes it): the one private key
 * entry with its chain. Trusted-certificate entries are skipped; secret-key entries and JKS stores
 * holding private keys are refused, each with the way out.
 */
export function readJceks(data: Buffer, password: string): JceksContents {
  const r = new DataReader(data);
  const magic = r.int();
  if (magic !== JCEKS_MAGIC && magic !== JKS_MAGIC) throw new Error('not a JCEKS or JKS keystore');
  const jks = magic === JKS_MAGIC;
  const version = r.int();
  if (version !== 1 && version !== 2) throw new Error(`unsupported keystore version ${version}`);
  const count = r.int();
  const keys: PrivateKeyEntry[] = [];
  for (let i = 0; i < count; i++) {
    const tag = r.int();
    const alias = r.utf();
    r.long();
    if (tag === PRIVATE_KEY_ENTRY) {
      if (jks) {
        throw new Error(`this JKS keystore holds a private key (entry "${alias}") in Sun's proprietary JKS protection, which is not supported; convert the keystore to PKCS#12: keytool -importkeystore -srckeystore FILE.jks -destkeystore FILE.p12 -deststoretype pkcs12`);
      }
      const protectedKey = r.bytes();
      const chain = Array.from({ length: r.int() }, () => readCertificate(r, version));
      keys.push({ alias, protectedKey, chain });
    } else if (tag === TRUSTED_CERT_ENTRY) {
      readCertificate(r, version);
    } else if (tag === SECRET_KEY_ENTRY) {
      throw new Error(`entry "${alias}" is a secret key, which a TLS identity cannot use; keep only the private key entry in this keystore (keytool -delete -alias ${alias})`);
    } else {
      throw new Error(`entry "${alias}" has an unknown type (${tag})`);
    }
  }
  checkIntegrity(data, r.offset, password);
  if (keys.length === 0) throw new Error('keystore holds no private key entry');
  if (keys.length > 1) throw new Error(`keystore holds ${keys.length} private key entries (${keys.map((k) => `"${k.alias}"`).join(', ')}); keep only one`);
  const entry = keys[0]!;
  if (entry.chain.length === 0) throw new Error(`private key entry "${entry.alias}" has no certificate`);
  return { keyPkcs8Der: recoverKey(entry, password), certsDer: entry.chain };
}
