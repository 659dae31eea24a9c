import type { Config } from './types.ts';
import { parseAddress, splitHostPort, type Address, type TcpAddress } from '../net/address.ts';

/** --status parsed: the address to bind, and whether it serves HTTPS. */
export interface StatusAddress {
  readonly address: Address;
  /** TCP without a scheme, or https://: HTTPS with the tunnel's own certificate. */
  readonly https: boolean;
}

/**
 * Reads --status as Ghostunnel does (spec §1.3): `[http://|https://]HOST:PORT`, `unix:PATH`,
 * `systemd:NAME`, `launchd:NAME`. Throws with Ghostunnel's message, ready for a usage error.
 */
export function parseStatusAddress(text: string): StatusAddress {
  const scheme = /^(https?):\/\//.exec(text)?.[1];
  const rest = scheme === undefined ? text : text.slice(scheme.length + 3);
  let address: Address;
  try {
    address = parseAddress(rest);
  } catch (err) {
    throw new Error(`invalid --status address: ${(err as Error).message}`);
  }
  if (scheme !== undefined && address.kind !== 'tcp') {
    throw new Error(`invalid --status network "${address.kind}": http(s):// scheme requires a HOST:PORT target`);
  }
  return { address, https: address.kind === 'tcp' && scheme !== 'http' };
}

/** --metrics-graphite: a TCP HOST:PORT (kingpin's TCP() value; it is resolved before start). */
export function parseGraphiteAddress(text: string): TcpAddress {
  try {
    return { kind: 'tcp', ...splitHostPort(text), text };
  } catch (err) {
    throw new Error(`'${text}' is not a valid TCP address: ${(err as Error).message}`);
  }
}

/** Ghostunnel collects metrics only when something will read them (spec §1.7 step 4). */
export function metricsWanted(config: Config): boolean {
  return config.status !== undefined || config.metrics.graphite !== undefined || config.metrics.url !== undefined;
}
