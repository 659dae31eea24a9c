import { isIP } from './ip.ts';

/** A listen or target address as Ghostunnel writes them. */
export type Address =
  | { readonly kind: 'tcp'; readonly host: string; readonly port: number; readonly text: string }
  | { readonly kind: 'unix'; readonly path: string; readonly text: string }
  | { readonly kind: 'systemd'; readonly name: string; readonly text: string }
  | { readonly kind: 'launchd'; readonly name: string; readonly text: string };

export type TcpAddress = Extract<Address, { kind: 'tcp' }>;

/** Splits "host:port", "[v6]:port" or ":port"; throws with a message naming the problem. */
export function splitHostPort(text: string): { host: string; port: number } {
  let host: string;
  let portText: string;
  if (text.startsWith('[')) {
    const end = text.indexOf(']');
    if (end < 0 || text[end + 1] !== ':') throw new Error(`address ${text}: missing port in address`);
    host = text.slice(1, end);
    portText = text.slice(end + 2);
  } else {
    const colon = text.lastIndexOf(':');
    if (colon < 0) throw new Error(`address ${text}: missing port in address`);
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
    if (host.includes(':')) throw new Error(`address ${text}: too many colons in address`);
  }
  if (!/^\d+$/.test(portText) || Number(portText) > 65535) throw new Error(`address ${text}: invalid port "${portText}"`);
  return { host, port: Number(portText) };
}

export function parseAddress(text: string): Address {
  for (const kind of ['unix', 'systemd', 'launchd'] as const) {
    if (text.startsWith(`${kind}:`)) {
      const rest = text.slice(kind.length + 1);
      if (rest === '') throw new Error(`address ${text}: missing ${kind === 'unix' ? 'path' : 'name'}`);
      return kind === 'unix' ? { kind, path: rest, text } : { kind, name: rest, text };
    }
  }
  const { host, port } = splitHostPort(text);
  return { kind: 'tcp', host, port, text };
}

/** Ghostunnel's string-prefix notion of a local-only address (--target, client --listen). */
export function isLocalOnly(text: string): boolean {
  return ['unix:', 'systemd:', 'launchd:', '127.0.0.1:', '[::1]:', 'localhost:'].some((p) => text.startsWith(p));
}

export function describeAddress(addr: Address): string {
  return addr.kind === 'tcp' ? `tcp:${addr.host.includes(':') ? `[${addr.host}]` : addr.host}:${addr.port}` : addr.text;
}

export function isIpLiteral(host: string): boolean {
  return isIP(host) !== 0;
}
