// Go's wording of network errors, which operators of Ghostunnel grep their logs for: made here
// from an error code and an address, whoever reported them (the data plane, Node, libc).
import { constants } from 'node:os';
import { getSystemErrorMessage } from 'node:util';

/** Where Go's syscall.Errno text differs from libuv's (getSystemErrorMessage). */
const GO_TEXT: Readonly<Record<string, string>> = {
  ENFILE: 'too many open files in system',
  ENOMEM: 'cannot allocate memory',
  ECONNABORTED: 'software caused connection abort',
  EHOSTUNREACH: 'no route to host',
};

/** "too many open files" for EMFILE; undefined for a code that is not an errno name. */
export function errnoText(code: string): string | undefined {
  const errno = (constants.errno as Readonly<Record<string, number>>)[code];
  return GO_TEXT[code] ?? (errno === undefined ? undefined : getSystemErrorMessage(-errno));
}

/** "tcp" for HOST:PORT ("127.0.0.1:8443", "[::1]:8443", "::1:8443"), "unix" for a socket path. */
function network(address: string): 'tcp' | 'unix' {
  return /^(\[[^\]]*\]|[0-9a-fA-F.:]*|[^/:]*):\d+$/.test(address) && !address.startsWith('/') ? 'tcp' : 'unix';
}

/** "[::1]:9" for "::1:9": Go brackets an IPv6 host. */
function hostPort(address: string): string {
  const at = address.lastIndexOf(':');
  const host = address.slice(0, at);
  return host.includes(':') && !host.startsWith('[') ? `[${host}]${address.slice(at)}` : address;
}

/** accept() failed on the listener bound to `address`: "accept tcp 127.0.0.1:8443: accept4: too many open files". */
export function goAcceptError(code: string | undefined, address: string, fallback: string): Error {
  const text = code === undefined ? undefined : errnoText(code);
  const message = text === undefined ? fallback : `accept ${network(address)} ${address}: accept4: ${text}`;
  return Object.assign(new Error(message), { code });
}

/**
 * The data plane's dial failure ("connect ECONNREFUSED 127.0.0.1:9", "socket EMFILE") as Go's
 * net.Dial says it: "dial tcp 127.0.0.1:9: connect: connection refused". Other texts pass unchanged.
 */
export function goDialError(message: string): string {
  const m = /^(\w+) ([A-Z][A-Z0-9_]*)(?: (.+))?$/.exec(message);
  const text = m === null ? undefined : errnoText(m[2]!);
  if (m === null || text === undefined) return message;
  const [, syscall, , where] = m;
  if (where === undefined) return `dial tcp: ${syscall}: ${text}`;
  const net = network(where);
  return `dial ${net} ${net === 'tcp' ? hostPort(where) : where}: ${syscall}: ${text}`;
}
