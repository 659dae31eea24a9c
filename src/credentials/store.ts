import { createHash } from 'node:crypto';
import type { SecureContext } from 'node:tls';
import type { CredentialSources, TlsSettings } from '../config/types.ts';
import { CredentialError, loadIdentity, readCredentialFile, type Identity } from './identity.ts';
import { buildSecureContext } from './secure-context.ts';
import { loadTrust, type TrustAnchors } from './trust.ts';

/** One consistent generation of credentials: identity, trust anchors and the context built from them. */
export interface Credentials {
  readonly identity: Identity | undefined;
  readonly trust: TrustAnchors;
  readonly context: SecureContext;
  /** SHA-256 over every file read, in order: equal digests mean nothing changed on disk. */
  readonly digest: string;
  readonly loadedAt: Date;
  /** Things worth a log line that do not stop the load (a certificate not valid yet). */
  readonly warnings: readonly string[];
}

/** Reads and checks a full set of credentials; throws CredentialError naming the file at fault. */
export function loadCredentials(sources: CredentialSources, settings: TlsSettings): Credentials {
  const hash = createHash('sha256');
  const read = (path: string, what: string): Buffer => {
    const data = readCredentialFile(path, what);
    hash.update(path).update('\0').update(data);
    return data;
  };
  const identity = loadIdentity(sources, read);
  const trust = loadTrust(sources.cacert, read);
  const warnings: string[] = [];
  if (identity && identity.leaf.validFromDate.getTime() > Date.now()) {
    warnings.push(`certificate is not valid until ${identity.leaf.validFromDate.toISOString()}`);
  }
  let context: SecureContext;
  try {
    context = buildSecureContext(identity, trust, settings);
  } catch (err) {
    throw new CredentialError(`building TLS context from ${sources.keystore ?? sources.cert ?? sources.cacert ?? 'system roots'}: ${(err as Error).message}`);
  }
  return { identity, trust, context, digest: hash.digest('hex'), loadedAt: new Date(), warnings };
}

/**
 * Holds the current credentials. Readers take `current` when they need it (per connection), so
 * replacing it is one assignment: new connections get the new generation, open ones keep theirs.
 */
export class CredentialStore {
  #current: Credentials;
  readonly #sources: CredentialSources;
  readonly #settings: TlsSettings;

  constructor(sources: CredentialSources, settings: TlsSettings) {
    this.#sources = sources;
    this.#settings = settings;
    this.#current = loadCredentials(sources, settings);
  }

  get current(): Credentials {
    return this.#current;
  }

  /** Loads a candidate generation; it replaces the current one only if it loaded completely. */
  reload(): Credentials {
    const next = loadCredentials(this.#sources, this.#settings);
    this.#current = next;
    return next;
  }
}
