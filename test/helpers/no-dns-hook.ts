// Preloaded into a daemon (node --import) to take name resolution away from it: every lookup of
// a name (not an IP literal) fails with ENOTFOUND and is reported on stderr as "no-dns: NAME".
// A tunnel that still works under it never resolved the target itself.
import dns from 'node:dns';
import { syncBuiltinESMExports } from 'node:module';
import { isIP } from 'node:net';

type Callback = (err: NodeJS.ErrnoException | null, address?: unknown, family?: number) => void;

function refusal(host: string): NodeJS.ErrnoException {
  process.stderr.write(`no-dns: ${host}\n`);
  return Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND', hostname: host, syscall: 'getaddrinfo' });
}

const lookup = dns.lookup;
const lookupPromise = dns.promises.lookup;

Object.assign(dns, {
  lookup(host: string, options: unknown, callback?: Callback) {
    const cb = (typeof options === 'function' ? options : callback) as Callback;
    if (isIP(host) === 0) return process.nextTick(() => cb(refusal(host)));
    return (lookup as (...a: unknown[]) => void)(host, ...(typeof options === 'function' ? [options] : [options, callback]));
  },
});
Object.assign(dns.promises, {
  lookup(host: string, options?: unknown) {
    if (isIP(host) === 0) return Promise.reject(refusal(host));
    return (lookupPromise as (...a: unknown[]) => Promise<unknown>)(host, options);
  },
});
// `import { lookup } from 'node:dns/promises'` in the daemon sees the replacements only after this.
syncBuiltinESMExports();
