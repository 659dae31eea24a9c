import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { ProxyProtocolMode } from '../config/types.ts';
import { proxyV2Header, PP2_TYPE_ALPN, PP2_TYPE_AUTHORITY, sslTlv, tlv, type ProxyEndpoints, type Tlv } from '../net/proxy-protocol.ts';

/** "TLSv1.3" → "TLS 1.3", the names Go's tls.VersionName gives. */
function versionName(protocol: string | null): string {
  return (protocol ?? 'unknown').replace(/^TLSv/, 'TLS ');
}

function endpoints(raw: Socket, listenPath: string | undefined): ProxyEndpoints {
  if (raw.remoteAddress === undefined || raw.localAddress === undefined) return { kind: 'unix', source: '', destination: listenPath ?? '' };
  return {
    kind: 'tcp',
    source: { address: raw.remoteAddress, port: raw.remotePort ?? 0 },
    destination: { address: raw.localAddress, port: raw.localPort ?? 0 },
  };
}

function tlsTlvs(mode: ProxyProtocolMode, tls: TLSSocket): Tlv[] {
  const out: Tlv[] = [];
  if (typeof tls.alpnProtocol === 'string') out.push(tlv(PP2_TYPE_ALPN, tls.alpnProtocol));
  const sni = (tls as TLSSocket & { servername?: string | false }).servername;
  if (typeof sni === 'string' && sni !== '') out.push(tlv(PP2_TYPE_AUTHORITY, sni));
  const cert = mode === 'tls-full' ? tls.getPeerX509Certificate() : undefined;
  const cn = cert?.subject.split('\n').find((l) => l.startsWith('CN='))?.slice(3);
  out.push(sslTlv({ version: versionName(tls.getProtocol()), clientCert: cert?.raw, commonName: cn }));
  return out;
}

/**
 * The PROXY v2 header for a server-mode connection (spec §2.14): the client's address as source,
 * the address it connected to as destination (or the listening socket's path on a UNIX listener),
 * and for tls/tls-full what the handshake negotiated.
 */
export function proxyHeaderFor(mode: ProxyProtocolMode, raw: Socket, tls: TLSSocket, listenPath: string | undefined): Buffer {
  return proxyV2Header(endpoints(raw, listenPath), mode === 'conn' ? [] : tlsTlvs(mode, tls));
}
