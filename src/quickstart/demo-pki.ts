import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import forge from 'node-forge';

/** Paths of the throwaway credentials quickstart makes. */
export interface DemoCredentials {
  readonly dir: string;
  readonly caCert: string;
  readonly serverCert: string;
  readonly serverKey: string;
  readonly clientCert: string;
  readonly clientKey: string;
}

const DAY = 86_400_000;

function certificate(subjectCn: string, publicKey: forge.pki.PublicKey, issuer: forge.pki.Certificate | undefined, signer: forge.pki.PrivateKey, extensions: object[]): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  cert.serialNumber = `01${forge.util.bytesToHex(forge.random.getBytesSync(15))}`;
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + 30 * DAY);
  const subject = [{ name: 'commonName', value: subjectCn }, { name: 'organizationalUnitName', value: 'ghostunnel-demo' }];
  cert.setSubject(subject);
  cert.setIssuer(issuer ? issuer.subject.attributes : subject);
  cert.setExtensions(extensions);
  cert.sign(signer as forge.pki.rsa.PrivateKey, forge.md.sha256.create());
  return cert;
}

function leaf(name: string, ca: forge.pki.Certificate, caKey: forge.pki.PrivateKey, usage: 'serverAuth' | 'clientAuth'): { cert: string; key: string } {
  const keys = forge.pki.rsa.generateKeyPair({ bits: 2048 });
  const cert = certificate(name, keys.publicKey, ca, caKey, [
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', critical: true, digitalSignature: true, keyEncipherment: true },
    { name: 'extKeyUsage', [usage]: true },
    { name: 'subjectAltName', altNames: usage === 'serverAuth' ? [{ type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }, { type: 7, ip: '::1' }] : [{ type: 2, value: name }] },
  ]);
  return { cert: forge.pki.certificateToPem(cert), key: forge.pki.privateKeyToPem(keys.privateKey) };
}

/**
 * Makes a CA, a server certificate (localhost, 127.0.0.1, ::1) and a client certificate (CN=client) in
 * `dir`, unless they are there already. RSA through node-forge, which uses Node's native key
 * generation, so it needs no openssl binary.
 */
export function ensureDemoCredentials(dir: string): { credentials: DemoCredentials; created: boolean } {
  const credentials: DemoCredentials = {
    dir,
    caCert: join(dir, 'ca.crt'),
    serverCert: join(dir, 'server.crt'),
    serverKey: join(dir, 'server.key'),
    clientCert: join(dir, 'client.crt'),
    clientKey: join(dir, 'client.key'),
  };
  if (Object.values(credentials).slice(1).every((p) => existsSync(p))) return { credentials, created: false };
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const caKeys = forge.pki.rsa.generateKeyPair({ bits: 2048 });
  const ca = certificate('ghostunnel-demo-ca', caKeys.publicKey, undefined, caKeys.privateKey, [
    { name: 'basicConstraints', critical: true, cA: true },
    { name: 'keyUsage', critical: true, keyCertSign: true, cRLSign: true },
  ]);
  const server = leaf('localhost', ca, caKeys.privateKey, 'serverAuth');
  const client = leaf('client', ca, caKeys.privateKey, 'clientAuth');
  writeFileSync(credentials.caCert, forge.pki.certificateToPem(ca));
  writeFileSync(credentials.serverCert, server.cert);
  writeFileSync(credentials.serverKey, server.key, { mode: 0o600 });
  writeFileSync(credentials.clientCert, client.cert);
  writeFileSync(credentials.clientKey, client.key, { mode: 0o600 });
  return { credentials, created: true };
}
