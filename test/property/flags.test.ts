// Flag parsing (src/cli/parse.ts) on arbitrary and on generated command lines: whatever argv holds,
// parsing ends in an outcome or a UsageError; a generated valid command line reads back its values.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { formatDuration } from '../../src/cli/duration.ts';
import { UsageError } from '../../src/cli/errors.ts';
import { FLAGS, type FlagSpec } from '../../src/cli/flags.ts';
import { parseArgs, type ParseOutcome } from '../../src/cli/parse.ts';

/** Environment variables the flag table reads: cleared so that the machine's own do not leak in. */
const FLAG_ENV = FLAGS.flatMap((f) => (f.env ? [f.env] : []));

function withCleanEnv<T>(fn: () => T): T {
  const saved = new Map(FLAG_ENV.map((k) => [k, process.env[k]]));
  for (const k of FLAG_ENV) delete process.env[k];
  try {
    return fn();
  } finally {
    for (const [k, v] of saved) if (v !== undefined) process.env[k] = v;
  }
}

/** Parses, printing nothing; returns the outcome or the UsageError. Anything else is thrown on. */
function parseOrUsageError(argv: string[]): ParseOutcome | UsageError {
  try {
    return withCleanEnv(() => parseArgs(argv, () => {}));
  } catch (err) {
    if (err instanceof UsageError) return err;
    throw err;
  }
}

const names = FLAGS.flatMap((f) => [f.name, ...(f.aliases ?? [])]);
/** Words that steer the parser: sub-commands, flags (and their negations), built-ins. */
const word = fc.oneof(
  fc.constantFrom('server', 'client', 'check', 'quickstart', 'help', '--', '-', '--help', '--version', '--help-long', '-h', '--=', '@'),
  fc.constantFrom(...names).map((n) => `--${n}`),
  fc.constantFrom(...names).map((n) => `--no-${n}`),
  fc.tuple(fc.constantFrom(...names), fc.string()).map(([n, v]) => `--${n}=${v}`),
  fc.constantFrom('1s', '-5m', '0', '1.5h', 'x', '', '127.0.0.1:8443', 'unix:/tmp/x', 'spiffe://a/*', 'all', '4294967296', '-1'),
  fc.string(),
  fc.string({ unit: 'binary' }),
);

describe('flag parsing (property-based)', () => {
  it('an arbitrary argv ends in an outcome or a UsageError, never another exception', () => {
    fc.assert(
      fc.property(fc.array(word, { maxLength: 12 }), (argv) => {
        const out = parseOrUsageError(argv);
        if (out instanceof UsageError) {
          assert.ok(out.message.length > 0);
          return;
        }
        assert.ok(['run', 'exit', 'quickstart'].includes(out.kind), JSON.stringify(out));
        if (out.kind === 'exit') assert.equal(out.code, 0);
      }),
      { numRuns: 1500 },
    );
  });

  /** A value the flag accepts as given, and what parsing must turn it into. */
  const valueFor = (spec: FlagSpec): fc.Arbitrary<{ text: string; value: unknown }> => {
    switch (spec.kind) {
      case 'duration':
        return fc.integer({ min: 0, max: 1e12 }).map((ns) => ({ text: formatDuration(ns / 1e6), value: ns / 1e6 }));
      case 'uint':
        return fc.integer({ min: 0, max: 0xffffffff }).map((n) => ({ text: String(n), value: n }));
      case 'enum':
        return fc.constantFrom(...spec.choices!).map((c) => ({ text: c, value: c }));
      case 'list':
        return (spec.choices ? fc.constantFrom(...spec.choices) : fc.string({ minLength: 1 }).filter((s) => !s.startsWith('-'))).map((s) => ({ text: s, value: [s] }));
      default:
        // A value that starts with "-" would be read as a flag after a space; "=" keeps it a value.
        return fc.string().map((s) => ({ text: s, value: s }));
    }
  };
  const valued = FLAGS.filter((f) => f.kind !== 'bool' && f.scopes.includes('global') && f.name !== 'config');
  const bools = FLAGS.filter((f) => f.kind === 'bool' && f.scopes.includes('global'));

  it('a generated command line reads back every value it set (--flag=value and --flag value)', () => {
    const setting = fc.oneof(
      fc.constantFrom(...valued).chain((spec) => valueFor(spec).map((v) => ({ spec, ...v }))),
      fc.tuple(fc.constantFrom(...bools), fc.boolean()).map(([spec, on]) => ({ spec, text: undefined, value: on })),
    );
    fc.assert(
      fc.property(fc.uniqueArray(setting, { selector: (s) => s.spec.name, maxLength: 8 }), fc.boolean(), fc.constantFrom('server', 'client'), (settings, spaced, mode) => {
        const argv: string[] = [mode];
        for (const { spec, text, value } of settings) {
          if (text === undefined) argv.push(value ? `--${spec.name}` : `--no-${spec.name}`);
          // A separate word starting with "@" is an arguments file (kingpin), one with "-" a flag.
          else if (spaced && !/^[-@]/.test(text) && text !== '') argv.push(`--${spec.name}`, text);
          else argv.push(`--${spec.name}=${text}`);
        }
        const out = parseOrUsageError(argv);
        assert.ok(!(out instanceof UsageError), `${JSON.stringify(argv)}: ${(out as Error).message}`);
        assert.equal(out.kind, 'run');
        if (out.kind !== 'run') return;
        for (const { spec, value } of settings) {
          const got = out.commandLine.set.get(spec.name);
          const why: string = `--${spec.name} from ${JSON.stringify(argv)}: ${JSON.stringify(got)}`;
          // Durations are milliseconds in a double: equal to the nanosecond, not to the bit.
          if (spec.kind === 'duration') assert.ok(Math.abs((got as number) - (value as number)) < 1e-6, why);
          else assert.deepEqual(got, value, why);
        }
        assert.equal(out.commandLine.mode, mode);
      }),
      { numRuns: 500 },
    );
  });

  it('an invalid duration or unsigned integer is a UsageError that names the flag', () => {
    const numeric = FLAGS.filter((f) => (f.kind === 'duration' || f.kind === 'uint') && f.scopes.includes('global'));
    const bad = fc.string().filter((s) => !/^[-+]?[0-9.]*[a-zµμ]*$/.test(s) && s !== '');
    fc.assert(
      fc.property(fc.constantFrom(...numeric), bad, (spec, text) => {
        const out = parseOrUsageError(['server', `--${spec.name}=${text}`]);
        assert.ok(out instanceof UsageError, `--${spec.name}=${JSON.stringify(text)} accepted`);
        assert.ok(out.message.includes(`--${spec.name}`), out.message);
      }),
      { numRuns: 300 },
    );
  });
});
