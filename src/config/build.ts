import { statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { StartupError, UsageError } from '../cli/errors.ts';
import { FLAGS } from '../cli/flags.ts';
import type { FlagValue, ParsedArgs } from '../cli/parse.ts';
import { isLocalOnly, parseAddress, type Address, type TcpAddress } from '../net/address.ts';
import { isIP } from '../net/ip.ts';
import { isUrl, parseProxyUrl, type ProxyUrl } from '../net/proxy-url.ts';
import { system as thisSystem, type System } from '../sys/platform.ts';
import { parseGraphiteAddress, parseStatusAddress } from './observability.ts';
import { checkPlatform } from './platform-support.ts';
import { parseSpkiPins } from './spki-pins.ts';
import type { AccessRules, AcmeSettings, DataPlaneKind, WorkloadApiSettings, ClientAuth, ClientSettings, Config, CredentialSources, MetricsSettings, PolicySource, ProxyProtocolMode, QuietCategory, SpkiPin, StatusSettings, TlsSettings } from './types.ts';

const CIPHER_GROUPS: Record<string, { list: string; unsafe: boolean }> = {
  AES: {
    list: 'ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384',
    unsafe: false,
  },
  CHACHA: { list: 'ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305', unsafe: false },
  'UNSAFE-AZURE': { list: 'ECDHE-RSA-AES128-SHA256', unsafe: true },
};

/** Typed access to parsed flag values. */
class Flags {
  private readonly args: ParsedArgs;
  constructor(args: ParsedArgs) {
    this.args = args;
  }
  str(name: string): string {
    return this.get(name) as string;
  }
  bool(name: string): boolean {
    return this.get(name) as boolean;
  }
  num(name: string): number {
    return this.get(name) as number;
  }
  list(name: string): string[] {
    return this.get(name) as string[];
  }
  set(name: string): boolean {
    return this.args.explicit.has(name);
  }
  private get(name: string): FlagValue {
    const v = this.args.values.get(name);
    if (v === undefined) throw new Error(`internal: flag --${name} is not defined for ${this.args.mode} mode`);
    return v;
  }
}

/**
 * Checks that run while parsing in Ghostunnel (spec §1.7 step 1) and refuses flags that are
 * recognised but not built yet. Errors are usage errors: "<prog>: error: <message>, try --help".
 */
export function checkParseRules(args: ParsedArgs): void {
  for (const spec of FLAGS) {
    if (!args.explicit.has(spec.name) || spec.status === 'implemented') continue;
    if (spec.status === 'pending') throw new UsageError(`--${spec.name} is not supported yet`);
    throw new UsageError(`--${spec.name} is not supported on this platform`);
  }
  const f = new Flags(args);
  if (f.str('pkcs11-module') !== '') usage(() => checkExistingFile(f.str('pkcs11-module')));
  if (f.bool('enable-pprof') && !f.set('status')) throw new UsageError('--enable-pprof requires --status to be set');
  if (f.bool('enable-shutdown') && !f.set('status')) throw new UsageError('--enable-shutdown requires --status to be set');
  if (f.set('status')) usage(() => parseStatusAddress(f.str('status')));
  if (f.set('metrics-graphite')) usage(() => parseGraphiteAddress(f.str('metrics-graphite')));
  if (f.bool('enable-reload') && !f.set('status')) throw new UsageError('--enable-reload requires --status to be set');
  if (f.num('auto-reload-interval') < 0) throw new UsageError('--auto-reload-interval duration must not be negative (use 0 to turn polling off)');
  if (f.set('metrics-url') && !/^https?:\/\//.test(f.str('metrics-url'))) throw new UsageError('--metrics-url should start with http:// or https://');
  if (args.mode === 'server' && f.str('target-status') !== '' && !/^https?:\/\//.test(f.str('target-status'))) {
    throw new UsageError('--target-status should start with http:// or https://');
  }
  if (f.num('connect-timeout') === 0) throw new UsageError('--connect-timeout duration must not be zero');
  if (f.num('use-workload-api-timeout') < 0) {
    throw new UsageError('--use-workload-api-timeout duration must not be negative (use 0 to wait indefinitely)');
  }
  if (args.mode === 'client') checkClientValues(f);
  for (const name of ['listen', 'target']) {
    if (!f.set(name)) throw new UsageError(`required flag --${name} not provided`);
  }
}

/** Client flag values that kingpin parses as URL and IP types, so they fail at parse time. */
function checkClientValues(f: Flags): void {
  if (f.set('proxy') && !isUrl(f.str('proxy'))) {
    throw new UsageError(`invalid URL for --proxy: "${f.str('proxy')}" (expected http://HOST:PORT or socks5://[USER:PASS@]HOST:PORT)`);
  }
  for (const ip of f.list('verify-ip')) {
    if (isIP(ip) === 0) throw new UsageError(`'${ip}' is not an IP address`);
  }
}

/** kingpin's ExistingFile check, with its wording. */
function checkExistingFile(path: string): void {
  let stats;
  try {
    stats = statSync(path);
  } catch {
    throw new Error(`path '${path}' does not exist`);
  }
  if (stats.isDirectory()) throw new Error(`'${path}' is a directory`);
}

function usage(check: () => unknown): void {
  try {
    check();
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

function address(f: Flags, name: string): Address {
  try {
    return parseAddress(f.str(name));
  } catch (err) {
    throw new StartupError(`invalid --${name} address: ${(err as Error).message}`);
  }
}

function credentialSources(f: Flags): CredentialSources {
  const pick = (name: string): string | undefined => (f.str(name) === '' ? undefined : f.str(name));
  return {
    keystore: pick('keystore'),
    cert: pick('cert'),
    key: pick('key'),
    storepass: pick('storepass'),
    cacert: pick('cacert'),
    pkcs11: f.str('pkcs11-module') === '' ? undefined : { module: f.str('pkcs11-module'), tokenLabel: f.str('pkcs11-token-label'), pin: f.str('pkcs11-pin') },
  };
}

function checkIdentitySources(f: Flags, mode: Config['mode']): void {
  const cert = f.str('cert') !== '';
  const key = f.str('key') !== '';
  const pkcs11 = f.str('pkcs11-module') !== '';
  const workload = f.bool('use-workload-api') || f.str('use-workload-api-addr') !== '';
  let count = 0;
  if (f.str('keystore') !== '') count++;
  if (f.str('keychain-identity') !== '' || f.str('keychain-issuer') !== '') count++;
  if (cert && (key || pkcs11)) count++;
  if (mode === 'server') {
    if (workload) count++;
    if (f.str('auto-acme-cert') !== '') count++;
    if (count === 0) throw new StartupError('at least one of --keystore, --cert/--key, --auto-acme-cert, or --keychain-identity/issuer (if supported) flags is required');
    if (count > 1) throw new StartupError('--keystore, --cert/--key, --auto-acme-cert, and --keychain-identity/issuer flags are mutually exclusive');
  } else {
    if (workload) count++;
    else if (f.bool('disable-authentication')) count++;
    if (count === 0) {
      throw new StartupError('at least one of --keystore, --cert/--key, --keychain-identity/issuer (if supported), --use-workload-api or --disable-authentication flags is required');
    }
    if (count > 1) {
      throw new StartupError('--keystore, --cert/--key, --keychain-identity/issuer, --use-workload-api and --disable-authentication flags are mutually exclusive');
    }
  }
  if (cert !== key && !pkcs11) throw new StartupError('--cert/--key must be set together, unless using PKCS11 for private key');
  if (pkcs11 && key) throw new StartupError('--key and --pkcs11-module are mutually exclusive: with PKCS#11 the private key stays on the token');
  if (pkcs11 && f.str('pkcs11-token-label') === '') throw new StartupError('--pkcs11-module needs --pkcs11-token-label (or PKCS11_TOKEN_LABEL) to name the token');
}

function serverClientAuth(f: Flags): ClientAuth {
  const rules: AccessRules = {
    allowAll: f.bool('allow-all'),
    cns: f.list('allow-cn'),
    ous: f.list('allow-ou'),
    dnsNames: f.list('allow-dns'),
    ips: f.list('allow-ip'),
    uriPatterns: f.list('allow-uri'),
  };
  const fieldRules = rules.cns.length + rules.ous.length + rules.dnsNames.length + rules.ips.length + rules.uriPatterns.length > 0;
  const pins = f.list('allow-spki-pin').length > 0;
  const opa = f.str('allow-policy') !== '' || f.str('allow-query') !== '';
  const disabled = f.bool('disable-authentication');
  if (!rules.allowAll && !fieldRules && !pins && !opa && !disabled) {
    throw new StartupError('at least one access control flag (--allow-{all,cn,ou,dns,uri,spki-pin}, or OPA flags, or --disable-authentication) is required');
  }
  if (rules.allowAll && (fieldRules || pins || opa || disabled)) throw new StartupError('--allow-all is mutually exclusive with other access control flags');
  if (disabled && (fieldRules || pins || opa)) throw new StartupError('--disable-authentication is mutually exclusive with other access control flags');
  if (pins && (fieldRules || opa)) throw new StartupError('--allow-spki-pin is mutually exclusive with other access control flags');
  if (pins && usesWorkloadApi(f)) throw new StartupError('--allow-spki-pin is mutually exclusive with --use-workload-api');
  for (const ip of rules.ips) {
    if (isIP(ip) === 0) throw new StartupError(`'${ip}' is not an IP address`);
  }
  if (pins) return { kind: 'pins', pins: spkiPins(f, 'allow-spki-pin') };
  return disabled ? { kind: 'none' } : { kind: 'rules', rules };
}

/** --allow-policy/--allow-query (--verify-… in client mode): both or neither (spec §1.7). */
function policyPair(f: Flags, side: 'allow' | 'verify'): PolicySource | undefined {
  const bundle = f.str(`${side}-policy`);
  const query = f.str(`${side}-query`);
  if ((bundle === '') !== (query === '')) throw new StartupError(`--${side}-policy and --${side}-query have to be used together`);
  return bundle === '' ? undefined : { bundle, query, flag: `--${side}-policy` };
}

function usesWorkloadApi(f: Flags): boolean {
  return f.bool('use-workload-api') || f.str('use-workload-api-addr') !== '';
}

function spkiPins(f: Flags, name: string): SpkiPin[] {
  try {
    return parseSpkiPins(`--${name}`, f.list(name));
  } catch (err) {
    throw new StartupError((err as Error).message);
  }
}

function serverTarget(f: Flags): Address {
  const text = f.str('target');
  const target = address(f, 'target');
  if (target.kind === 'systemd' || target.kind === 'launchd') {
    throw new StartupError(`invalid --target network "${target.kind}": only tcp and unix targets are supported (systemd:/launchd: cannot be dialed)`);
  }
  if (!isLocalOnly(text) && !f.bool('unsafe-target')) throw new StartupError('--target must be unix:PATH or localhost:PORT (unless --unsafe-target is set)');
  return target;
}

function tlsSettings(f: Flags, role: TlsSettings['role'], clientAuth: ClientAuth): TlsSettings {
  const lists: string[] = [];
  for (const raw of f.str('cipher-suites').split(',')) {
    const name = raw.trim().toUpperCase();
    const group = CIPHER_GROUPS[name];
    if (group === undefined || (group.unsafe && !f.bool('allow-unsafe-cipher-suites'))) throw new StartupError(`invalid cipher suite '${raw}' selected`);
    lists.push(group.list);
  }
  const max = f.str('max-tls-version').toUpperCase();
  if (max !== '' && max !== 'TLS1.2' && max !== 'TLS1.3') throw new StartupError(`invalid max TLS version: unsupported TLS version: ${f.str('max-tls-version')}`);
  // --disable-authentication asks for no certificate; pins require one that need not chain (spec §2.7).
  const clientCertificates = role === 'client' || clientAuth.kind === 'none' ? 'none' : 'require';
  return { maxVersion: max === 'TLS1.2' ? 'TLSv1.2' : 'TLSv1.3', ciphers: lists.join(':'), omitCaNames: clientAuth.kind === 'pins', role, clientCertificates };
}

function quiet(f: Flags): Set<QuietCategory> {
  return new Set(f.list('quiet').filter((q): q is QuietCategory => q !== ''));
}

/**
 * The logging settings alone, read before mode validation so that its errors reach the log as
 * well as stderr (the logger comes up at spec §1.7 step 2, validation at step 5).
 */
export function logSettings(args: ParsedArgs): { quiet: Set<QuietCategory>; syslog: boolean } {
  const f = new Flags(args);
  return { quiet: quiet(f), syslog: f.bool('syslog') };
}

/** Mode validation (spec §1.7 step 5), in Ghostunnel's order. Throws StartupError. */
/** The validated configuration, refused where this platform (or `system`) cannot run it. */
export function buildConfig(args: ParsedArgs, system: System = thisSystem): Config {
  const config = configFrom(args);
  checkPlatform(config, system);
  return config;
}

function configFrom(args: ParsedArgs): Config {
  const f = new Flags(args);
  checkIdentitySources(f, args.mode);
  if (args.mode === 'server') {
    const clientAuth = serverClientAuth(f);
    const target = serverTarget(f);
    const acme = acmeSettings(f);
    const policy = policyPair(f, 'allow');
    const tls = tlsSettings(f, 'server', clientAuth);
    const listen = address(f, 'listen');
    return { ...common(f, args.mode, listen, target, policy && clientAuth.kind === 'rules' ? { kind: 'rules', rules: { ...clientAuth.rules, policy } } : clientAuth, tls), acme };
  }
  const listen = clientListen(f);
  const target = clientTarget(f);
  const policy = policyPair(f, 'verify');
  const pins = clientSpkiPins(f, policy !== undefined);
  const tls = tlsSettings(f, 'client', { kind: 'none' });
  const client = { ...clientSettings(f, target, policy), pins };
  return { ...common(f, args.mode, listen, target, { kind: 'none' }, tls), client, skipResolve: f.bool('skip-resolve') || client.proxy !== undefined };
}

/** --verify-spki-pin replaces every other server check, so it combines with none (spec §2.7). */
function clientSpkiPins(f: Flags, opa: boolean): SpkiPin[] | undefined {
  if (f.list('verify-spki-pin').length === 0) return undefined;
  const others = ['verify-cn', 'verify-ou', 'verify-dns', 'verify-ip', 'verify-uri'].some((name) => f.list(name).length > 0);
  if (others || opa) throw new StartupError('--verify-spki-pin is mutually exclusive with other verification flags');
  if (usesWorkloadApi(f)) throw new StartupError('--verify-spki-pin is mutually exclusive with --use-workload-api');
  return spkiPins(f, 'verify-spki-pin');
}

function clientListen(f: Flags): Address {
  if (!isLocalOnly(f.str('listen')) && !f.bool('unsafe-listen')) {
    throw new StartupError('--listen must be unix:PATH, localhost:PORT, systemd:NAME or launchd:NAME (unless --unsafe-listen is set)');
  }
  return address(f, 'listen');
}

function clientTarget(f: Flags): TcpAddress {
  const target = address(f, 'target');
  if (target.kind !== 'tcp') throw new StartupError(`invalid --target network "${target.kind}": client mode requires a HOST:PORT TCP target`);
  return target;
}

/** Server name, --verify-* rules and proxy; the proxy scheme is checked last, as Ghostunnel does when it builds the dialer. */
function clientSettings(f: Flags, target: TcpAddress, policy: PolicySource | undefined): ClientSettings {
  const rules: AccessRules = {
    allowAll: false,
    cns: f.list('verify-cn'),
    ous: f.list('verify-ou'),
    dnsNames: f.list('verify-dns'),
    ips: f.list('verify-ip'),
    uriPatterns: f.list('verify-uri'),
  };
  const anyRule = rules.cns.length + rules.ous.length + rules.dnsNames.length + rules.ips.length + rules.uriPatterns.length > 0;
  let proxy: ProxyUrl | undefined;
  if (f.set('proxy')) {
    try {
      proxy = parseProxyUrl(f.str('proxy'));
    } catch (err) {
      throw new StartupError((err as Error).message);
    }
  }
  return { serverName: f.str('override-server-name') || target.host, verify: anyRule || policy ? { ...rules, policy } : undefined, proxy };
}

function common(f: Flags, mode: Config['mode'], listen: Address, target: Address, clientAuth: ClientAuth, tls: TlsSettings): Config {
  return {
    mode,
    listen,
    target,
    credentials: credentialSources(f),
    clientAuth,
    timeouts: {
      connectMs: f.num('connect-timeout'),
      closeMs: f.num('close-timeout'),
      shutdownMs: f.num('shutdown-timeout'),
      maxLifetimeMs: f.num('max-conn-lifetime'),
    },
    timedReloadMs: f.num('timed-reload'),
    autoReload: { watch: f.bool('auto-reload'), pollMs: f.num('auto-reload-interval') },
    reauthorizeOpenConnections: f.bool('reauthorize-open-connections'),
    enableReload: f.bool('enable-reload'),
    quiet: quiet(f),
    tls,
    skipResolve: f.bool('skip-resolve'),
    status: statusSettings(f),
    metrics: metricsSettings(f),
    targetStatus: mode === 'server' && f.str('target-status') !== '' ? f.str('target-status') : undefined,
    proxyProtocol: mode === 'server' ? proxyProtocolMode(f) : undefined,
    lifecycle: {
      maxConcurrentConns: f.num('max-concurrent-conns'),
      workers: workerCount(f, mode),
      dataPlane: f.str('data-plane') === '' ? undefined : (f.str('data-plane') as DataPlaneKind),
      syslog: f.bool('syslog'),
      upgradeExec: f.str('upgrade-exec') === '' ? undefined : f.str('upgrade-exec'),
    },
    workloadApi: workloadApiSettings(f, mode),
  };
}

/** --workers N|auto: how many event loops serve connections. */
function workerCount(f: Flags, mode: Config['mode']): number {
  const value = f.str('workers');
  const count = value === 'auto' ? availableParallelism() : /^[1-9][0-9]{0,2}$/.test(value) ? Number(value) : NaN;
  if (!(count >= 1 && count <= 256)) throw new StartupError(`invalid --workers "${value}": expected a number of threads from 1 to 256, or auto (one per CPU)`);
  if (count > 1 && f.str('pkcs11-module') !== '') throw new StartupError('--workers above 1 cannot be used with --pkcs11-module: the token session lives on one thread; drop --workers');
  if (count > 1 && mode === 'server' && f.str('auto-acme-cert') !== '') throw new StartupError('--workers above 1 cannot be used with --auto-acme-cert: ACME challenges are answered on the main thread only; drop --workers');
  return count;
}

const LETS_ENCRYPT = 'https://acme-v02.api.letsencrypt.org/directory';

/** --auto-acme-*: email and ToS are required with --auto-acme-cert (spec §1.4). */
function acmeSettings(f: Flags): AcmeSettings | undefined {
  const fqdn = f.str('auto-acme-cert');
  if (fqdn === '') return undefined;
  if (f.str('auto-acme-email') === '') throw new StartupError('--auto-acme-cert was specified but no email address was provided with --auto-acme-email');
  if (!f.bool('auto-acme-agree-to-tos')) throw new StartupError('--auto-acme-agree-to-tos was not specified and is required if --auto-acme-cert is specified');
  const directoryUrl = f.str('auto-acme-testca') || f.str('auto-acme-ca') || LETS_ENCRYPT;
  if (!/^https?:\/\//.test(directoryUrl)) throw new StartupError(`invalid ACME directory URL "${directoryUrl}": it should start with https:// (--auto-acme-ca, --auto-acme-testca)`);
  const altPort = f.num('auto-acme-alt-tls-alpn-port');
  if (altPort > 65535) throw new StartupError(`invalid --auto-acme-alt-tls-alpn-port ${altPort}: a TCP port is 1 to 65535 (0 or unset: challenges on --listen only)`);
  return { fqdn, email: f.str('auto-acme-email'), directoryUrl, renewCheckMs: f.num('auto-acme-renew-check-interval'), altTlsAlpnPort: altPort === 0 ? undefined : altPort };
}

/** --use-workload-api[-addr]: the address forms the SPIFFE libraries accept, "unix:///path" and "tcp://IP:PORT". */
function workloadApiSettings(f: Flags, mode: Config['mode']): WorkloadApiSettings | undefined {
  if (!usesWorkloadApi(f)) return undefined;
  const address = f.str('use-workload-api-addr');
  if (address === '') throw new StartupError('--use-workload-api needs the Workload API address: set --use-workload-api-addr or SPIFFE_ENDPOINT_SOCKET (e.g. unix:///run/spire/sockets/agent.sock)');
  const unix = /^unix:(\/\/)?(\/.+)$/.exec(address);
  const tcp = /^tcp:\/\/([^/]+):(\d+)$/.exec(address);
  if (!unix && !(tcp && isIP(tcp[1]!.replace(/^\[|\]$/g, '')) !== 0)) {
    throw new StartupError(`invalid --use-workload-api-addr "${address}": expected unix:///PATH (an absolute socket path) or tcp://IP:PORT`);
  }
  return { address, timeoutMs: f.num('use-workload-api-timeout'), presentIdentity: !(mode === 'client' && f.bool('disable-authentication')) };
}

/** --proxy-protocol is mode conn; the two flags are exclusive. */
function proxyProtocolMode(f: Flags): ProxyProtocolMode | undefined {
  const mode = f.str('proxy-protocol-mode');
  if (f.bool('proxy-protocol') && mode !== '') throw new StartupError('--proxy-protocol and --proxy-protocol-mode are mutually exclusive');
  if (f.bool('proxy-protocol')) return 'conn';
  return mode === '' ? undefined : (mode as ProxyProtocolMode);
}

function statusSettings(f: Flags): StatusSettings | undefined {
  if (!f.set('status')) return undefined;
  const { address, https } = parseStatusAddress(f.str('status'));
  return { text: f.str('status'), address, https, enableShutdown: f.bool('enable-shutdown'), enablePprof: f.bool('enable-pprof') };
}

function metricsSettings(f: Flags): MetricsSettings {
  return {
    prefix: f.str('metrics-prefix'),
    intervalMs: f.num('metrics-interval'),
    graphite: f.set('metrics-graphite') ? parseGraphiteAddress(f.str('metrics-graphite')) : undefined,
    url: f.set('metrics-url') ? f.str('metrics-url') : undefined,
  };
}
