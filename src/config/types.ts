import type { Address } from '../net/address.ts';

export type Mode = 'server' | 'client';
export type QuietCategory = 'conns' | 'conn-errs' | 'handshake-errs' | 'all';

/** Where the identity and the trust anchors come from. Paths as given; read at every reload. */
export interface CredentialSources {
  readonly keystore?: string;
  readonly cert?: string;
  readonly key?: string;
  readonly storepass?: string;
  readonly cacert?: string;
}

/** Access rules on the peer certificate, OR-combined (spec §2.5), as the flags gave them. */
export interface AccessRules {
  readonly allowAll: boolean;
  readonly cns: readonly string[];
  readonly ous: readonly string[];
  readonly dnsNames: readonly string[];
  readonly ips: readonly string[];
  readonly uriPatterns: readonly string[];
}

/** How the server side authenticates clients. */
export type ClientAuth = { readonly kind: 'none' } | { readonly kind: 'rules'; readonly rules: AccessRules };

export interface Timeouts {
  readonly connectMs: number;
  readonly closeMs: number;
  readonly shutdownMs: number;
  readonly maxLifetimeMs: number;
}

export interface TlsSettings {
  readonly maxVersion: 'TLSv1.2' | 'TLSv1.3';
  /** OpenSSL cipher list for TLS 1.2 (TLS 1.3 suites are not configurable, as in Go). */
  readonly ciphers: string;
}

/** The validated, immutable configuration of one daemon. */
export interface Config {
  readonly mode: Mode;
  readonly listen: Address;
  readonly target: Address;
  readonly credentials: CredentialSources;
  /** Server mode: who may connect. Client mode: always { kind: 'none' } for now. */
  readonly clientAuth: ClientAuth;
  readonly timeouts: Timeouts;
  readonly timedReloadMs: number;
  readonly quiet: ReadonlySet<QuietCategory>;
  readonly tls: TlsSettings;
  readonly skipResolve: boolean;
}
