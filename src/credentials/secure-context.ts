import { constants, randomBytes } from 'node:crypto';
import type { SecureContext } from 'node:tls';
import type { DataPlaneKind, TlsSettings } from '../config/types.ts';
import type { PlaneContext } from '../engine/engine.ts';
import { createNativeContext, type NativeContext } from '../engine/native.ts';
import type { NodeContext } from '../engine/node-context.ts';
import type { Identity, IdentityKey } from './identity.ts';
import { keyExchangeGroups } from './key-exchange.ts';
import type { TrustAnchors } from './trust.ts';

// TLS 1.3 suites are fixed, as in Go; listed because Node disables TLS 1.3 when the cipher
// string names none.
const TLS13_SUITES = 'TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256';

/**
 * 80 random bytes: the ticket name, HMAC and AES keys OpenSSL protects session tickets with, in
 * the layout of SSL_CTX_set_tlsext_ticket_keys. Node's own contexts take the first 48, the size
 * of its older format.
 */
export function newTicketKeys(): Buffer {
  return randomBytes(80);
}

type ContextIdentity = Pick<Identity, 'chainPem' | 'key'>;

/** Runs `build` with the key usable: a key on a token needs its PIN readable while a context loads it. */
function withKeyReady<T>(key: IdentityKey | undefined, build: () => T): T {
  return key?.kind === 'engine' ? key.unlock(build) : build();
}

function keyOptions(key: IdentityKey): { key: string } | { privateKeyEngine: string; privateKeyIdentifier: string } {
  return key.kind === 'pem' ? { key: key.pem } : { privateKeyEngine: key.engine, privateKeyIdentifier: key.uri };
}

/**
 * One SecureContext serves both roles: as a server it presents the identity and verifies client
 * certificates against the trust anchors; as a client it does the same towards the target. Each
 * context gets fresh session-ticket keys (`newTicketKeys()`), so a swap also ends resumption of
 * sessions established under the previous credentials.
 */
function nodeContext(identity: ContextIdentity | undefined, trust: Pick<TrustAnchors, 'pems'>, settings: TlsSettings, ticketKeys: Buffer, tickets = true): SecureContext {
  return process.getBuiltinModule('node:tls').createSecureContext({
    // Without tickets: OpenSSL's stateful ones, which no client can resume (Node keeps no session cache of its own).
    ...(tickets ? {} : { secureOptions: constants.SSL_OP_NO_TICKET }),
    ...(identity ? { cert: identity.chainPem, ...keyOptions(identity.key) } : {}),
    // Without `ca` no CA names go into the CertificateRequest (server pin mode, spec §2.4).
    ...(settings.omitCaNames ? {} : { ca: [...trust.pems] }),
    minVersion: 'TLSv1.2',
    maxVersion: settings.maxVersion,
    ciphers: `${TLS13_SUITES}:${settings.ciphers}`,
    ecdhCurve: keyExchangeGroups(),
    sessionIdContext: 'ghostunnel',
    ticketKeys: ticketKeys.subarray(0, 48),
  });
}

/**
 * The native data plane's context for the same identity, trust and settings (src/engine/native.ts):
 * the one every tunnel connection uses on that plane. The Node.js context beside it serves the
 * status port and the test handshake that validates a candidate (and, on the node plane, the
 * tunnel's connections too). The --workers loops build theirs with the same ticket keys, so that
 * a ticket resumes on whichever loop accepts the connection.
 */
function nativeContext(identity: ContextIdentity | undefined, trust: Pick<TrustAnchors, 'pems'>, settings: TlsSettings, ticketKeys: Buffer): NativeContext {
  const key = identity?.key;
  return createNativeContext({
    server: settings.role === 'server',
    ...(identity ? { chain: identity.chainPem } : {}),
    ...(key === undefined ? {} : key.kind === 'pem' ? { key: key.pem } : { engine: key.engine, keyUri: key.uri }),
    cas: trust.pems,
    caNames: settings.role === 'server' && !settings.omitCaNames,
    requireCertificate: settings.clientCertificates === 'require',
    minVersion: 0x0303,
    maxVersion: settings.maxVersion === 'TLSv1.2' ? 0x0303 : 0x0304,
    ciphers: settings.ciphers,
    suites: TLS13_SUITES,
    groups: keyExchangeGroups(),
    sessionIdContext: 'ghostunnel',
    ticketKeys,
  });
}

/**
 * The portable data plane's context: the Node.js context itself, whether clients must present a
 * certificate, and (server) a twin without session tickets for clients that cannot resume.
 */
function nodePlaneContext(context: SecureContext, identity: ContextIdentity | undefined, trust: Pick<TrustAnchors, 'pems'>, settings: TlsSettings, ticketKeys: Buffer): NodeContext {
  if (settings.role !== 'server') return { secureContext: context, requireCertificate: false };
  return { secureContext: context, withoutTickets: nodeContext(identity, trust, settings, ticketKeys, false), requireCertificate: settings.clientCertificates === 'require' };
}

/**
 * The contexts of a credential generation: the serving data plane's, built now, and Node's. On the
 * node plane Node's is the plane's own. On the native plane it is built only when something asks
 * for it (the status port's HTTPS, client mode's backend check, the test handshake that validates
 * a reload): a tunnel without those never loads node:tls, whose modules cost about 3 MiB of
 * resident memory.
 */
export function buildContexts(identity: ContextIdentity | undefined, trust: Pick<TrustAnchors, 'pems'>, settings: TlsSettings, ticketKeys: Buffer, plane: DataPlaneKind): { planeContext: PlaneContext; nodeContext: () => SecureContext } {
  if (plane === 'node') {
    const planeContext = withKeyReady(identity?.key, () => nodePlaneContext(nodeContext(identity, trust, settings, ticketKeys), identity, trust, settings, ticketKeys));
    return { planeContext, nodeContext: () => planeContext.secureContext };
  }
  return {
    planeContext: withKeyReady(identity?.key, () => nativeContext(identity, trust, settings, ticketKeys)),
    nodeContext: () => withKeyReady(identity?.key, () => nodeContext(identity, trust, settings, ticketKeys)),
  };
}

/** The data plane's context alone: a --workers loop's, from the main thread's validated material. */
export function buildPlaneContext(identity: ContextIdentity | undefined, trust: Pick<TrustAnchors, 'pems'>, settings: TlsSettings, ticketKeys: Buffer, plane: DataPlaneKind): PlaneContext {
  return buildContexts(identity, trust, settings, ticketKeys, plane).planeContext;
}

/**
 * The context answering a TLS-ALPN-01 validation: the challenge certificate, `alpn` selected, no
 * client certificate asked for and (native) no session ticket: a validation is never resumed.
 */
export function challengeContext(certPem: string, keyPem: string, alpn: string, plane: DataPlaneKind): PlaneContext {
  if (plane === 'node') return { secureContext: process.getBuiltinModule('node:tls').createSecureContext({ cert: certPem, key: keyPem }), requireCertificate: false, alpn: [alpn] };
  return createNativeContext({
    server: true,
    chain: certPem,
    key: keyPem,
    cas: [],
    caNames: false,
    minVersion: 0x0303,
    maxVersion: 0x0304,
    ciphers: '',
    suites: '',
    groups: '',
    alpn: [alpn],
    tickets: 0,
  });
}
