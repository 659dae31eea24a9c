import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PACKAGE_ROOT } from './package-root.ts';

const pkg = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string };

export const VERSION: string = pkg.version;

/**
 * Ghostunnel's --version line, with Node.js in place of the Go toolchain. Scripts read the feature
 * flags: PKCS#11 is built in (through OpenSSL's engine), OS keychains are not.
 */
export function versionLine(): string {
  return `rev v${VERSION} built with node${process.versions.node} (pkcs11: true, keychain: false, openssl ${process.versions.openssl})`;
}
