import { readFileSync } from 'node:fs';

/**
 * kingpin's @file expansion: an argument "@path" is replaced by the lines of that file, one
 * argument per line; blank lines and lines starting with "#" are skipped.
 */
export function expandArgsFiles(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (const arg of argv) {
    if (!arg.startsWith('@') || arg.length === 1) {
      out.push(arg);
      continue;
    }
    const path = arg.slice(1);
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      throw new Error(`unable to read arguments file ${path}: ${(err as Error).message}`);
    }
    for (const raw of text.split('\n')) {
      const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
      if (line.trim() === '' || line.startsWith('#')) continue;
      out.push(line);
    }
  }
  return out;
}
