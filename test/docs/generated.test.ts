// The documents generated from the flag table (`npm run docs`): current, complete against
// Ghostunnel 1.11.1's flags (test/fixtures/ghostunnel-1.11.1-flags.json), and the same page that
// --help-man prints.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { FLAGS } from '../../src/cli/flags.ts';
import { manPage } from '../../src/cli/man-page.ts';
import { guideSections, migrationGuide } from '../../src/cli/migration-guide.ts';
import { runToExit } from '../helpers/daemon.ts';
import { requireProgram } from '../helpers/programs.ts';

const root = new URL('../../', import.meta.url);
const read = (relative: string): string => readFileSync(new URL(relative, root), 'utf8');

/** Every flag of Ghostunnel 1.11.1 (its own, aliases, kingpin built-ins), without the leading --. */
function ghostunnelFlags(): Set<string> {
  const { flags } = JSON.parse(read('test/fixtures/ghostunnel-1.11.1-flags.json')) as { flags: string[] };
  const names = new Set(flags);
  assert.equal(names.size, flags.length, 'ghostunnel-1.11.1-flags.json lists a flag twice');
  return names;
}

describe('generated documents', () => {
  it('docs/ghostunnel.1 and docs/migration.md are current (else: npm run docs)', () => {
    assert.equal(read('docs/ghostunnel.1'), manPage(), 'docs/ghostunnel.1 is stale: run npm run docs');
    assert.equal(read('docs/migration.md'), migrationGuide(), 'docs/migration.md is stale: run npm run docs');
  });

  it('the migration page has a row for every flag of Ghostunnel 1.11.1, and marks only our own flags new', () => {
    const named = ghostunnelFlags();
    assert.ok(named.size > 80, `read ${named.size} flags from ghostunnel-1.11.1-flags.json`);
    const rows = guideSections().flatMap(([, r]) => r);
    const byName = new Map(rows.map((r) => [r.name, r]));
    const page = read('docs/migration.md');
    for (const flag of named) {
      const row = byName.get(`--${flag}`);
      assert.ok(row, `--${flag} (Ghostunnel 1.11.1) has no row in the migration guide`);
      assert.notEqual(row.compatibility, 'new', `--${flag} is in Ghostunnel, so it cannot be new`);
      assert.match(page, new RegExp(`^\\| \`--${flag}\` \\| ${row.compatibility} \\|`, 'm'));
    }
    for (const spec of FLAGS) {
      if (named.has(spec.name)) continue;
      assert.equal(byName.get(`--${spec.name}`)?.compatibility, 'new', `--${spec.name} is not in Ghostunnel: its note must start with "Extension:"`);
    }
    for (const command of ['server', 'client', 'service']) assert.ok(byName.has(command), command);
    assert.equal(byName.get('service')!.compatibility, 'not supported');
  });

  it('--help-man and --help-custom-man print the man page and exit 0; groff reads it without a warning', async () => {
    for (const flag of ['--help-man', 'server --help-custom-man']) {
      const { code, stdout } = await runToExit(flag.split(' '));
      assert.equal(code, 0, flag);
      assert.equal(stdout, manPage(), flag);
    }
    requireProgram('groff');
    const warnings = execFileSync('groff', ['-man', '-Tutf8', '-ww', '-z'], { input: manPage(), stdio: ['pipe', 'pipe', 'pipe'], encoding: 'utf8' });
    assert.equal(warnings, '');
    const rendered = execFileSync('groff', ['-man', '-Tascii', '-P', '-cbou'], { input: manPage(), encoding: 'utf8' });
    assert.match(rendered, /^ +--allow-cn CN$/m);
    assert.match(rendered, /^ +SIGHUP, SIGUSR1$/m);
  });

  it('--help and the man page list the same flags for each mode', async () => {
    const page = manPage();
    for (const mode of ['server', 'client']) {
      const { code, stdout } = await runToExit([mode, '--help']);
      assert.equal(code, 0);
      const inHelp = new Set([...stdout.matchAll(/^ {2}--([a-z0-9-]+)/gm)].map((m) => m[1]!));
      inHelp.delete('help');
      inHelp.delete('version');
      const visible = FLAGS.filter((f) => !f.hidden && (f.scopes.includes('global') || f.scopes.includes(mode as 'server'))).map((f) => f.name);
      assert.deepEqual([...inHelp].sort(), [...visible].sort(), `${mode} --help`);
      for (const name of visible) assert.ok(page.includes(`\\fB\\-\\-${name}\\fR`), `man page lacks --${name}`);
    }
  });

  it('--help-long prints the help of every sub-command, exit 0', async () => {
    const { code, stdout } = await runToExit(['--help-long']);
    assert.equal(code, 0);
    for (const usage of ['ghostunnel [options] [command]', 'ghostunnel server [options]', 'ghostunnel client [options]']) assert.ok(stdout.includes(`Usage: ${usage}`), usage);
  });
});
