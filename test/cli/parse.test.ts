import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { formatDuration, parseDuration } from '../../src/cli/duration.ts';
import { UsageError } from '../../src/cli/errors.ts';
import { argsFor, parseArgs, type ParsedArgs } from '../../src/cli/parse.ts';
import { tempDir } from '../helpers/pki.ts';

function parse(argv: string[], env: Record<string, string> = {}): ParsedArgs {
  const saved = { ...process.env };
  Object.assign(process.env, env);
  try {
    const out = parseArgs(argv, () => {});
    assert.equal(out.kind, 'run');
    return argsFor(out.commandLine, out.commandLine.mode!);
  } finally {
    for (const k of Object.keys(env)) if (saved[k] === undefined) delete process.env[k];
  }
}

const base = ['--listen', '127.0.0.1:8443', '--target', '127.0.0.1:8080'];

describe('Go durations', () => {
  const cases: Array<[string, number]> = [['300s', 300_000], ['1m30s', 90_000], ['1.5h', 5_400_000], ['500ms', 500], ['0', 0], ['-2s', -2000], ['1h2m3.5s', 3_723_500], ['250us', 0.25], ['10ns', 0.00001]];
  for (const [text, ms] of cases) it(text, () => assert.equal(parseDuration(text), ms));
  for (const bad of ['', '5', '5 m', 'ten seconds', '1d', 's', '1.2.3s']) {
    it(`rejects "${bad}"`, () => assert.throws(() => parseDuration(bad), /duration/));
  }
  it('formats like Go', () => {
    assert.equal(formatDuration(90_000), '1m30s');
    assert.equal(formatDuration(500), '500ms');
    assert.equal(formatDuration(3_600_000), '1h0m0s');
    assert.equal(formatDuration(0), '0s');
  });
});

describe('command line (kingpin semantics)', () => {
  it('takes global flags before or after the sub-command', () => {
    const a = parse(['--connect-timeout', '3s', 'server', ...base]);
    const b = parse(['server', ...base, '--connect-timeout=3s']);
    assert.equal(a.mode, 'server');
    assert.equal(a.values.get('connect-timeout'), 3000);
    assert.equal(b.values.get('connect-timeout'), 3000);
  });
  it('accepts --flag=value and --flag value', () => {
    const a = parse(['server', '--listen=127.0.0.1:1', '--target', '127.0.0.1:2']);
    assert.equal(a.values.get('listen'), '127.0.0.1:1');
    assert.equal(a.values.get('target'), '127.0.0.1:2');
  });
  it('accumulates repeatable flags, including through aliases', () => {
    const a = parse(['server', ...base, '--allow-cn', 'a', '--allow-cn=b', '--allow-dns', 'x', '--allow-dns-san', 'y']);
    assert.deepEqual(a.values.get('allow-cn'), ['a', 'b']);
    assert.deepEqual(a.values.get('allow-dns'), ['x', 'y']);
  });
  it('inverts booleans with --no-', () => {
    const a = parse(['server', ...base, '--allow-all', '--no-allow-all']);
    assert.equal(a.values.get('allow-all'), false);
    const b = parse(['server', ...base, '--no-allow-all', '--allow-all']);
    assert.equal(b.values.get('allow-all'), true);
  });
  it('fills defaults', () => {
    const a = parse(['server', ...base]);
    assert.equal(a.values.get('connect-timeout'), 10_000);
    assert.equal(a.values.get('close-timeout'), 60_000);
    assert.equal(a.values.get('shutdown-timeout'), 300_000);
    assert.equal(a.explicit.has('connect-timeout'), false);
  });
  it('reads environment fallbacks, and a flag wins over its variable', () => {
    const a = parse(['server', ...base], { KEYSTORE_PATH: '/k.p12', KEYSTORE_PASS: 'pw', CACERT_PATH: '/ca.pem', CERT_PATH: '/c', KEY_PATH: '/k' });
    assert.equal(a.values.get('keystore'), '/k.p12');
    assert.equal(a.values.get('storepass'), 'pw');
    assert.equal(a.values.get('cacert'), '/ca.pem');
    assert.equal(a.values.get('cert'), '/c');
    assert.equal(a.values.get('key'), '/k');
    assert.ok(a.explicit.has('keystore'));
    const b = parse(['server', ...base, '--cacert', '/flag.pem'], { CACERT_PATH: '/env.pem' });
    assert.equal(b.values.get('cacert'), '/flag.pem');
  });
  it('expands @argsfile, skipping blank and # lines', () => {
    const file = join(tempDir(), 'args');
    writeFileSync(file, '# ghostunnel arguments\nserver\n\n--listen=127.0.0.1:9\n--target\n127.0.0.1:10\n--allow-cn\nsome client\n');
    const a = parse([`@${file}`]);
    assert.equal(a.values.get('listen'), '127.0.0.1:9');
    assert.deepEqual(a.values.get('allow-cn'), ['some client']);
  });
  it('reports a missing @argsfile as a usage error', () => {
    assert.throws(() => parseArgs(['@/no/such/file'], () => {}), (e) => e instanceof UsageError && /unable to read arguments file \/no\/such\/file/.test(e.message));
  });
  it('rejects a flag of the other mode', () => {
    assert.throws(() => parseArgs(['client', ...base, '--allow-cn', 'x'], () => {}), (e) => e instanceof UsageError && /unknown long flag '--allow-cn'/.test(e.message));
  });
  it('prints --help and --version with exit 0', () => {
    let out = '';
    assert.deepEqual(parseArgs(['--version'], (s) => (out += s)), { kind: 'exit', code: 0 });
    assert.match(out, /^rev v\d+\.\d+\.\d+ built with node24\./);
    out = '';
    assert.deepEqual(parseArgs(['server', '--help'], (s) => (out += s)), { kind: 'exit', code: 0 });
    assert.match(out, /--allow-cn <CN>/);
    assert.match(out, /--connect-timeout <DURATION>/, 'sub-command help lists the global flags');
  });
  it('lists the sub-commands that take options in the top-level help, though a parse declares only the named mode\'s', () => {
    for (const argv of [['--help'], ['check', '--help']]) {
      let out = '';
      assert.deepEqual(parseArgs(argv, (s) => (out += s)), { kind: 'exit', code: 0 });
      assert.match(out, /^ {2}server \[options\] +TLS listener/m, argv.join(' '));
      assert.match(out, /^ {2}client \[options\] +Plain local listener/m, argv.join(' '));
    }
  });
  it('parses a mode\'s flags whichever words come before it, and a flag value that names the other mode', () => {
    const outcome = parseArgs(['--quiet=conns', 'client', '--listen', '127.0.0.1:1', '--target', 'server:2', '--cacert', 'server', '--disable-authentication'], () => {});
    assert.equal(outcome.kind, 'run');
    if (outcome.kind === 'run') {
      assert.equal(outcome.commandLine.mode, 'client');
      assert.equal(outcome.commandLine.set.get('target'), 'server:2');
      assert.equal(outcome.commandLine.set.get('cacert'), 'server');
    }
  });
});
