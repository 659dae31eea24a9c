// The bench's throwaway PKI, made with the openssl CLI: one directory per key algorithm holding a
// CA, a server certificate (localhost, 127.0.0.1) and a client certificate, as separate PEM files
// (ca.crt, server.crt, server.key, client.crt, client.key) and as certificate-plus-key PEM files
// (server.pem, client.pem: HAProxy's crt option takes one file).
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export type KeyAlgorithm = 'ec' | 'rsa';

const KEY_OPTIONS: Record<KeyAlgorithm, string[]> = {
  ec: ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'],
  rsa: ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048'],
};

/** Valid for a month: long enough for any run, short enough that a stray copy is worth nothing. */
const DAYS = '30';

function openssl(args: readonly string[]): void {
  try {
    execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    const e = err as { code?: string; stderr?: Buffer };
    if (e.code === 'ENOENT') throw new Error('openssl not found: install the Debian package openssl');
    throw new Error(`openssl ${args.join(' ')}: ${String(e.stderr ?? '').trim()}`);
  }
}

interface Leaf {
  readonly name: 'server' | 'client';
  readonly subject: string;
  readonly extensions: string;
}

const LEAVES: readonly Leaf[] = [
  { name: 'server', subject: '/CN=localhost/OU=bench-server', extensions: 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n' },
  { name: 'client', subject: '/CN=client/OU=bench', extensions: 'subjectAltName=DNS:client.local\nextendedKeyUsage=clientAuth,serverAuth\n' },
];

/** Makes `dir` afresh with the CA and both leaves for `alg`; returns `dir`. */
export function makeCertDir(dir: string, alg: KeyAlgorithm): string {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const at = (file: string): string => join(dir, file);
  openssl(['genpkey', ...KEY_OPTIONS[alg], '-out', at('ca.key')]);
  openssl(['req', '-x509', '-new', '-key', at('ca.key'), '-out', at('ca.crt'), '-days', DAYS, '-subj', `/CN=bench-ca-${alg}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  for (const leaf of LEAVES) {
    const key = at(`${leaf.name}.key`);
    const cert = at(`${leaf.name}.crt`);
    const extFile = at(`${leaf.name}.ext`);
    writeFileSync(extFile, `${leaf.extensions}keyUsage=critical,digitalSignature,keyEncipherment\n`);
    openssl(['genpkey', ...KEY_OPTIONS[alg], '-out', key]);
    openssl(['req', '-new', '-key', key, '-subj', leaf.subject, '-out', at(`${leaf.name}.csr`)]);
    openssl(['x509', '-req', '-in', at(`${leaf.name}.csr`), '-CA', at('ca.crt'), '-CAkey', at('ca.key'), '-CAcreateserial',
      '-days', DAYS, '-extfile', extFile, '-out', cert]);
    writeFileSync(at(`${leaf.name}.pem`), readFileSync(cert, 'utf8') + readFileSync(key, 'utf8'));
    rmSync(at(`${leaf.name}.csr`));
    rmSync(extFile);
  }
  return dir;
}
