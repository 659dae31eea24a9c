import { createHash } from 'node:crypto';
import type { SecureContext } from 'node:tls';
import type { CredentialSources, DataPlaneKind, TlsSettings } from '../config/types.ts';
import type { PlaneContext } from '../engine/engine.ts';
import { CredentialError, loadIdentity, readCredentialFile, type Identity } from './identity.ts';
import { buildContexts, newTicketKeys } from './secure-context.ts';
import { loadTrust, type TrustAnchors } from './trust.ts';

/** What the files hold, parsed and fingerprinted, before any TLS context is built from it. */
export interface CredentialMaterial {
  readonly identity: Identity | undefined;
  readonly trust: TrustAnchors;
  /** SHA-256 over every file read, in order: equal digests mean nothing changed on disk. */
  readonly digest: string;
  /** Things worth a log line that do not stop the load (a certificate not valid yet). */
  readonly warnings: readonly string[];
}

/** One consistent generation of credentials: identity, trust anchors and the contexts built from them. */
export interface Credentials extends CredentialMaterial {
  /**
   * Node.js's context: the status port, backend checks, the validating test handshake. Built on
   * first use (throws CredentialError if it cannot be), so that a tunnel without those never loads
   * node:tls.
   */
  readonly context: SecureContext;
  /** The serving data plane's context, from the same material: every tunnel connection. */
  readonly planeContext: PlaneContext;
  /** The context's session-ticket keys, fresh for every context. */
  readonly ticketKeys: Buffer;
  readonly loadedAt: Date;
}

/**
 * Credentials handed over by a certificate service instead of read from files: the SPIFFE
 * Workload API (identity and trust bundle) or ACME (identity; trust stays --cacert).
 */
export interface PushedCredentials {
  readonly identity: Identity | undefined;
  /** The service's trust anchors; undefined keeps --cacert (or the system roots). */
  readonly trust: TrustAnchors | undefined;
  /** SHA-256 of what the service sent: equal digests mean nothing changed. */
  readonly digest: string;
  /** What messages name as the source ("SPIFFE Workload API (spiffe://…)", "ACME certificate for …"). */
  readonly label: string;
}

/** Where credentials are read from and how their TLS context is built; a configuration reload may change both. */
export interface CredentialSettings {
  readonly sources: CredentialSources;
  readonly tls: TlsSettings;
}

/** Reads and parses every file the sources name; throws CredentialError naming the file at fault. */
export function readCredentialMaterial(sources: CredentialSources, pushed?: PushedCredentials): CredentialMaterial {
  const hash = createHash('sha256');
  const read = (path: string, what: string): Buffer => {
    const data = readCredentialFile(path, what);
    hash.update(path).update('\0').update(data);
    return data;
  };
  if (pushed !== undefined) hash.update(pushed.digest);
  const identity = pushed !== undefined ? pushed.identity : loadIdentity(sources, read);
  const trust = pushed?.trust ?? loadTrust(sources.cacert, read);
  const warnings: string[] = [];
  if (identity && identity.leaf.validFromDate.getTime() > Date.now()) {
    warnings.push(`certificate is not valid until ${identity.leaf.validFromDate.toISOString()}`);
  }
  return { identity, trust, digest: hash.digest('hex'), warnings };
}

function withContext(material: CredentialMaterial, sources: CredentialSources, settings: TlsSettings, plane: DataPlaneKind, pushed?: PushedCredentials): Credentials {
  const ticketKeys = newTicketKeys();
  const built = <T>(build: () => T): T => {
    try {
      return build();
    } catch (err) {
      throw new CredentialError(`building TLS context from ${pushed?.label ?? sources.keystore ?? sources.cert ?? sources.cacert ?? 'system roots'}: ${(err as Error).message}`);
    }
  };
  const contexts = built(() => buildContexts(material.identity, material.trust, settings, ticketKeys, plane));
  let context: SecureContext | undefined;
  return {
    ...material,
    planeContext: contexts.planeContext,
    get context(): SecureContext {
      context ??= built(contexts.nodeContext);
      return context;
    },
    ticketKeys,
    loadedAt: new Date(),
  };
}

/** Reads and checks a full set of credentials; throws CredentialError naming the file at fault. */
export function loadCredentials(sources: CredentialSources, settings: TlsSettings, plane: DataPlaneKind): Credentials {
  return withContext(readCredentialMaterial(sources), sources, settings, plane);
}

/**
 * Holds the current credentials. Readers take `current` when they need it (per connection), so
 * replacing it is one assignment: new connections get the new generation, open ones keep theirs.
 * A reload is three steps so that nothing half-checked is ever served: read the files, build a
 * candidate (validated by the caller), publish it.
 */
export class CredentialStore {
  #current: Credentials;
  #sources: CredentialSources;
  #settings: TlsSettings;
  #pushed: PushedCredentials | undefined;
  /** The data plane whose contexts are built beside Node's. */
  readonly #plane: DataPlaneKind;

  /** `pushed`: the first credentials of a certificate service, which then replace the identity files. */
  constructor(sources: CredentialSources, settings: TlsSettings, plane: DataPlaneKind, pushed?: PushedCredentials) {
    this.#sources = sources;
    this.#settings = settings;
    this.#plane = plane;
    this.#pushed = pushed;
    this.#current = withContext(readCredentialMaterial(sources, pushed), sources, settings, plane, pushed);
  }

  get current(): Credentials {
    return this.#current;
  }

  /** The identity file the errors should name (--keystore or --cert), or the CA bundle. */
  get label(): string {
    return this.#pushed?.label ?? this.#sources.keystore ?? this.#sources.cert ?? this.#sources.cacert ?? 'system roots';
  }

  /**
   * New credentials from the certificate service. Nothing is served from them yet: the next
   * reload reads them like files, validates them and swaps them in, or keeps the current ones.
   */
  offer(pushed: PushedCredentials): void {
    this.#pushed = pushed;
  }

  /** Reads the files again (those `settings` name, when a reload changes them); nothing is served from it yet. */
  read(settings?: CredentialSettings): CredentialMaterial {
    return readCredentialMaterial(settings?.sources ?? this.#sources, this.#pushed);
  }

  /** Builds the TLS context of a candidate; still not served. */
  build(material: CredentialMaterial, settings?: CredentialSettings): Credentials {
    return withContext(material, settings?.sources ?? this.#sources, settings?.tls ?? this.#settings, this.#plane, this.#pushed);
  }

  /** Makes a checked candidate current: the next connection gets it. `settings`: what it was read and built with. */
  publish(next: Credentials, settings?: CredentialSettings): void {
    this.#current = next;
    if (settings === undefined) return;
    this.#sources = settings.sources;
    this.#settings = settings.tls;
  }
}
