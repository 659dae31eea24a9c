// Where the package's own files are (package.json, proto/, build/Release/): the first directory
// above this module that holds a package.json, so that the same code finds them from src/ (type
// stripping) and from the bundle in dist/, whatever depth a module had before bundling.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

function packageRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no package.json in ${from} or above`);
  }
}

export const PACKAGE_ROOT = packageRoot(import.meta.dirname);
