import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pkcs11Installed } from './credentials/pkcs11-addon.ts';
import { PACKAGE_ROOT } from './package-root.ts';

const pkg = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string };

export const VERSION: string = pkg.version;

/**
 * Ghostunnel's --version line, with Node.js in place of the Go toolchain. Scripts read the feature
 * flags: PKCS#11 is there when its optional package installed (it compiles at install), OS
 * keychains are not.
 */
export function versionLine(): string {
  return `rev v${VERSION} built with node${process.versions.node} (pkcs11: ${pkcs11Installed()}, keychain: false, openssl ${process.versions.openssl})`;
}
