import type { AccessPolicy } from './access-policy.ts';
import type { PeerIdentity } from './peer.ts';

/**
 * OR-combines access policies in order (spec §2.5: the flag rules, then OPA). A later policy runs
 * only when the earlier ones said no, so an OPA evaluation is spent only on peers the flags did
 * not admit; answers stay synchronous until a policy returns a promise.
 */
export function anyOf(policies: readonly AccessPolicy[]): AccessPolicy {
  if (policies.length === 1) return policies[0]!;
  const from = (start: number, peer: PeerIdentity): boolean | Promise<boolean> => {
    for (let i = start; i < policies.length; i++) {
      const verdict = policies[i]!.allows(peer);
      if (verdict === true) return true;
      if (verdict !== false) return verdict.then((ok) => ok || from(i + 1, peer));
    }
    return false;
  };
  return { allows: (peer) => from(0, peer) };
}
