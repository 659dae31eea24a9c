// A clone is enough: nothing the project runs (sources, tests, benchmark, soak, scripts, CI) reads
// a path outside the repository, such as the shared folder that once sat beside it on the
// development machines. Greps every tracked or new (not ignored) file in those folders.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { REPO } from '../helpers/package-install.ts';
import { requireProgram } from '../helpers/programs.ts';

const FOLDERS = ['src', 'test', 'bench', 'soak', 'scripts', '.ci', 'package.json'];

// Built from parts, so that this file does not match itself.
const SHARED = ['shared', ''].join('/');
const OUTSIDE = new RegExp(`\\.\\./${SHARED}|\\b${SHARED}(bench|fixtures|spec|hooks)\\b`);

/** Files under FOLDERS that git tracks or would track (new, not ignored), relative to the repository. */
function projectFiles(): string[] {
  requireProgram('git');
  const listed = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard', '--', ...FOLDERS], { cwd: REPO, encoding: 'utf8' });
  return listed.split('\0').filter((f) => f !== '');
}

/** "file:line: text" for every line of `files` that `pattern` matches. */
function matchingLines(files: readonly string[], pattern: RegExp): string[] {
  const found: string[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(join(REPO, file), 'utf8');
    } catch {
      continue; // deleted in the working tree, still in the index
    }
    text.split('\n').forEach((line, i) => {
      if (pattern.test(line)) found.push(`${file}:${i + 1}: ${line.trim()}`);
    });
  }
  return found;
}

describe('the repository is self-contained', () => {
  it(`no file in ${FOLDERS.join(', ')} names a path in the shared folder outside the repository`, () => {
    const files = projectFiles();
    assert.ok(files.some((f) => f.startsWith('test/')) && files.some((f) => f.startsWith('src/')), `git listed ${files.length} files`);
    const offending = matchingLines(files, OUTSIDE);
    assert.deepEqual(offending, [], `paths outside the repository:\n${offending.join('\n')}`);
  });

  it('the check finds such a path when there is one', () => {
    const lines = [`const kit = '../${SHARED}bench/loadgen';`, `// see /work/${SHARED}fixtures/opa`, 'const shared = sharedPool;'];
    assert.deepEqual(lines.map((l) => OUTSIDE.test(l)), [true, true, false]);
  });
});
