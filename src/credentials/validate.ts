import { createPrivateKey, type X509Certificate } from 'node:crypto';
import type { SecureContext } from 'node:tls';
import { CredentialError } from './identity.ts';
import type { Credentials } from './store.ts';
import type { TrustAnchors } from './trust.ts';

const LOOPBACK_TIMEOUT_MS = 5000;

function describe(cert: X509Certificate): string {
  return `${cert.subject.replace(/\n/g, ', ')} (serial ${cert.serialNumber})`;
}

function checkValidityWindow(chain: readonly X509Certificate[], label: string, now: number): void {
  for (const cert of chain) {
    if (cert.validToDate.getTime() < now) {
      throw new CredentialError(`certificate in "${label}" expired on ${cert.validToDate.toISOString()}: ${describe(cert)}`);
    }
    if (cert.validFromDate.getTime() > now) {
      throw new CredentialError(`certificate in "${label}" is not valid until ${cert.validFromDate.toISOString()}: ${describe(cert)}; peers would reject it`);
    }
  }
}

/**
 * Each link of the presented chain must be signed by the next, and the top must be signed by a
 * --cacert CA whose name it gives as issuer (a bundle may hold an old and a new CA of one name).
 * A chain from another CA (a public server certificate next to a private client CA) is not ours
 * to judge and passes.
 */
function checkChain(chain: readonly X509Certificate[], trust: TrustAnchors, label: string): void {
  for (let i = 0; i + 1 < chain.length; i++) {
    const child = chain[i]!;
    const parent = chain[i + 1]!;
    if (child.issuer === parent.subject && !child.verify(parent.publicKey)) {
      throw new CredentialError(`certificate chain in "${label}" is broken: ${describe(child)} is not signed by the next certificate, ${describe(parent)}`);
    }
  }
  if (trust.source === undefined) return;
  const top = chain[chain.length - 1]!;
  if (trust.certs.some((ca) => ca.fingerprint256 === top.fingerprint256)) return;
  const named = trust.certs.filter((ca) => ca.subject === top.issuer);
  if (named.length > 0 && !named.some((ca) => top.verify(ca.publicKey))) {
    throw new CredentialError(`certificate chain in "${label}" does not verify against --cacert "${trust.source}": ${describe(top)} names ${describe(named[0]!)} as issuer but is not signed by it`);
  }
}

/**
 * A real TLS handshake with the candidate context over an in-memory stream pair: proves that
 * OpenSSL accepts the key with the chain, that the configured versions and ciphers can serve it,
 * and that the peer is handed exactly the candidate leaf. Asynchronous, so the current context
 * keeps serving meanwhile.
 */
async function loopbackHandshake(context: SecureContext, leaf: X509Certificate, label: string): Promise<void> {
  // Node's TLS and stream modules, loaded at the first reload rather than at every start.
  const { connect, TLSSocket } = process.getBuiltinModule('node:tls');
  const [serverSide, clientSide] = process.getBuiltinModule('node:stream').duplexPair();
  const server = new TLSSocket(serverSide, { isServer: true, secureContext: context, requestCert: false });
  const client = connect({ socket: clientSide, rejectUnauthorized: false, servername: 'localhost' });
  let timer: NodeJS.Timeout | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`no handshake within ${LOOPBACK_TIMEOUT_MS} ms`)), LOOPBACK_TIMEOUT_MS);
      client.once('secureConnect', () => resolve());
      client.once('error', reject);
      server.once('error', reject);
    });
    const presented = client.getPeerX509Certificate();
    if (presented?.fingerprint256 !== leaf.fingerprint256) throw new Error('the handshake presented another certificate than the candidate');
  } catch (err) {
    throw new CredentialError(`test handshake with the new credentials from "${label}" failed: ${(err as Error).message}`);
  } finally {
    clearTimeout(timer);
    client.destroy();
    server.destroy();
  }
}

/**
 * Validate-before-swap: everything a peer would check, checked on a candidate before it is served.
 * Throws CredentialError naming the file and the fault; the current credentials stay meanwhile.
 */
export async function validateCandidate(candidate: Credentials, label: string, now = Date.now()): Promise<void> {
  const identity = candidate.identity;
  if (identity === undefined) return;
  if (identity.key.kind === 'pem' && !identity.leaf.checkPrivateKey(createPrivateKey(identity.key.pem))) {
    throw new CredentialError(`parsing X509 key pair from "${label}": private key does not match public key`);
  }
  checkValidityWindow(identity.chain, label, now);
  checkChain(identity.chain, candidate.trust, label);
  await loopbackHandshake(candidate.context, identity.leaf, label);
}
