import { statSync } from 'node:fs';
import type { CredentialSources } from '../config/types.ts';

/**
 * The files that hold a private key (--key, --keystore; not with PKCS#11, where the key stays on
 * the token) and are readable by group or others: a warning for each, with the fix.
 */
export function keyFileModeWarnings(sources: CredentialSources): string[] {
  if (sources.pkcs11 !== undefined) return [];
  const warnings: string[] = [];
  for (const path of new Set([sources.key, sources.keystore])) {
    if (path === undefined || path === '') continue;
    let mode: number;
    try {
      mode = statSync(path).mode;
    } catch {
      continue;
    }
    if ((mode & 0o044) !== 0) {
      const octal = (mode & 0o777).toString(8).padStart(4, '0');
      warnings.push(`private key file ${path} is readable by ${mode & 0o040 ? (mode & 0o004 ? 'group and others' : 'group') : 'others'} (mode ${octal}); restrict it with chmod 600 ${path}`);
    }
  }
  return warnings;
}
