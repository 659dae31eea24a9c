import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';

/**
 * Hands `use` the addresses a dial tries, in order: an IP literal as it is, at once (no lookup); a
 * name as the system resolver answers it at that moment, as Node's net.connect would look it up.
 * A failed lookup goes to `fail` with the resolver's error ("getaddrinfo ENOTFOUND name").
 */
export function withDialAddresses(host: string, use: (addresses: readonly string[]) => void, fail: (err: Error) => void): void {
  if (isIP(host) !== 0) return use([host]);
  lookup(host === '' ? 'localhost' : host, { all: true }).then((found) => use(found.map((a) => a.address)), fail);
}
