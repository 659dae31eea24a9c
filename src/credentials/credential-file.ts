import { readFileSync } from 'node:fs';
import { sandboxDenial } from '../sandbox/denial.ts';

/** An error in one credential file; the message names the file. */
export class CredentialError extends Error {
  override name = 'CredentialError';
}

/** Ghostunnel's read limit: larger files are truncated, not refused (spec §2.3). */
const MAX_KEYSTORE_BYTES = 50 * 1024 * 1024;

export function readCredentialFile(path: string, what: string): Buffer {
  try {
    const data = readFileSync(path);
    return data.length > MAX_KEYSTORE_BYTES ? data.subarray(0, MAX_KEYSTORE_BYTES) : data;
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (sandboxDenial(err) ?? (err as Error).message);
    throw new CredentialError(`reading ${what} file "${path}": ${why}`);
  }
}

/** Reads one credential file; the store passes a reader that also fingerprints what it read. */
export type FileReader = (path: string, what: string) => Buffer;
