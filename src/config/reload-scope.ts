import { FLAGS } from '../cli/flags.ts';
import type { FlagValue, ParsedArgs } from '../cli/parse.ts';

/**
 * How a changed value in the --config file takes effect at a reload.
 * - hot: new connections use it (open ones keep what they started with).
 * - context: as hot, and the TLS context is rebuilt even when the credential files did not change,
 *   so its fresh session-ticket keys keep a resumed session from skipping the new rules.
 * - restart: cannot change in a running process (a bound socket, a started service); the change is
 *   refused with a log line, everything else applies, and /_status reports a restart pending.
 */
export type ReloadScope = 'hot' | 'context' | 'restart';

const HOT = 'hot';
const CONTEXT = 'context';
const RESTART = 'restart';

/** Every flag, by long name. A test keeps it complete. */
export const RELOAD_SCOPE: Readonly<Record<string, ReloadScope>> = {
  // Which configuration file, and how mode-wide things work: fixed for the life of the process.
  config: RESTART,
  listen: RESTART,
  status: RESTART,
  'enable-pprof': RESTART,
  'enable-shutdown': RESTART,
  'enable-reload': RESTART,
  workers: RESTART,
  'data-plane': RESTART,
  syslog: RESTART,
  eventlog: RESTART,
  // Certificate services and hardware tokens are set up once.
  // The sandbox is set up when the process starts (docs/sandbox.md).
  'disable-landlock': RESTART,
  'use-workload-api': RESTART,
  'use-workload-api-addr': RESTART,
  'use-workload-api-timeout': RESTART,
  'keychain-identity': RESTART,
  'keychain-issuer': RESTART,
  'keychain-require-token': RESTART,
  'pkcs11-module': RESTART,
  'pkcs11-token-label': RESTART,
  'pkcs11-pin': RESTART,
  'auto-acme-cert': RESTART,
  'auto-acme-email': RESTART,
  'auto-acme-agree-to-tos': RESTART,
  'auto-acme-ca': RESTART,
  'auto-acme-testca': RESTART,
  'auto-acme-renew-check-interval': RESTART,
  'auto-acme-alt-tls-alpn-port': RESTART,
  // Credentials and TLS parameters: a new context.
  keystore: CONTEXT,
  cert: CONTEXT,
  key: CONTEXT,
  storepass: CONTEXT,
  cacert: CONTEXT,
  'cipher-suites': CONTEXT,
  'allow-unsafe-cipher-suites': CONTEXT,
  'max-tls-version': CONTEXT,
  // Access rules: a new context too.
  'disable-authentication': CONTEXT,
  'allow-all': CONTEXT,
  'allow-cn': CONTEXT,
  'allow-ou': CONTEXT,
  'allow-dns': CONTEXT,
  'allow-ip': CONTEXT,
  'allow-uri': CONTEXT,
  'allow-spki-pin': CONTEXT,
  'allow-policy': CONTEXT,
  'allow-query': CONTEXT,
  'override-server-name': CONTEXT,
  'verify-cn': CONTEXT,
  'verify-ou': CONTEXT,
  'verify-dns': CONTEXT,
  'verify-ip': CONTEXT,
  'verify-uri': CONTEXT,
  'verify-spki-pin': CONTEXT,
  'verify-policy': CONTEXT,
  'verify-query': CONTEXT,
  // Read per connection, per reload or per event.
  target: HOT,
  'unsafe-target': HOT,
  'unsafe-listen': HOT,
  'skip-resolve': HOT,
  'target-status': HOT,
  'proxy-protocol': HOT,
  'proxy-protocol-mode': HOT,
  proxy: HOT,
  'connect-timeout': HOT,
  'close-timeout': HOT,
  'max-conn-lifetime': HOT,
  'max-concurrent-conns': HOT,
  'shutdown-timeout': HOT,
  'timed-reload': HOT,
  'auto-reload': HOT,
  'auto-reload-interval': HOT,
  quiet: HOT,
  'metrics-graphite': HOT,
  'metrics-url': HOT,
  'metrics-prefix': HOT,
  'metrics-interval': HOT,
  'upgrade-exec': HOT,
  'reauthorize-open-connections': HOT,
  'use-landlock': HOT,
};

/** The flags that decide who may connect: a change re-authorizes open connections (--reauthorize-open-connections). */
export const ACCESS_RULE_FLAGS: ReadonlySet<string> = new Set([
  'disable-authentication',
  ...['all', 'cn', 'ou', 'dns', 'ip', 'uri', 'spki-pin', 'policy', 'query'].map((rule) => `allow-${rule}`),
  'override-server-name',
  ...['cn', 'ou', 'dns', 'ip', 'uri', 'spki-pin', 'policy', 'query'].map((rule) => `verify-${rule}`),
]);

export function reloadScope(name: string): ReloadScope {
  const scope = RELOAD_SCOPE[name];
  if (scope === undefined) throw new Error(`internal: --${name} has no reload scope`);
  return scope;
}

function same(a: FlagValue | undefined, b: FlagValue | undefined): boolean {
  return Array.isArray(a) && Array.isArray(b) ? a.length === b.length && a.every((v, i) => v === b[i]) : a === b;
}

/** The flags whose value differs, in flag-table order. */
export function changedFlags(before: ParsedArgs, after: ParsedArgs): string[] {
  return FLAGS.filter((f) => (before.values.has(f.name) || after.values.has(f.name)) && !same(before.values.get(f.name), after.values.get(f.name))).map((f) => f.name);
}

/**
 * `next` with every restart-scoped flag put back to its value in `running`: what a reload can
 * apply without a restart. Both must be of the same mode.
 */
export function withoutRestartChanges(next: ParsedArgs, running: ParsedArgs): ParsedArgs {
  const values = new Map(next.values);
  const explicit = new Set(next.explicit);
  for (const [name, value] of running.values) {
    if (reloadScope(name) !== RESTART) continue;
    values.set(name, value);
    if (running.explicit.has(name)) explicit.add(name);
    else explicit.delete(name);
  }
  return { mode: next.mode, values, explicit };
}
