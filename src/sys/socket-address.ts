// sockaddr_in and sockaddr_in6 (Linux layouts) for the sockets linux.ts binds itself: the family
// in host byte order, the port in network order.
import { isIPv4, isIPv6 } from '../net/ip.ts';
import { endianness } from 'node:os';

export const AF_INET = 2;
export const AF_INET6 = 10;

function writeFamily(addr: Buffer, family: number): void {
  if (endianness() === 'LE') addr.writeUInt16LE(family, 0);
  else addr.writeUInt16BE(family, 0);
}

function ipv4Bytes(ip: string): number[] {
  return ip.split('.').map(Number);
}

/** The 16 bytes of an IPv6 address in text form ("::1", "fe80::1", "::ffff:10.0.0.1"). */
function ipv6Bytes(ip: string): number[] {
  let text = ip;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text)?.[1];
  if (v4 !== undefined) {
    const [a, b, c, d] = ipv4Bytes(v4) as [number, number, number, number];
    text = `${text.slice(0, -v4.length)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const groups = (part: string): string[] => (part === '' ? [] : part.split(':'));
  const words = tail === undefined ? groups(head) : [...groups(head), ...Array<string>(8 - groups(head).length - groups(tail).length).fill('0'), ...groups(tail)];
  return words.flatMap((w) => {
    const n = parseInt(w, 16);
    return [n >> 8, n & 0xff];
  });
}

/**
 * The sockaddr for a numeric IP address (IPv6 with an optional "%zone", named or numbered) and a
 * port; `zoneIndex` turns an interface name into its index.
 */
export function inetAddress(ip: string, port: number, zoneIndex: (zone: string) => number): { family: number; sockaddr: Buffer } {
  if (isIPv4(ip)) {
    const addr = Buffer.alloc(16);
    writeFamily(addr, AF_INET);
    addr.writeUInt16BE(port, 2);
    Buffer.from(ipv4Bytes(ip)).copy(addr, 4);
    return { family: AF_INET, sockaddr: addr };
  }
  const [host = '', zone] = ip.split('%');
  if (!isIPv6(host)) throw new Error(`not a numeric IP address: ${ip}`);
  const addr = Buffer.alloc(28);
  writeFamily(addr, AF_INET6);
  addr.writeUInt16BE(port, 2);
  Buffer.from(ipv6Bytes(host)).copy(addr, 8);
  if (zone !== undefined) {
    const index = /^\d+$/.test(zone) ? Number(zone) : zoneIndex(zone);
    if (index === 0) throw new Error(`no network interface ${zone} (in ${ip})`);
    if (endianness() === 'LE') addr.writeUInt32LE(index, 24);
    else addr.writeUInt32BE(index, 24);
  }
  return { family: AF_INET6, sockaddr: addr };
}

/** The port of a sockaddr_in or sockaddr_in6. */
export function portOf(sockaddr: Buffer): number {
  return sockaddr.readUInt16BE(2);
}
