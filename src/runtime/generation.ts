import type { AccessPolicy } from '../auth/access-policy.ts';
import type { OpaPolicy } from '../auth/opa/opa-policy.ts';
import { StartupError } from '../cli/errors.ts';
import type { ParsedArgs } from '../cli/parse.ts';
import type { Config, PolicySource } from '../config/types.ts';
import type { Log } from '../log/logger.ts';
import { isIP } from '../net/ip.ts';
import { combinedPolicy, flagPolicy, loadOpaPolicy, policySource } from './access-control.ts';

/** Everything built from one configuration that a reload replaces at once. */
export interface Generation {
  readonly config: Config;
  /** The flag values it was built from (what a --config reload compares with, and what workers build theirs from). */
  readonly args: ParsedArgs;
  /** Every rule on the peer, combined (flags or pins, OPA, SVID); undefined: no client certificate asked for. */
  readonly policy: AccessPolicy | undefined;
  /** The OPA policy inside `policy`, re-read at every reload. */
  readonly opa: OpaPolicy | undefined;
}

/** Without --skip-resolve, the --target name must resolve at start (and at a --config reload), in Go's words when it does not. */
export async function checkTargetResolves(config: Config): Promise<void> {
  if (config.skipResolve || config.target.kind !== 'tcp') return;
  const { host, text } = config.target;
  // An address resolves to itself: no need for Node's resolver module.
  if (isIP(host) !== 0) return;
  try {
    await process.getBuiltinModule('node:dns/promises').lookup(host);
  } catch (err) {
    const { code, message } = err as NodeJS.ErrnoException;
    const reason = code === 'ENOTFOUND' || code === 'ENODATA' ? 'no such host' : message;
    throw new StartupError(`invalid target address: lookup ${host}: ${reason} (--target ${text}; use --skip-resolve if it resolves only later)`);
  }
}

/** The generation a daemon (or a worker) starts with; `flags`: flagPolicy(config), which start-up checks before the credentials. */
export async function firstGeneration(config: Config, args: ParsedArgs, flags: AccessPolicy | undefined, log: Log): Promise<Generation> {
  const source = policySource(config);
  const opa = source === undefined ? undefined : await loadOpaPolicy(source, config, log);
  return { config, args, policy: combinedPolicy(config, flags, opa), opa };
}

function sameSource(a: PolicySource | undefined, b: PolicySource | undefined): boolean {
  return a !== undefined && b !== undefined && a.bundle === b.bundle && a.query === b.query;
}

/**
 * The generation for a reloaded configuration: the rules compiled again, the OPA policy kept when
 * its bundle and query are the same (it follows its bundle's content itself), loaded otherwise.
 * Throws StartupError; nothing of `previous` is touched.
 */
export async function nextGeneration(config: Config, args: ParsedArgs, previous: Generation, log: Log): Promise<Generation> {
  const flags = flagPolicy(config);
  const source = policySource(config);
  const keep = sameSource(source, previous.opa === undefined ? undefined : policySource(previous.config));
  const opa = source === undefined ? undefined : keep ? previous.opa : await loadOpaPolicy(source, config, log);
  return { config, args, policy: combinedPolicy(config, flags, opa), opa };
}
