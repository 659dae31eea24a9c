import type { ProxyUrl } from '../net/proxy-url.ts';
import type { Address, TcpAddress } from '../net/address.ts';

export type Mode = 'server' | 'client';
export type QuietCategory = 'conns' | 'conn-errs' | 'handshake-errs' | 'all';

/** Where the identity and the trust anchors come from. Paths as given; read at every reload. */
export interface CredentialSources {
  readonly keystore?: string;
  readonly cert?: string;
  readonly key?: string;
  readonly storepass?: string;
  readonly cacert?: string;
  /** --pkcs11-*: the private key stays on this token; --cert or --keystore is its certificate chain. */
  readonly pkcs11?: Pkcs11Token;
}

/** A PKCS#11 token holding the private key (spec §2.3). */
export interface Pkcs11Token {
  /** The module (.so) path. */
  readonly module: string;
  readonly tokenLabel: string;
  /** A secret: never logged, never put in a key URI. Empty: no login. */
  readonly pin: string;
}

export type SpkiHash = 'sha256' | 'sha384' | 'sha512';

/** One --allow-spki-pin / --verify-spki-pin value: a digest of a DER SubjectPublicKeyInfo (spec §2.7). */
export interface SpkiPin {
  readonly hash: SpkiHash;
  readonly digest: Buffer;
  /** The flag value as given, for messages. */
  readonly text: string;
}

/** Access rules on the peer certificate, OR-combined (spec §2.5), as the flags gave them. */
export interface AccessRules {
  readonly allowAll: boolean;
  readonly cns: readonly string[];
  readonly ous: readonly string[];
  readonly dnsNames: readonly string[];
  readonly ips: readonly string[];
  readonly uriPatterns: readonly string[];
  /** OPA policy, asked last, when no rule above admitted the peer (spec §2.8). */
  readonly policy?: PolicySource;
}

/** --allow-policy/--allow-query or --verify-policy/--verify-query. The bundle is read again at every reload. */
export interface PolicySource {
  /** A wasm bundle (.tar.gz or directory), or Rego source compiled with the `opa` CLI. */
  readonly bundle: string;
  readonly query: string;
  /** The flag that named the bundle, for messages. */
  readonly flag: '--allow-policy' | '--verify-policy';
}

/** How the server side authenticates clients. */
export type ClientAuth =
  | { readonly kind: 'none' }
  | { readonly kind: 'rules'; readonly rules: AccessRules }
  /** --allow-spki-pin: any client certificate whose key matches a pin; chain and dates not checked. */
  | { readonly kind: 'pins'; readonly pins: readonly SpkiPin[] };

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
  /** Server pin mode: the CertificateRequest names no CA, so clients send self-signed pinned certificates (spec §2.4). */
  readonly omitCaNames?: boolean;
  /** Which end of TLS the tunnel is: the server (server mode) or the client (client mode). */
  readonly role: 'server' | 'client';
  /** Server role: whether clients are asked for a certificate, and whether one is required. */
  readonly clientCertificates: 'none' | 'require';
}

/** Beyond Ghostunnel: reload when the credential files change (--auto-reload, --auto-reload-interval). */
export interface AutoReloadSettings {
  /** Watch for file-system events. */
  readonly watch: boolean;
  /** Poll interval in ms, for file systems without events (0: off). */
  readonly pollMs: number;
}

/** --status and what it serves (spec §2.12). */
export interface StatusSettings {
  /** --status as given. */
  readonly text: string;
  /** The address to bind, without its http(s):// scheme. */
  readonly address: Address;
  /** HTTPS with the tunnel's own certificate (a TCP address without scheme, or https://). */
  readonly https: boolean;
  readonly enableShutdown: boolean;
  readonly enablePprof: boolean;
}

/** Metrics names and sinks (spec §2.13). */
export interface MetricsSettings {
  /** --metrics-prefix: "<prefix>.<name>" in JSON and Graphite, the namespace in Prometheus. */
  readonly prefix: string;
  /** --metrics-interval: how often --metrics-url is posted (0: never). */
  readonly intervalMs: number;
  readonly graphite: TcpAddress | undefined;
  readonly url: string | undefined;
}

/** Client mode: how the TLS target is reached and which server is accepted (spec §2.6, §2.17). */
export interface ClientSettings {
  /** --override-server-name or the --target host: verified against the certificate, sent as SNI. */
  readonly serverName: string;
  /** The --verify-* rules, OR-combined; undefined when none is set (any server passing verification). */
  readonly verify: AccessRules | undefined;
  /** --verify-spki-pin: only the server's key is checked, against these pins (spec §2.7). */
  readonly pins?: readonly SpkiPin[];
  /** --proxy; undefined dials the target directly. */
  readonly proxy: ProxyUrl | undefined;
}

/** PROXY v2 to the backend (spec §2.14): addresses only, plus TLS details, plus the client certificate. */
export type ProxyProtocolMode = 'conn' | 'tls' | 'tls-full';

/** Process lifecycle: connection limit, logging target, upgrades (spec §2.10, §2.15, §2.22). */
/** Which data plane carries the connections (docs/data-plane.md). */
export type DataPlaneKind = 'native' | 'node';

export interface LifecycleSettings {
  /** --max-concurrent-conns: connections handled at once, from accept to close (0: no limit). */
  readonly maxConcurrentConns: number;
  /** --workers: event loops serving connections (1: the main thread alone). */
  readonly workers: number;
  /** --data-plane; undefined: native where the engine loads (Linux), node elsewhere. */
  readonly dataPlane: DataPlaneKind | undefined;
  /** --syslog: log to the local syslog (facility daemon) instead of stdout. */
  readonly syslog: boolean;
  /** --upgrade-exec: what a SIGUSR2 hand-off starts; undefined: the command we were started with. */
  readonly upgradeExec: string | undefined;
}

/** --use-workload-api: identity and trust bundle streamed from the SPIFFE Workload API (spec §2.3). */
export interface WorkloadApiSettings {
  /** --use-workload-api-addr or SPIFFE_ENDPOINT_SOCKET: "unix:///path" or "tcp://IP:PORT". */
  readonly address: string;
  /** --use-workload-api-timeout: how long start-up waits for the first SVID (0: forever). */
  readonly timeoutMs: number;
  /** False in client mode with --disable-authentication: the bundle verifies the server, no SVID is presented. */
  readonly presentIdentity: boolean;
}

/** --auto-acme-*: a certificate obtained and renewed over ACME, TLS-ALPN-01 on the listener (spec §2.3). */
export interface AcmeSettings {
  /** --auto-acme-cert: the one name the certificate is for. */
  readonly fqdn: string;
  readonly email: string;
  /** --auto-acme-testca if set, else --auto-acme-ca. */
  readonly directoryUrl: string;
  /** --auto-acme-renew-check-interval. */
  readonly renewCheckMs: number;
  /** --auto-acme-alt-tls-alpn-port: a port answering TLS-ALPN-01 validations besides --listen; undefined: none. */
  readonly altTlsAlpnPort: number | undefined;
}

/** The validated, immutable configuration of one daemon. */
export interface Config {
  readonly mode: Mode;
  readonly listen: Address;
  readonly target: Address;
  readonly credentials: CredentialSources;
  /** Server mode: who may connect. Client mode: always { kind: 'none' }. */
  readonly clientAuth: ClientAuth;
  /** Present in client mode only. */
  readonly client?: ClientSettings;
  readonly timeouts: Timeouts;
  readonly timedReloadMs: number;
  readonly autoReload: AutoReloadSettings;
  /** After a reload that changed the access rules, close open connections they no longer allow. */
  readonly reauthorizeOpenConnections: boolean;
  /** POST /_reload on the status port (--enable-reload). */
  readonly enableReload: boolean;
  readonly quiet: ReadonlySet<QuietCategory>;
  readonly tls: TlsSettings;
  readonly skipResolve: boolean;
  /** undefined without --status. */
  readonly status: StatusSettings | undefined;
  readonly metrics: MetricsSettings;
  /** Server mode --target-status: a health URL requested over a connection to the target. */
  readonly targetStatus: string | undefined;
  /** Server mode: the PROXY v2 header sent to the backend (--proxy-protocol[-mode]); undefined: none. */
  readonly proxyProtocol: ProxyProtocolMode | undefined;
  readonly lifecycle: LifecycleSettings;
  /** Identity and trust from the SPIFFE Workload API instead of files; undefined: files. */
  readonly workloadApi?: WorkloadApiSettings;
  /** Server mode: identity from ACME instead of files; undefined: files. */
  readonly acme?: AcmeSettings;
}
