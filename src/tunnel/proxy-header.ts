import type { PeerIdentity } from '../auth/peer.ts';
import type { ProxyProtocolMode } from '../config/types.ts';
import type { AcceptedPeer, HandshakeInfo } from '../engine/engine.ts';
import { proxyV2Header, PP2_TYPE_ALPN, PP2_TYPE_AUTHORITY, sslTlv, tlv, type ProxyEndpoints, type Tlv } from '../net/proxy-protocol.ts';

/** "TLSv1.3" → "TLS 1.3", the names Go's tls.VersionName gives. */
function versionName(protocol: string): string {
  return protocol.replace(/^TLSv/, 'TLS ');
}

function endpoints(peer: AcceptedPeer, listenPath: string): ProxyEndpoints {
  if (peer.remote === '' || peer.local === '') return { kind: 'unix', source: '', destination: listenPath };
  return {
    kind: 'tcp',
    source: { address: peer.remote, port: peer.remotePort },
    destination: { address: peer.local, port: peer.localPort },
  };
}

function tlsTlvs(mode: ProxyProtocolMode, tls: HandshakeInfo, peer: PeerIdentity | undefined): Tlv[] {
  const out: Tlv[] = [];
  if (tls.alpn !== null) out.push(tlv(PP2_TYPE_ALPN, tls.alpn));
  if (tls.serverName !== null && tls.serverName !== '') out.push(tlv(PP2_TYPE_AUTHORITY, tls.serverName));
  // The certificate and common name as the access check read them: nothing is parsed again.
  const der = mode === 'tls-full' ? peer?.x509.raw : undefined;
  const cn = der === undefined ? undefined : peer?.cn || undefined;
  out.push(sslTlv({ version: versionName(tls.version), clientCert: der, commonName: cn }));
  return out;
}

/**
 * The PROXY v2 header for a server-mode connection (spec §2.14): the client's address as source,
 * the address it connected to as destination (or the listening socket's path on a UNIX listener),
 * and for tls/tls-full what the handshake negotiated (`identity`: the client certificate's, when
 * it sent one).
 */
export function proxyHeaderFor(mode: ProxyProtocolMode, peer: AcceptedPeer, tls: HandshakeInfo, identity: PeerIdentity | undefined, listenPath: string): Buffer {
  return proxyV2Header(endpoints(peer, listenPath), mode === 'conn' ? [] : tlsTlvs(mode, tls, identity));
}
