// Certificates made at test time with the real openssl CLI. `openssl ca` is used (rather than
// `x509 -req`) because it can back-date and post-date validity, for expired and future certs.
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireProgram } from './programs.ts';

export type KeyAlg = 'ec' | 'rsa' | 'ed25519';

export interface Issued {
  readonly name: string;
  readonly cert: string;
  readonly key: string;
  /** Certificate chain and key in one PEM file. */
  readonly pem: string;
  readonly serial: string;
}

export interface Ca extends Issued {
  readonly dir: string;
}

export interface IssueOptions {
  cn?: string;
  ou?: string | string[];
  dns?: string[];
  ips?: string[];
  uris?: string[];
  alg?: KeyAlg;
  /** openssl dates, YYYYMMDDHHMMSSZ; default: valid from an hour ago for 30 days. */
  startDate?: string;
  endDate?: string;
  /** Also issue the same key again: ignored; each call makes a fresh key. */
  ext?: 'server' | 'client' | 'both';
}

export function openssl(args: string[], input?: string): string {
  requireProgram('openssl');
  return execFileSync('openssl', args, { input, stdio: ['pipe', 'pipe', 'pipe'] }).toString();
}

export function tempDir(prefix = 'gt-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

function newKey(path: string, alg: KeyAlg): void {
  const args = alg === 'rsa' ? ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048'] : alg === 'ed25519' ? ['-algorithm', 'ED25519'] : ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'];
  openssl(['genpkey', ...args, '-out', path]);
}

/** An openssl date (YYYYMMDDHHMMSSZ) `offsetMs` from now, for IssueOptions' startDate and endDate. */
export function stamp(offsetMs: number): string {
  return new Date(Date.now() + offsetMs).toISOString().replace(/[-:T]/g, '').slice(0, 14) + 'Z';
}

function subject(opts: IssueOptions, fallback: string): string {
  const ous = opts.ou === undefined ? [] : Array.isArray(opts.ou) ? opts.ou : [opts.ou];
  return `/CN=${opts.cn ?? fallback}${ous.map((o) => `/OU=${o}`).join('')}`;
}

function serialOf(certPath: string): string {
  return new X509Certificate(readFileSync(certPath)).serialNumber;
}

function caConfig(dir: string): string {
  const cfg = join(dir, 'ca.cnf');
  writeFileSync(
    cfg,
    `[ca]\ndefault_ca=d\n[d]\ndir=${dir}\ndatabase=${dir}/index.txt\nnew_certs_dir=${dir}/newcerts\nserial=${dir}/serial\ndefault_md=sha256\npolicy=p\nunique_subject=no\ncopy_extensions=none\n[p]\ncommonName=supplied\norganizationalUnitName=optional\n[req]\ndistinguished_name=dn\n[dn]\n`,
  );
  return cfg;
}

/** A self-signed CA in a fresh directory (or `dir`). */
export function makeCa(name = 'test-ca', opts: { dir?: string; alg?: KeyAlg } = {}): Ca {
  const dir = opts.dir ?? tempDir();
  const caDir = join(dir, `${name}.ca`);
  mkdirSync(join(caDir, 'newcerts'), { recursive: true });
  writeFileSync(join(caDir, 'index.txt'), '');
  writeFileSync(join(caDir, 'serial'), `${Math.floor(Math.random() * 1e12).toString(16).padStart(16, '0')}\n`);
  const key = join(dir, `${name}.key`);
  const cert = join(dir, `${name}.crt`);
  newKey(key, opts.alg ?? 'ec');
  openssl(['req', '-x509', '-new', '-key', key, '-out', cert, '-days', '60', '-subj', `/CN=${name}`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  const pem = join(dir, `${name}.pem`);
  writeFileSync(pem, readFileSync(cert, 'utf8') + readFileSync(key, 'utf8'));
  return { name, cert, key, pem, serial: serialOf(cert), dir: caDir };
}

/** Issues a leaf signed by `ca`, into the CA's parent directory (or `outDir`). */
export function issue(ca: Ca, name: string, opts: IssueOptions = {}, outDir?: string): Issued {
  const dir = outDir ?? join(ca.dir, '..');
  const key = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const cert = join(dir, `${name}.crt`);
  const extFile = join(dir, `${name}.ext`);
  newKey(key, opts.alg ?? 'ec');
  openssl(['req', '-new', '-key', key, '-out', csr, '-subj', subject(opts, name)]);
  const sans = [
    ...(opts.dns ?? (opts.ips || opts.uris ? [] : ['localhost'])).map((d) => `DNS:${d}`),
    ...(opts.ips ?? (opts.dns || opts.uris ? [] : ['127.0.0.1'])).map((i) => `IP:${i}`),
    ...(opts.uris ?? []).map((u) => `URI:${u}`),
  ];
  const eku = opts.ext === 'server' ? 'serverAuth' : opts.ext === 'client' ? 'clientAuth' : 'serverAuth,clientAuth';
  writeFileSync(extFile, `[e]\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature${opts.alg === 'rsa' ? ',keyEncipherment' : ''}\nextendedKeyUsage=${eku}\n${sans.length ? `subjectAltName=${sans.join(',')}\n` : ''}`);
  openssl([
    'ca', '-batch', '-notext', '-config', caConfig(ca.dir), '-cert', ca.cert, '-keyfile', ca.key, '-in', csr, '-out', cert,
    '-extfile', extFile, '-extensions', 'e',
    '-startdate', opts.startDate ?? stamp(-3600_000), '-enddate', opts.endDate ?? stamp(30 * 86400_000),
  ]);
  const pem = join(dir, `${name}.pem`);
  writeFileSync(pem, readFileSync(cert, 'utf8') + readFileSync(key, 'utf8'));
  return { name, cert, key, pem, serial: serialOf(cert) };
}

/** Packs an issued pair (plus the CA) into PKCS#12; `legacy` uses RC2/3DES as OpenSSL 1.x did. */
export function toPkcs12(item: Issued, ca: Ca, password: string, opts: { legacy?: boolean; out?: string } = {}): string {
  const out = opts.out ?? item.cert.replace(/\.crt$/, opts.legacy ? '.legacy.p12' : '.p12');
  openssl(['pkcs12', '-export', ...(opts.legacy ? ['-legacy'] : []), '-in', item.cert, '-inkey', item.key, '-certfile', ca.cert, '-out', out, '-passout', `pass:${password}`]);
  return out;
}

/** Serial number of the certificate in a PEM file or string, upper-case hex like X509Certificate. */
export function serialOfPem(pem: string | Buffer): string {
  return new X509Certificate(pem).serialNumber;
}
