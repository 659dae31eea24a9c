// Self-signed certificates with chosen validity dates (expired ones included): `openssl ca
// -selfsign` is the openssl CLI that can back-date, so it gets a minimal CA database of its own.
import { X509Certificate } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openssl, tempDir, type KeyAlg } from './pki.ts';

export interface SelfSigned {
  readonly cert: string;
  readonly key: string;
  readonly serial: string;
}

export interface SelfSignedOptions {
  cn?: string;
  alg?: KeyAlg;
  /** openssl dates, YYYYMMDDHHMMSSZ. */
  startDate: string;
  endDate: string;
  /** Reuse this key file instead of making a new one. */
  key?: string;
}

export function selfSigned(name: string, opts: SelfSignedOptions, dir = tempDir()): SelfSigned {
  const db = join(dir, `${name}.db`);
  mkdirSync(join(db, 'new'), { recursive: true });
  writeFileSync(join(db, 'index.txt'), '');
  writeFileSync(join(db, 'serial'), `${Math.floor(Math.random() * 1e12).toString(16).padStart(16, '0')}\n`);
  const cfg = join(db, 'ca.cnf');
  writeFileSync(cfg, `[ca]\ndefault_ca=d\n[d]\ndatabase=${db}/index.txt\nnew_certs_dir=${db}/new\nserial=${db}/serial\ndefault_md=sha256\npolicy=p\nunique_subject=no\n[p]\ncommonName=supplied\n[e]\nbasicConstraints=CA:FALSE\nsubjectAltName=DNS:self-signed.invalid\n`);
  const key = opts.key ?? join(dir, `${name}.key`);
  if (opts.key === undefined) {
    const alg = opts.alg ?? 'ec';
    openssl(['genpkey', ...(alg === 'rsa' ? ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048'] : alg === 'ed25519' ? ['-algorithm', 'ED25519'] : ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256']), '-out', key]);
  }
  const csr = join(dir, `${name}.csr`);
  const cert = join(dir, `${name}.crt`);
  openssl(['req', '-new', '-key', key, '-subj', `/CN=${opts.cn ?? name}`, '-out', csr]);
  openssl(['ca', '-batch', '-selfsign', '-notext', '-config', cfg, '-keyfile', key, '-in', csr, '-out', cert, '-extensions', 'e', '-startdate', opts.startDate, '-enddate', opts.endDate]);
  return { cert, key, serial: new X509Certificate(readFileSync(cert)).serialNumber };
}
