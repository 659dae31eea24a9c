// --config files (src/config/config-file.ts): any text is read or refused with a ConfigFileError
// that names the file; generated files mean what the same values mean on the command line.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { formatDuration } from '../../src/cli/duration.ts';
import { FLAGS, type FlagSpec } from '../../src/cli/flags.ts';
import { parseArgs } from '../../src/cli/parse.ts';
import { ConfigFileError, readConfigFile, type ConfigFile } from '../../src/config/config-file.ts';
import { tempDir } from '../helpers/pki.ts';

const dir = tempDir('gt-prop-config-');
let n = 0;
function fileWith(text: string, ext = '.yaml'): string {
  const path = join(dir, `c${++n}${ext}`);
  writeFileSync(path, text);
  return path;
}

function readOrError(path: string, mode: 'server' | 'client' | undefined): ConfigFile | ConfigFileError {
  try {
    return readConfigFile(path, mode);
  } catch (err) {
    if (err instanceof ConfigFileError) return err;
    throw err;
  }
}

const FLAG_ENV = FLAGS.flatMap((f) => (f.env ? [f.env] : []));
/** The command line's reading of `--name=text` pairs (environment cleared). */
function commandLineValues(mode: 'server' | 'client', pairs: Array<[string, string]>): ReadonlyMap<string, unknown> {
  const saved = new Map(FLAG_ENV.map((k) => [k, process.env[k]]));
  for (const k of FLAG_ENV) delete process.env[k];
  try {
    const out = parseArgs([mode, ...pairs.map(([k, v]) => `--${k}=${v}`)], () => {});
    assert.equal(out.kind, 'run');
    return out.kind === 'run' ? out.commandLine.set : new Map();
  } finally {
    for (const [k, v] of saved) if (v !== undefined) process.env[k] = v;
  }
}

const textFor = (spec: FlagSpec): fc.Arbitrary<string> => {
  switch (spec.kind) {
    case 'duration':
      return fc.integer({ min: 0, max: 1e12 }).map((ns) => formatDuration(ns / 1e6));
    case 'uint':
      return fc.integer({ min: 0, max: 0xffffffff }).map(String);
    case 'enum':
    case 'list':
      return spec.choices ? fc.constantFrom(...spec.choices.filter((c) => c !== '')) : fc.string({ minLength: 1 });
    case 'bool':
      return fc.constantFrom('true', 'false', 'TRUE', 'False');
    default:
      // Leading "@" would be an arguments file on the command line; NUL cannot be on a command line.
      return fc.string({ minLength: 1 }).filter((s) => !s.startsWith('@') && !s.includes('\0') && s.trim() !== '' && !['~', 'null', 'Null', 'NULL'].includes(s));
  }
};

describe('--config files (property-based)', () => {
  it('any text is read, or refused with a ConfigFileError starting "FILE:"', () => {
    const yamlish = fc.array(fc.oneof(fc.constantFrom('mode: server', 'mode: client', 'listen: 127.0.0.1:1', 'allow-cn: [a, b]', 'quiet:', '- x', '&a b', '*a', '{', '}', ': :', '"', "'", '\t', 'timed-reload: 5x', 'config: x', 'cert: @x'), fc.string()), { maxLength: 8 }).map((l) => l.join('\n'));
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary' }), yamlish), fc.constantFrom('server', 'client', undefined), (text, mode) => {
        const path = fileWith(text);
        const got = readOrError(path, mode);
        if (got instanceof ConfigFileError) assert.ok(got.message.startsWith(`${path}:`), got.message);
        else assert.ok(got.effectiveMode === mode || mode === undefined);
      }),
      { numRuns: 400 },
    );
  });

  it('flag values written as YAML or JSON mean what the same text means on the command line', () => {
    const valued = FLAGS.filter((f) => f.scopes.includes('global') && f.name !== 'config' && f.kind !== 'bool' && f.status !== 'platform');
    const setting = fc.constantFrom(...valued).chain((spec) => textFor(spec).map((text) => ({ spec, text })));
    fc.assert(
      fc.property(fc.uniqueArray(setting, { selector: (s) => s.spec.name, minLength: 1, maxLength: 8 }), fc.constantFrom('server', 'client'), fc.boolean(), (settings, mode, json) => {
        const doc: Record<string, string | string[]> = { mode };
        for (const { spec, text } of settings) doc[spec.name] = spec.kind === 'list' ? [text] : text;
        const path = fileWith(json ? JSON.stringify(doc) : stringify(doc), json ? '.json' : '.yaml');
        const file = readOrError(path, undefined);
        assert.ok(!(file instanceof ConfigFileError), `${JSON.stringify(doc)}: ${(file as Error).message}`);
        assert.equal(file.effectiveMode, mode);
        const cli = commandLineValues(mode, settings.map(({ spec, text }) => [spec.name, text]));
        for (const { spec } of settings) {
          const a = file.values.get(spec.name);
          const b = cli.get(spec.name);
          if (spec.kind === 'duration') assert.ok(Math.abs((a as number) - (b as number)) < 1e-9, spec.name);
          else assert.deepEqual(a, b, `${spec.name}: file ${JSON.stringify(a)} vs command line ${JSON.stringify(b)}`);
          assert.equal(typeof file.lines.get(spec.name), 'number');
        }
      }),
      { numRuns: 300 },
    );
  });

  it('an unknown key is refused with the line it is on', () => {
    const known = new Set(FLAGS.flatMap((f) => [f.name, ...(f.aliases ?? [])]));
    const key = fc.stringMatching(/^[a-z][a-z0-9-]{0,20}$/).filter((k) => !known.has(k) && k !== 'mode');
    fc.assert(
      fc.property(key, fc.nat({ max: 5 }), (k, before) => {
        const lines = ['mode: server', ...Array.from({ length: before }, (_, i) => `# comment ${i}`), `${k}: value`];
        const got = readOrError(fileWith(lines.join('\n')), undefined);
        assert.ok(got instanceof ConfigFileError);
        assert.ok(got.message.includes(`:${lines.length}: unknown key "${k}"`), got.message);
      }),
      { numRuns: 200 },
    );
  });
});
