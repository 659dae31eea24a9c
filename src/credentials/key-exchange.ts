import { addonLoaded, createNativeContext } from '../engine/native.ts';

/** Go's classical groups, in its order. */
const CLASSICAL = 'X25519:P-256:P-384:P-521';
/**
 * Go's default since 1.24 (Ghostunnel 1.11): the post-quantum hybrid first. The `*` marks the
 * groups a client sends key shares for: both, as Go does, so that a server without the hybrid
 * picks X25519 without a HelloRetryRequest. The list is one tuple (no `/`): a server takes the
 * first group of this list the client sent a share for, so a client sharing only X25519 is never
 * asked to retry with the hybrid.
 */
const HYBRID = `*X25519MLKEM768:*X25519:P-256:P-384:P-521`;

/** Any valid suites: the probe only sets the groups. */
const PROBE_CIPHERS = 'ECDHE-ECDSA-AES128-GCM-SHA256';
const PROBE_SUITES = 'TLS_AES_128_GCM_SHA256';

let cached: string | undefined;

/** GODEBUG=tlsmlkem=0 turns the hybrid off, as in Ghostunnel (Go: the last setting of a key wins). */
function hybridDisabled(godebug: string | undefined): boolean {
  const settings = (godebug ?? '').split(',').map((s) => s.trim().split('='));
  return settings.findLast(([key]) => key === 'tlsmlkem')?.[1] === '0';
}

/**
 * The key exchange groups of every context, server and client, Node's and the data plane's (both
 * on Node's OpenSSL): the hybrid X25519MLKEM768 first when this OpenSSL has it (3.5 and later, as
 * in Node.js 24), the classical groups otherwise. Probed once, by building
 * a context with the list itself: OpenSSL lists no hybrid among `crypto.getCurves()`. A native
 * data plane context where that plane's addon is loaded (a Node.js one would load node:tls for
 * nothing), a Node.js one otherwise: the node plane must not load the addon, and without a
 * compiler there is none.
 */
export function keyExchangeGroups(env: NodeJS.ProcessEnv = process.env): string {
  if (cached !== undefined) return cached;
  cached = CLASSICAL;
  if (hybridDisabled(env.GODEBUG)) return cached;
  try {
    if (addonLoaded()) createNativeContext({ server: true, cas: [], caNames: false, minVersion: 0x0303, maxVersion: 0x0304, ciphers: PROBE_CIPHERS, suites: PROBE_SUITES, groups: HYBRID });
    else process.getBuiltinModule('node:tls').createSecureContext({ ecdhCurve: HYBRID });
    cached = HYBRID;
  } catch {
    // "setting the key exchange groups" ("Failed to set ECDH curve" from Node): this OpenSSL has no ML-KEM.
  }
  return cached;
}
