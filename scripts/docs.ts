// `npm run docs`: writes the documents generated from the flag table. `--check` writes nothing and
// fails when a committed copy is stale (the tests check the same).
import { readFileSync, writeFileSync } from 'node:fs';
import { manPage } from '../src/cli/man-page.ts';
import { migrationGuide } from '../src/cli/migration-guide.ts';
import { configSchema, configurationDoc } from '../src/config/config-doc.ts';

const GENERATED: ReadonlyArray<readonly [string, () => string]> = [
  ['docs/ghostunnel.1', manPage],
  ['docs/migration.md', migrationGuide],
  ['docs/configuration.md', () => configurationDoc(readFileSync(new URL('../docs/configuration.md', import.meta.url), 'utf8'))],
  ['docs/configuration.schema.json', configSchema],
];

const check = process.argv.includes('--check');
let stale = 0;
for (const [relative, generate] of GENERATED) {
  const path = new URL(`../${relative}`, import.meta.url);
  const text = generate();
  let current: string | undefined;
  try {
    current = readFileSync(path, 'utf8');
  } catch {
    current = undefined;
  }
  if (current === text) continue;
  if (check) {
    process.stderr.write(`${relative} is out of date: run npm run docs\n`);
    stale++;
  } else {
    writeFileSync(path, text);
    process.stdout.write(`wrote ${relative}\n`);
  }
}
process.exitCode = stale > 0 ? 1 : 0;
