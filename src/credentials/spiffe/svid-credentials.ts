import { createHash, createPrivateKey, type KeyObject, type X509Certificate } from 'node:crypto';
import { CredentialError } from '../credential-file.ts';
import { splitDerCertificates } from '../der-certificates.ts';
import type { Identity } from '../identity.ts';
import type { PushedCredentials } from '../store.ts';
import type { TrustAnchors } from '../trust.ts';
import type { X509SvidResponse } from './workload-api-proto.ts';

function privateKey(der: Buffer, spiffeId: string): KeyObject {
  try {
    return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  } catch (err) {
    throw new CredentialError(`X.509-SVID ${spiffeId} from the SPIFFE Workload API: private key does not parse: ${(err as Error).message}`);
  }
}

/** The bundles of every trust domain, without duplicates: a peer of any of them may connect. */
function bundleTrust(response: X509SvidResponse, own: Buffer): TrustAnchors {
  const certs = new Map<string, X509Certificate>();
  const add = (der: Buffer, what: string): void => {
    for (const cert of splitDerCertificates(der, what)) certs.set(cert.fingerprint256, cert);
  };
  add(own, 'trust bundle from the SPIFFE Workload API');
  for (const [domain, der] of Object.entries(response.federated_bundles)) add(der, `federated trust bundle of "${domain}" from the SPIFFE Workload API`);
  if (certs.size === 0) throw new CredentialError('the SPIFFE Workload API sent an empty trust bundle');
  const list = [...certs.values()];
  return { pems: list.map((c) => c.toString()), source: undefined, certs: list };
}

/**
 * Turns one Workload API message into credentials: the first SVID is the identity (presented
 * unless `presentIdentity` is false: client mode with --disable-authentication), its bundle plus
 * the federated bundles are the trust anchors, replacing --cacert. Throws CredentialError when the
 * message cannot be served (no SVID, key not matching, unparsable DER).
 */
export function svidCredentials(response: X509SvidResponse, presentIdentity: boolean): PushedCredentials {
  const svid = response.svids[0];
  if (svid === undefined) throw new CredentialError('the SPIFFE Workload API sent no X.509-SVID (is there a registration entry for this workload?)');
  const id = svid.spiffe_id || 'without SPIFFE ID';
  const chain = splitDerCertificates(svid.x509_svid, `X.509-SVID ${id} from the SPIFFE Workload API`);
  const leaf = chain[0];
  if (leaf === undefined) throw new CredentialError(`X.509-SVID ${id} from the SPIFFE Workload API holds no certificate`);
  const key = privateKey(svid.x509_svid_key, id);
  if (!leaf.checkPrivateKey(key)) throw new CredentialError(`X.509-SVID ${id} from the SPIFFE Workload API: private key does not match public key`);
  const identity: Identity = {
    chainPem: chain.map((c) => c.toString()).join(''),
    key: { kind: 'pem', pem: key.export({ type: 'pkcs8', format: 'pem' }) as string },
    leaf,
    chain,
  };
  const digest = createHash('sha256').update(svid.x509_svid).update(svid.x509_svid_key).update(svid.bundle);
  for (const domain of Object.keys(response.federated_bundles).sort()) digest.update(domain).update('\0').update(response.federated_bundles[domain]!);
  return {
    identity: presentIdentity ? identity : undefined,
    trust: bundleTrust(response, svid.bundle),
    digest: digest.update(presentIdentity ? 'presented' : 'verify-only').digest('hex'),
    label: `SPIFFE Workload API (${id})`,
  };
}
