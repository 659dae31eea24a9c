// The system programs a test runs, checked before it runs them: a missing one fails the test with
// one line naming its Debian package (from scripts/system-packages.txt, the list `npm run setup`
// installs), instead of an ENOENT stack trace from deep inside a helper.
import { accessSync, constants, globSync, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';

const TABLE = 'scripts/system-packages.txt';

interface Requirement {
  readonly pkg: string;
  /** For a shared library: where it may be (globs). A program is looked up on PATH. */
  readonly paths: readonly string[];
}

/** An error that is its message alone: the test runner reports it as one line, without a stack. */
export class MissingProgram extends Error {
  constructor(message: string) {
    super(message);
    this.stack = message;
  }
}

let table: Map<string, Requirement> | undefined;

function requirements(): Map<string, Requirement> {
  table ??= new Map(
    readFileSync(new URL(`../../${TABLE}`, import.meta.url), 'utf8')
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '' && !line.startsWith('#'))
      .map((line) => {
        const [name, pkg, ...paths] = line.split(/\s+/);
        return [name!, { pkg: pkg!, paths }];
      }),
  );
  return table;
}

function onPath(program: string): boolean {
  return (process.env.PATH ?? '').split(delimiter).some((dir) => {
    try {
      accessSync(join(dir, program), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

const found = new Set<string>();

/**
 * Throws a one-line MissingProgram unless `name` (a program, or a library listed with its paths in
 * scripts/system-packages.txt) is installed. Programs not in that list are a mistake in the test.
 */
export function requireProgram(name: string): void {
  if (found.has(name)) return;
  const requirement = requirements().get(name);
  if (requirement === undefined) throw new Error(`${name} is not in ${TABLE}: add it there with the Debian package that has it`);
  const present = requirement.paths.length > 0 ? requirement.paths.some((p) => globSync(p).length > 0) : onPath(name);
  if (!present) {
    const where = requirement.paths.length > 0 ? `at ${requirement.paths.join(' or ')}` : 'on PATH';
    throw new MissingProgram(`${name} not found ${where}: install the Debian package ${requirement.pkg} (npm run setup installs every package the tests use)`);
  }
  found.add(name);
}

/** requireProgram for each name; for a helper or a test that runs several. */
export function requirePrograms(...names: string[]): void {
  for (const name of names) requireProgram(name);
}
