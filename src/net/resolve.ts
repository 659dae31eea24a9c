import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';

/**
 * The addresses a dial tries, in order: an IP literal as it is (no promise, no lookup), a name as
 * the system resolver answers it at that moment, as Node's net.connect would look it up. Rejects
 * with the resolver's error ("getaddrinfo ENOTFOUND name").
 */
export function dialAddresses(host: string): readonly string[] | Promise<readonly string[]> {
  if (isIP(host) !== 0) return [host];
  return lookup(host === '' ? 'localhost' : host, { all: true }).then((found) => found.map((a) => a.address));
}
