import { isIP } from './ip.ts';

/**
 * Hands `use` the addresses a dial tries, in order: an IP literal as it is, at once (no lookup); a
 * name as the system resolver answers it at that moment, as Node's net.connect would look it up.
 * A failed lookup goes to `fail` in Go's words ("dial tcp: lookup name: no such host").
 */
export function withDialAddresses(host: string, use: (addresses: readonly string[]) => void, fail: (err: Error) => void): void {
  if (isIP(host) !== 0) return use([host]);
  const name = host === '' ? 'localhost' : host;
  // Node's resolver module only once a name is to be looked up: a target given as an address never needs it.
  const { lookup } = process.getBuiltinModule('node:dns/promises');
  lookup(name, { all: true }).then(
    (found) => use(found.map((a) => a.address)),
    (err: NodeJS.ErrnoException) => fail(Object.assign(new Error(`dial tcp: lookup ${name}: ${err.code === 'ENOTFOUND' || err.code === 'ENODATA' ? 'no such host' : err.message}`), { code: err.code })),
  );
}
