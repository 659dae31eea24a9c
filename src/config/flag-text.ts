import { formatDuration } from '../cli/duration.ts';
import type { FlagSpec } from '../cli/flags.ts';
import type { FlagValue } from '../cli/parse.ts';

/** Flags whose value is a secret: shown masked wherever the configuration is printed or logged. */
const SECRET_FLAGS: ReadonlySet<string> = new Set(['storepass', 'pkcs11-pin']);
export const MASK = '********';

/** A URL's password (socks5://user:pass@…, https://user:pass@…) masked; other text as it is. */
function maskUrlPassword(text: string): string {
  if (!/^[a-z][a-z0-9+.-]*:\/\/[^/]*@/i.test(text)) return text;
  try {
    const url = new URL(text);
    if (url.password === '') return text;
    url.password = MASK;
    return url.toString();
  } catch {
    return text;
  }
}

/**
 * A flag value as it would be written in a --config file (durations in Go syntax), with secrets
 * masked: what `ghostunnel check` prints and reload log lines show.
 */
export function flagText(spec: FlagSpec, value: FlagValue): string | boolean | number | string[] {
  if (SECRET_FLAGS.has(spec.name)) return value === '' ? '' : MASK;
  if (spec.kind === 'duration') return formatDuration(value as number);
  if (Array.isArray(value)) return value.map(maskUrlPassword);
  return typeof value === 'string' ? maskUrlPassword(value) : value;
}
