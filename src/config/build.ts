import { isIP } from 'node:net';
import { StartupError, UsageError } from '../cli/errors.ts';
import { FLAGS } from '../cli/flags.ts';
import type { FlagValue, ParsedArgs } from '../cli/parse.ts';
import { isLocalOnly, parseAddress, type Address } from '../net/address.ts';
import type { AccessRules, ClientAuth, Config, CredentialSources, QuietCategory, TlsSettings } from './types.ts';

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
  if (f.bool('enable-pprof') && !f.set('status')) throw new UsageError('--enable-pprof requires --status to be set');
  if (f.bool('enable-shutdown') && !f.set('status')) throw new UsageError('--enable-shutdown requires --status to be set');
  if (f.set('metrics-url') && !/^https?:\/\//.test(f.str('metrics-url'))) throw new UsageError('--metrics-url should start with http:// or https://');
  if (args.mode === 'server' && f.str('target-status') !== '' && !/^https?:\/\//.test(f.str('target-status'))) {
    throw new UsageError('--target-status should start with http:// or https://');
  }
  if (f.num('connect-timeout') === 0) throw new UsageError('--connect-timeout duration must not be zero');
  if (f.num('use-workload-api-timeout') < 0) {
    throw new UsageError('--use-workload-api-timeout duration must not be negative (use 0 to wait indefinitely)');
  }
  for (const name of ['listen', 'target']) {
    if (!f.set(name)) throw new UsageError(`required flag --${name} not provided`);
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
  for (const ip of rules.ips) {
    if (isIP(ip) === 0) throw new StartupError(`'${ip}' is not an IP address`);
  }
  return disabled ? { kind: 'none' } : { kind: 'rules', rules };
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

function tlsSettings(f: Flags): TlsSettings {
  const lists: string[] = [];
  for (const raw of f.str('cipher-suites').split(',')) {
    const name = raw.trim().toUpperCase();
    const group = CIPHER_GROUPS[name];
    if (group === undefined || (group.unsafe && !f.bool('allow-unsafe-cipher-suites'))) throw new StartupError(`invalid cipher suite '${raw}' selected`);
    lists.push(group.list);
  }
  const max = f.str('max-tls-version').toUpperCase();
  if (max !== '' && max !== 'TLS1.2' && max !== 'TLS1.3') throw new StartupError(`invalid max TLS version: unsupported TLS version: ${f.str('max-tls-version')}`);
  return { maxVersion: max === 'TLS1.2' ? 'TLSv1.2' : 'TLSv1.3', ciphers: lists.join(':') };
}

function quiet(f: Flags): Set<QuietCategory> {
  return new Set(f.list('quiet').filter((q): q is QuietCategory => q !== ''));
}

/** Mode validation (spec §1.7 step 5), in Ghostunnel's order. Throws StartupError. */
export function buildConfig(args: ParsedArgs): Config {
  const f = new Flags(args);
  checkIdentitySources(f, args.mode);
  if (args.mode === 'server') {
    const clientAuth = serverClientAuth(f);
    const target = serverTarget(f);
    const tls = tlsSettings(f);
    const listen = address(f, 'listen');
    return common(f, args.mode, listen, target, clientAuth, tls);
  }
  throw new StartupError('client mode is not supported yet');
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
    quiet: quiet(f),
    tls,
    skipResolve: f.bool('skip-resolve'),
  };
}
