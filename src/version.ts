import { readFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };

export const VERSION: string = pkg.version;

/**
 * Ghostunnel's --version line, with Node.js in place of the Go toolchain. Scripts read the feature
 * flags: PKCS#11 is built in (through OpenSSL's engine), OS keychains are not.
 */
export function versionLine(): string {
  return `rev v${VERSION} built with node${process.versions.node} (pkcs11: true, keychain: false, openssl ${process.versions.openssl})`;
}
