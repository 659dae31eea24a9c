// A SoftHSM2 token made by the test: its own config and token directory, keys generated on the
// token with pkcs11-tool (OpenSC), and certificates issued for those keys by a test CA.
import { execFileSync } from 'node:child_process';
import { randomBytes, X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openssl, tempDir, type Ca } from './pki.ts';
import { requireProgram, requirePrograms } from './programs.ts';

const MODULES = ['/usr/lib/softhsm/libsofthsm2.so', '/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so', '/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so'];

export function softhsmModule(): string {
  requireProgram('libsofthsm2.so');
  const found = MODULES.find((m) => existsSync(m));
  if (found === undefined) throw new Error(`SoftHSM2 module not found (${MODULES.join(', ')}): apt-get install softhsm2`);
  return found;
}

export interface TokenKeyPair {
  /** The key's CKA_ID, hex. */
  readonly id: string;
  /** The public key as PEM (the private half never leaves the token). */
  readonly publicKeyPem: string;
}

export interface Token {
  readonly dir: string;
  readonly module: string;
  readonly label: string;
  readonly pin: string;
  /** Environment that points SoftHSM (in the daemon and in pkcs11-tool) at this token's directory. */
  readonly env: { SOFTHSM2_CONF: string };
  /** Generates a key pair on the token: "rsa" is RSA-2048, "ec" is ECDSA P-256. */
  generateKey(kind: 'rsa' | 'ec', id: string, label: string): TokenKeyPair;
}

/** A new token; the daemon that uses it needs OpenSSL's pkcs11 engine, so that is checked too. */
export function makeToken(label: string, pin: string): Token {
  requirePrograms('softhsm2-util', 'pkcs11-tool', 'libsofthsm2.so', 'pkcs11.so');
  const dir = tempDir('gt-softhsm-');
  mkdirSync(join(dir, 'tokens'));
  const conf = join(dir, 'softhsm2.conf');
  writeFileSync(conf, `directories.tokendir = ${join(dir, 'tokens')}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`);
  const env = { SOFTHSM2_CONF: conf };
  const run = (cmd: string, args: string[]): string => execFileSync(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] }).toString();
  run('softhsm2-util', ['--init-token', '--free', '--label', label, '--pin', pin, '--so-pin', `so-${pin}`]);
  const module = softhsmModule();
  return {
    dir,
    module,
    label,
    pin,
    env,
    generateKey(kind, id, keyLabel) {
      const tool = ['--module', module, '--token-label', label, '--login', '--pin', pin];
      run('pkcs11-tool', [...tool, '--keypairgen', '--key-type', kind === 'rsa' ? 'rsa:2048' : 'EC:prime256v1', '--id', id, '--label', keyLabel]);
      const der = join(dir, `${id}.pub.der`);
      run('pkcs11-tool', ['--module', module, '--token-label', label, '--read-object', '--type', 'pubkey', '--id', id, '-o', der]);
      return { id, publicKeyPem: openssl(['pkey', '-pubin', '-inform', 'DER', '-in', der]) };
    },
  };
}

export interface IssuedForKey {
  readonly cert: string;
  readonly serial: string;
}

/**
 * Issues a certificate for a public key whose private half the test cannot touch (it is on the
 * token): the CSR is signed by a throwaway key, and -force_pubkey puts the token's key in.
 */
export function issueForPublicKey(ca: Ca, name: string, publicKeyPem: string, outDir: string): IssuedForKey {
  const pub = join(outDir, `${name}.pub.pem`);
  const throwaway = join(outDir, `${name}.throwaway.key`);
  const csr = join(outDir, `${name}.csr`);
  const ext = join(outDir, `${name}.ext`);
  const cert = join(outDir, `${name}.crt`);
  writeFileSync(pub, publicKeyPem);
  openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', throwaway]);
  openssl(['req', '-new', '-key', throwaway, '-subj', `/CN=${name}`, '-out', csr]);
  writeFileSync(ext, 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n');
  const serial = `0x${randomBytes(8).toString('hex')}`;
  openssl(['x509', '-req', '-in', csr, '-force_pubkey', pub, '-CA', ca.cert, '-CAkey', ca.key, '-set_serial', serial, '-days', '30', '-extfile', ext, '-out', cert]);
  return { cert, serial: new X509Certificate(readFileSync(cert)).serialNumber };
}
