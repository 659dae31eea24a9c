import { createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import type { Pkcs11Token } from '../config/types.ts';
import { CredentialError } from './credential-file.ts';
import { loadPkcs11, type Handle, type Pkcs11Addon, type Pkcs11Module } from './pkcs11-addon.ts';

/** A private key object on the token, with the public half it pairs with when the token shows one. */
export interface TokenPrivateKey {
  /** CKA_ID: how the OpenSSL engine finds the key again. */
  readonly id: Buffer;
  /** CKA_LABEL, for messages. */
  readonly label: string;
  /** "RSA", "EC", "EC_EDWARDS", or the CKK_ number. */
  readonly type: string;
  readonly publicKey: KeyObject | undefined;
}

type Addon = Pkcs11Addon;
type Session = Handle;

/** OIDs of the named curves OpenSSL's engine can sign with, as DER (CKA_EC_PARAMS). */
const CURVES: Record<string, string> = {
  '06082a8648ce3d030107': 'P-256',
  '06052b81040022': 'P-384',
  '06052b81040023': 'P-521',
};

function b64url(b: Buffer): string {
  return b.toString('base64url');
}

/** CKA_EC_POINT is a DER OCTET STRING around the uncompressed point (some modules omit the wrapper). */
function unwrapEcPoint(value: Buffer): Buffer {
  if (value[0] === 0x04 && value.length > 2) {
    const long = value[1]! & 0x80 ? value[1]! & 0x7f : 0;
    const header = 2 + long;
    const length = long ? value.readUIntBE(2, long) : value[1]!;
    if (header + length === value.length && value[header] === 0x04) return value.subarray(header);
  }
  return value;
}

function ecPublicKey(params: Buffer, point: Buffer): KeyObject | undefined {
  const crv = CURVES[params.toString('hex')];
  const raw = unwrapEcPoint(point);
  if (crv === undefined || raw[0] !== 0x04) return undefined;
  const n = (raw.length - 1) / 2;
  return createPublicKey({ key: { kty: 'EC', crv, x: b64url(raw.subarray(1, 1 + n)), y: b64url(raw.subarray(1 + n)) }, format: 'jwk' });
}

function rsaPublicKey(modulus: Buffer, exponent: Buffer): KeyObject {
  return createPublicKey({ key: { kty: 'RSA', n: b64url(modulus), e: b64url(exponent) }, format: 'jwk' });
}

/** Reads a module, token by token; every call is synchronous (PKCS#11 is a blocking C API). */
class TokenReader {
  readonly #p: Addon;
  readonly #m: Pkcs11Module;
  readonly #session: Session;
  constructor(p: Addon, m: Pkcs11Module, session: Session) {
    this.#p = p;
    this.#m = m;
    this.#session = session;
  }

  /** One attribute, or undefined when the object does not have it (or keeps it secret). */
  attribute(object: Buffer, type: number): Buffer | undefined {
    try {
      const value = this.#m.C_GetAttributeValue(this.#session, object, [{ type }])[0]?.value;
      return Buffer.isBuffer(value) ? value : undefined;
    } catch {
      return undefined;
    }
  }

  objects(objectClass: number): Buffer[] {
    this.#m.C_FindObjectsInit(this.#session, [{ type: this.#p.CKA_CLASS, value: objectClass }]);
    try {
      const all: Buffer[] = [];
      for (let batch = this.#m.C_FindObjects(this.#session, 64); batch.length > 0; batch = this.#m.C_FindObjects(this.#session, 64)) all.push(...batch);
      return all;
    } finally {
      this.#m.C_FindObjectsFinal(this.#session);
    }
  }

  keyType(object: Buffer): number | undefined {
    const v = this.attribute(object, this.#p.CKA_KEY_TYPE);
    return v === undefined ? undefined : v.length >= 8 ? Number(v.readBigUInt64LE(0)) : v.readUIntLE(0, v.length);
  }

  /** The public key held in a key object's own attributes (RSA private keys carry it; EC ones rarely). */
  publicKeyOf(object: Buffer): KeyObject | undefined {
    const p = this.#p;
    const type = this.keyType(object);
    try {
      if (type === p.CKK_RSA) {
        const n = this.attribute(object, p.CKA_MODULUS);
        const e = this.attribute(object, p.CKA_PUBLIC_EXPONENT);
        return n && e ? rsaPublicKey(n, e) : undefined;
      }
      if (type === p.CKK_EC) {
        const params = this.attribute(object, p.CKA_EC_PARAMS);
        const point = this.attribute(object, p.CKA_EC_POINT);
        return params && point ? ecPublicKey(params, point) : undefined;
      }
    } catch {
      // A malformed attribute: the key is then listed without a public half and cannot match.
    }
    return undefined;
  }
}

const KEY_TYPES: Record<number, string> = { 0: 'RSA', 3: 'EC', 0x40: 'EC_EDWARDS' };

function pkcs11Code(err: unknown): string {
  return (err as Error).message.split(/[\s:]/)[0] ?? String(err);
}

function loginError(label: string, err: unknown): CredentialError {
  const code = pkcs11Code(err);
  const why: Record<string, string> = {
    CKR_PIN_INCORRECT: 'the PIN is incorrect',
    CKR_PIN_LEN_RANGE: 'the PIN has the wrong length',
    CKR_PIN_LOCKED: 'the PIN is locked (too many wrong attempts)',
    CKR_PIN_EXPIRED: 'the PIN has expired',
  };
  return new CredentialError(`logging in to PKCS#11 token "${label}" failed: ${why[code] ?? 'the token refused the login'} (${code}); check --pkcs11-pin / PKCS11_PIN`);
}

/**
 * Logs in to the token and lists its private keys, each with its public half: from the key's own
 * attributes, else from the public-key or certificate object with the same CKA_ID. The session and
 * the module are closed again before returning: from then on only OpenSSL's engine uses the token.
 */
export function listTokenKeys(token: Pkcs11Token): TokenPrivateKey[] {
  const p = loadPkcs11();
  const m = new p.PKCS11();
  try {
    m.load(token.module);
  } catch (err) {
    throw new CredentialError(`loading PKCS#11 module "${token.module}": ${(err as Error).message}`);
  }
  let initialized = false;
  let session: Session | undefined;
  try {
    try {
      m.C_Initialize();
      initialized = true;
    } catch (err) {
      // Someone in this process (the engine) already uses the module: then it is not ours to finalize.
      if (pkcs11Code(err) !== 'CKR_CRYPTOKI_ALREADY_INITIALIZED') throw err;
    }
    const tokens = m.C_GetSlotList(true).map((slot) => ({ slot, info: m.C_GetTokenInfo(slot) }));
    const found = tokens.find((t) => t.info.label.trimEnd() === token.tokenLabel);
    if (found === undefined) {
      const labels = tokens.filter((t) => t.info.flags & p.CKF_TOKEN_INITIALIZED).map((t) => `"${t.info.label.trimEnd()}"`);
      throw new CredentialError(`no token labelled "${token.tokenLabel}" in PKCS#11 module "${token.module}" (${labels.length ? `tokens present: ${labels.join(', ')}` : 'no initialized token present'}); check --pkcs11-token-label`);
    }
    session = m.C_OpenSession(found.slot, p.CKF_SERIAL_SESSION);
    if (token.pin !== '') {
      try {
        m.C_Login(session, p.CKU_USER, token.pin);
      } catch (err) {
        if (pkcs11Code(err) !== 'CKR_USER_ALREADY_LOGGED_IN') throw loginError(token.tokenLabel, err);
      }
    }
    const reader = new TokenReader(p, m, session);
    const publicHalves = new Map<string, KeyObject>();
    for (const object of reader.objects(p.CKO_PUBLIC_KEY)) {
      const key = reader.publicKeyOf(object);
      const id = reader.attribute(object, p.CKA_ID);
      if (key && id?.length) publicHalves.set(id.toString('hex'), key);
    }
    for (const object of reader.objects(p.CKO_CERTIFICATE)) {
      const id = reader.attribute(object, p.CKA_ID);
      const der = reader.attribute(object, p.CKA_VALUE);
      if (!id?.length || !der || publicHalves.has(id.toString('hex'))) continue;
      try {
        publicHalves.set(id.toString('hex'), new X509Certificate(der).publicKey);
      } catch {
        // Not an X.509 certificate we can read: it cannot name a key's public half.
      }
    }
    return reader.objects(p.CKO_PRIVATE_KEY).map((object) => {
      const id = reader.attribute(object, p.CKA_ID) ?? Buffer.alloc(0);
      const keyType = reader.keyType(object);
      const type = keyType === undefined ? 'unknown' : (KEY_TYPES[keyType] ?? `CKK_${keyType}`);
      // A public half found by CKA_ID only counts when its type is the private key's too.
      const byId = id.length ? publicHalves.get(id.toString('hex')) : undefined;
      const sameType = byId?.asymmetricKeyType === type.toLowerCase() ? byId : undefined;
      return { id, label: reader.attribute(object, p.CKA_LABEL)?.toString('utf8') ?? '', type, publicKey: reader.publicKeyOf(object) ?? sameType };
    });
  } catch (err) {
    if (err instanceof CredentialError) throw err;
    throw new CredentialError(`reading PKCS#11 token "${token.tokenLabel}" in module "${token.module}": ${(err as Error).message}`);
  } finally {
    const open = session;
    if (open !== undefined) {
      // Not logged in (the login failed) is fine here: there is nothing to undo.
      quietly(() => token.pin !== '' && m.C_Logout(open));
      quietly(() => m.C_CloseSession(open));
    }
    if (initialized) quietly(() => m.C_Finalize());
    quietly(() => m.close());
  }
}

/** Closing calls: a failure there must not hide the error (or result) that came before. */
function quietly(close: () => unknown): void {
  try {
    close();
  } catch {
    // Nothing to do: the session or module is gone either way.
  }
}
