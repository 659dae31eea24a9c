import { readFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };

export const VERSION: string = pkg.version;

/** Ghostunnel's --version line, with Node.js in place of the Go toolchain. */
export function versionLine(): string {
  return `rev v${VERSION} built with node${process.versions.node} (openssl ${process.versions.openssl})`;
}
