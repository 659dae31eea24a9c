import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { system } from '../sys/platform.ts';
import { CredentialError } from './credential-file.ts';

/**
 * The bridge to OpenSSL's pkcs11 engine (libp11), through which a SecureContext uses a key that
 * never leaves the token: Node's `privateKeyEngine`/`privateKeyIdentifier` context options, with
 * the module and the engine directory passed in the environment, where the engine looks for them.
 */

export const ENGINE_ID = 'pkcs11';
const ENGINE_FILE = 'pkcs11.so';
const ENGINE_PACKAGE = 'libengine-pkcs11-openssl';

/** OPENSSL_ENGINES when set (as for OpenSSL itself); else where distributions put OpenSSL 3 engines. */
function engineDirCandidates(): string[] {
  if (process.env.OPENSSL_ENGINES) return [process.env.OPENSSL_ENGINES];
  const dirs: string[] = [];
  for (const prefix of ['/usr/lib', '/usr/local/lib']) {
    let entries: string[] = [];
    try {
      entries = readdirSync(prefix).filter((e) => /-linux-gnu/.test(e));
    } catch {
      // No such prefix on this system.
    }
    dirs.push(...entries.map((e) => join(prefix, e, 'engines-3')), `${prefix}64/engines-3`, `${prefix}/engines-3`);
  }
  return dirs;
}

let prepared = false;

/**
 * Checks that this Node.js can use engine keys and that the pkcs11 engine is installed, then points
 * the engine at the module. Idempotent; the first call decides the module for the process.
 */
export function prepareEngine(module: string): void {
  if (prepared) return;
  if (typeof (process.getBuiltinModule('node:tls').createSecureContext().context as { setEngineKey?: unknown }).setEngineKey !== 'function') {
    throw new CredentialError('PKCS#11 keys need OpenSSL engine support, which this Node.js build lacks');
  }
  const candidates = engineDirCandidates();
  const dir = candidates.find((d) => existsSync(join(d, ENGINE_FILE)));
  if (dir === undefined) {
    throw new CredentialError(
      `PKCS#11 keys are used through OpenSSL's pkcs11 engine, and ${ENGINE_FILE} was not found (looked in ${[...new Set(candidates)].join(', ')}); install the package ${ENGINE_PACKAGE} (apt-get install ${ENGINE_PACKAGE}; libp11 on other systems), or set OPENSSL_ENGINES to the directory holding ${ENGINE_FILE}`,
    );
  }
  process.env.OPENSSL_ENGINES = dir;
  process.env.PKCS11_MODULE_PATH = resolve(module);
  prepared = true;
}

let pinDir: string | undefined;

/** A RAM-backed directory when there is one, so the PIN does not reach a disk. */
function privateBase(): string {
  const ram = system.ramDirectory;
  try {
    if (ram !== undefined && statSync(ram).isDirectory()) return ram;
  } catch {
    // Not mounted: fall back to the temp directory.
  }
  return tmpdir();
}

/** Where the engine reads the PIN: a fixed path in a private (0700) directory, removed at exit. */
function pinPath(): string {
  if (pinDir === undefined) {
    const dir = mkdtempSync(join(privateBase(), 'ghostunnel-pkcs11-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    pinDir = dir;
  }
  return join(pinDir, 'pin');
}

/**
 * Runs `load`, in which OpenSSL's engine logs in to load the key, with the PIN readable at the path
 * the key URI names (`pin-source=file:`). The file holds the PIN alone (a newline would count as
 * part of it), mode 0600, and exists only meanwhile. The engine prints the key URI when a load
 * fails, which is why the PIN goes through a file and never into the URI.
 */
export function withPinFile<T>(pin: string, load: () => T): T {
  const path = pinPath();
  writeFileSync(path, pin, { mode: 0o600, flag: 'wx' });
  try {
    return load();
  } finally {
    rmSync(path, { force: true });
  }
}

/** RFC 7512 percent-encoding: every byte outside the unreserved set. */
function pct(bytes: Buffer, keep: RegExp = /[A-Za-z0-9\-._~]/): string {
  return [...bytes].map((b) => (keep.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).padStart(2, '0').toUpperCase()}`)).join('');
}

/** The engine's name for one private key: token and CKA_ID (and label when it has one), never the PIN. */
export function engineKeyUri(tokenLabel: string, id: Buffer, objectLabel: string, pin: string): string {
  // The ID as %XX for every byte (a pattern that keeps nothing), as pkcs11-tool prints IDs.
  const parts = [`token=${pct(Buffer.from(tokenLabel, 'utf8'))}`, `id=${pct(id, /(?!)/)}`];
  if (objectLabel !== '') parts.push(`object=${pct(Buffer.from(objectLabel, 'utf8'))}`);
  parts.push('type=private');
  if (pin !== '') parts.push(`pin-source=${pct(Buffer.from(`file:${pinPath()}`, 'utf8'), /[A-Za-z0-9\-._~/:]/)}`);
  return `pkcs11:${parts.join(';')}`;
}
