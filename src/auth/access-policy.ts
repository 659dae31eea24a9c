import { isIP } from '../net/ip.ts';
import type { AccessRules } from '../config/types.ts';
import type { PeerIdentity } from './peer.ts';
import { compileUriPattern, type UriPattern } from './uri-pattern.ts';

/** Decides whether a verified peer may connect. One implementation for server and client mode. */
export interface AccessPolicy {
  /** true admits. A policy that cannot answer at once (OPA, off the event loop) returns a promise. */
  allows(peer: PeerIdentity): boolean | Promise<boolean>;
}

/** Normalises an IP address so that "::1" and "0:0:0:0:0:0:0:1", or "::ffff:10.0.0.1" and "10.0.0.1", compare equal. */
function canonicalIp(text: string): string {
  if (isIP(text) !== 6) return text;
  const [head, tail = ''] = text.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  if (right.length && right[right.length - 1]!.includes('.')) {
    const v4 = right.pop()!.split('.').map(Number);
    right.push(((v4[0]! << 8) | v4[1]!).toString(16), ((v4[2]! << 8) | v4[3]!).toString(16));
  }
  const groups = (text.includes('::') ? [...left, ...Array(8 - left.length - right.length).fill('0'), ...right] : left).map((g) => parseInt(g, 16));
  // Go's net.IP.Equal takes an IPv4-mapped IPv6 address (::ffff:a.b.c.d) as that IPv4 address.
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    const [hi, lo] = [groups[6]!, groups[7]!];
    return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  }
  return groups.map((g) => g.toString(16)).join(':');
}

/**
 * Compiles the flag rules; throws with the wildcard error message for a bad --allow-uri or
 * --verify-uri pattern. Checks run in Ghostunnel's order, first hit wins (OR semantics).
 */
export function compileAccessRules(rules: AccessRules): AccessPolicy {
  if (rules.allowAll) return { allows: () => true };
  const cns = new Set(rules.cns);
  const ous = new Set(rules.ous);
  const dns = new Set(rules.dnsNames);
  const ips = new Set(rules.ips.map(canonicalIp));
  const uris: UriPattern[] = rules.uriPatterns.map(compileUriPattern);
  return {
    allows(peer: PeerIdentity): boolean {
      if (cns.has(peer.cn)) return true;
      if (peer.ous.some((ou) => ous.has(ou))) return true;
      if (peer.dnsNames.some((d) => dns.has(d))) return true;
      if (ips.size > 0 && peer.ips.some((ip) => ips.has(canonicalIp(ip)))) return true;
      return uris.length > 0 && peer.uris.some((u) => uris.some((p) => p.matches(u)));
    },
  };
}
