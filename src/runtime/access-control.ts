import { compileAccessRules, type AccessPolicy } from '../auth/access-policy.ts';
import { anyOf } from '../auth/any-of.ts';
import type { OpaPolicy } from '../auth/opa/opa-policy.ts';
import { spkiPinPolicy } from '../auth/spki-pin.ts';
import { svidPolicy } from '../auth/svid-peer.ts';
import { StartupError } from '../cli/errors.ts';
import type { AccessRules, Config, PolicySource, SpkiPin } from '../config/types.ts';
import type { Log } from '../log/logger.ts';

/** Server mode: the --allow-* rules on clients. Client mode: the --verify-* rules on the server. */
export function accessRules(config: Config): AccessRules | undefined {
  return config.client !== undefined ? config.client.verify : config.clientAuth.kind === 'rules' ? config.clientAuth.rules : undefined;
}

/** --allow-spki-pin / --verify-spki-pin: exclusive with every other rule (spec §2.7). */
function spkiPins(config: Config): readonly SpkiPin[] | undefined {
  return config.client !== undefined ? config.client.pins : config.clientAuth.kind === 'pins' ? config.clientAuth.pins : undefined;
}

/** The flag rules or the pins, compiled; throws StartupError for a bad URI pattern. */
export function flagPolicy(config: Config): AccessPolicy | undefined {
  const pins = spkiPins(config);
  if (pins !== undefined) return spkiPinPolicy(pins);
  const rules = accessRules(config);
  if (rules === undefined) return undefined;
  try {
    return compileAccessRules(rules);
  } catch (err) {
    throw new StartupError(`invalid access control pattern: ${(err as Error).message}`);
  }
}

/** The --allow-policy / --verify-policy source, if any. */
export function policySource(config: Config): PolicySource | undefined {
  return accessRules(config)?.policy;
}

/** --allow-policy / --verify-policy, loaded after the credentials as in Ghostunnel (spec §1.7 step 6). */
export async function loadOpaPolicy(source: PolicySource, config: Config, log: Log): Promise<OpaPolicy> {
  try {
    // Loaded only when a policy is configured: the wasm runtime and tar reader are large.
    const { OpaPolicy } = await import('../auth/opa/opa-policy.ts');
    return await OpaPolicy.load(source, { timeoutMs: config.timeouts.connectMs, log });
  } catch (err) {
    throw new StartupError(`Invalid rego policy or query: ${(err as Error).message}`);
  }
}

/**
 * Everything that decides on a peer, combined: the flag rules (or pins), then OPA (spec §2.5), and
 * with --use-workload-api the X.509-SVID check in front. Server mode without rules
 * (--disable-authentication) requests no client certificate at all: undefined.
 */
export function combinedPolicy(config: Config, flags: AccessPolicy | undefined, opa: AccessPolicy | undefined): AccessPolicy | undefined {
  const policy = opa && flags ? anyOf([flags, opa]) : (flags ?? opa);
  if (config.workloadApi === undefined || (config.client === undefined && policy === undefined)) return policy;
  return svidPolicy(policy);
}
