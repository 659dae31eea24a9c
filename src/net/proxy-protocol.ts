// PROXY protocol version 2 headers (haproxy's proxy-protocol.txt, §2.2), as Ghostunnel writes them
// to the backend: command PROXY, stream transport, and the TLVs of spec §2.14.
import { isIPv4, isIPv6 } from './ip.ts';

const SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const VERSION_2_PROXY = 0x21;
const TCP_OVER_IPV4 = 0x11;
const TCP_OVER_IPV6 = 0x21;
const UNIX_STREAM = 0x31;
const UNIX_PATH_BYTES = 108;

export const PP2_TYPE_ALPN = 0x01;
export const PP2_TYPE_AUTHORITY = 0x02;
export const PP2_TYPE_SSL = 0x20;
export const PP2_SUBTYPE_SSL_VERSION = 0x21;
export const PP2_SUBTYPE_SSL_CN = 0x22;
/** Not in haproxy's list: go-proxyproto's sub-type for the client certificate (DER), kept for Ghostunnel parity. */
export const PP2_SUBTYPE_SSL_CLIENT_CERT = 0x28;
export const PP2_CLIENT_SSL = 0x01;
export const PP2_CLIENT_CERT_CONN = 0x02;
export const PP2_CLIENT_CERT_SESS = 0x04;

export type ProxyEndpoints =
  | { readonly kind: 'tcp'; readonly source: { address: string; port: number }; readonly destination: { address: string; port: number } }
  | { readonly kind: 'unix'; readonly source: string; readonly destination: string };

export interface Tlv {
  readonly type: number;
  readonly value: Buffer;
}

/** What the PP2_TYPE_SSL TLV says about the client side of the connection. */
export interface SslInfo {
  /** e.g. "TLS 1.3". */
  readonly version: string;
  /** The client certificate (DER), when one was presented and is to be passed on. */
  readonly clientCert?: Buffer;
  /** Its subject CN; omitted when empty. */
  readonly commonName?: string;
}

export function tlv(type: number, value: Buffer | string): Tlv {
  return { type, value: typeof value === 'string' ? Buffer.from(value) : value };
}

function encodeTlvs(tlvs: readonly Tlv[]): Buffer {
  const parts: Buffer[] = [];
  for (const { type, value } of tlvs) {
    if (value.length > 0xffff) throw new Error(`PROXY v2 TLV 0x${type.toString(16)} is too long (${value.length} bytes)`);
    const head = Buffer.alloc(3);
    head.writeUInt8(type, 0);
    head.writeUInt16BE(value.length, 1);
    parts.push(head, value);
  }
  return Buffer.concat(parts);
}

/** PP2_TYPE_SSL: client flags, verify result 0 (verified), and the version/CN/certificate sub-TLVs. */
export function sslTlv(info: SslInfo): Tlv {
  const head = Buffer.alloc(5);
  head.writeUInt8(PP2_CLIENT_SSL | (info.clientCert ? PP2_CLIENT_CERT_CONN | PP2_CLIENT_CERT_SESS : 0), 0);
  head.writeUInt32BE(0, 1);
  const subs = [tlv(PP2_SUBTYPE_SSL_VERSION, info.version)];
  if (info.clientCert) {
    if (info.commonName) subs.push(tlv(PP2_SUBTYPE_SSL_CN, info.commonName));
    subs.push(tlv(PP2_SUBTYPE_SSL_CLIENT_CERT, info.clientCert));
  }
  return tlv(PP2_TYPE_SSL, Buffer.concat([head, encodeTlvs(subs)]));
}

/**
 * An IPv4-mapped IPv6 address as the IPv4 address it carries, as Go's To4 sees it, however it is
 * spelled ("::ffff:1.2.3.4", "::ffff:102:304", "0:0:0:0:0:FFFF:102:304").
 */
function unmapped(address: string): string {
  if (!isIPv6(address)) return address;
  const b = ipv6Bytes(address.replace(/%.*$/, ''));
  const mapped = b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff;
  return mapped ? [...b.subarray(12)].join('.') : address;
}

function ipv6Bytes(address: string): Buffer {
  const [head = '', tail] = address.split('::') as [string, string | undefined];
  const words = (s: string): string[] => (s === '' ? [] : s.split(':'));
  let h = words(head);
  let t = tail === undefined ? [] : words(tail);
  const v4 = (list: string[]): string[] => {
    const last = list.at(-1);
    if (last === undefined || !isIPv4(last)) return list;
    const b = last.split('.').map(Number) as [number, number, number, number];
    return [...list.slice(0, -1), ((b[0] << 8) | b[1]).toString(16), ((b[2] << 8) | b[3]).toString(16)];
  };
  if (tail === undefined) h = v4(h);
  else t = v4(t);
  const all = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  const out = Buffer.alloc(16);
  all.forEach((w, i) => out.writeUInt16BE(parseInt(w, 16), i * 2));
  return out;
}

function unixPath(path: string): Buffer {
  const out = Buffer.alloc(UNIX_PATH_BYTES);
  const bytes = Buffer.from(path);
  if (bytes.length > UNIX_PATH_BYTES) throw new Error(`PROXY v2: socket path longer than ${UNIX_PATH_BYTES} bytes: ${path}`);
  bytes.copy(out);
  return out;
}

function addressBlock(endpoints: ProxyEndpoints): { family: number; block: Buffer } {
  if (endpoints.kind === 'unix') return { family: UNIX_STREAM, block: Buffer.concat([unixPath(endpoints.source), unixPath(endpoints.destination)]) };
  const src = unmapped(endpoints.source.address);
  const dst = unmapped(endpoints.destination.address);
  const ports = Buffer.alloc(4);
  ports.writeUInt16BE(endpoints.source.port, 0);
  ports.writeUInt16BE(endpoints.destination.port, 2);
  if (isIPv4(src) && isIPv4(dst)) {
    const ip = (a: string): Buffer => Buffer.from(a.split('.').map(Number));
    return { family: TCP_OVER_IPV4, block: Buffer.concat([ip(src), ip(dst), ports]) };
  }
  const v6 = (a: string): Buffer => (isIPv4(a) ? ipv6Bytes(`::ffff:${a}`) : ipv6Bytes(a.replace(/%.*$/, '')));
  if (!(isIPv6(src) || isIPv4(src)) || !(isIPv6(dst) || isIPv4(dst))) throw new Error(`PROXY v2: not an IP address pair: ${src}, ${dst}`);
  return { family: TCP_OVER_IPV6, block: Buffer.concat([v6(src), v6(dst), ports]) };
}

/** The complete header: signature, version/command, family, length, addresses, TLVs. */
export function proxyV2Header(endpoints: ProxyEndpoints, tlvs: readonly Tlv[] = []): Buffer {
  const { family, block } = addressBlock(endpoints);
  const extra = encodeTlvs(tlvs);
  const fixed = Buffer.alloc(4);
  fixed.writeUInt8(VERSION_2_PROXY, 0);
  fixed.writeUInt8(family, 1);
  fixed.writeUInt16BE(block.length + extra.length, 2);
  return Buffer.concat([SIGNATURE, fixed, block, extra]);
}
