import { X509Certificate } from 'node:crypto';
import { CredentialError, readCredentialFile, type FileReader } from './identity.ts';
import { parsePem } from './pem.ts';

/** The CA certificates that peers are verified against. */
export interface TrustAnchors {
  /** PEM of each CA, as handed to createSecureContext. */
  readonly pems: readonly string[];
  /** The --cacert path, or undefined for the system roots. */
  readonly source: string | undefined;
  readonly certs: readonly X509Certificate[];
}

let systemRoots: TrustAnchors | undefined;

/**
 * The operating system's trust store, as Go uses it when --cacert is absent; Node's bundled
 * Mozilla roots when the system has none (a minimal container image).
 */
function systemTrust(): TrustAnchors {
  if (systemRoots === undefined) {
    const { getCACertificates } = process.getBuiltinModule('node:tls');
    let pems = getCACertificates('system');
    if (pems.length === 0) pems = getCACertificates('bundled');
    systemRoots = { pems, source: undefined, certs: [] };
  }
  return systemRoots;
}

export function loadTrust(cacert: string | undefined, read: FileReader = readCredentialFile): TrustAnchors {
  if (cacert === undefined) return systemTrust();
  const blocks = parsePem(read(cacert, 'CA bundle').toString('latin1')).filter((b) => b.type === 'CERTIFICATE');
  if (blocks.length === 0) throw new CredentialError(`loading trust store "${cacert}": unable to read certificates from CA bundle`);
  const certs = blocks.map((b, i) => {
    try {
      return new X509Certificate(b.der);
    } catch (err) {
      throw new CredentialError(`loading trust store "${cacert}": certificate ${i + 1} does not parse: ${(err as Error).message}`);
    }
  });
  return { pems: blocks.map((b) => b.text), source: cacert, certs };
}
