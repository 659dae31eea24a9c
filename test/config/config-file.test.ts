// The --config file read in process: values converted as the command line converts them, merged
// under the command line, errors naming the file and line; the key list and schema in docs/ current.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { StartupError, UsageError } from '../../src/cli/errors.ts';
import { FLAGS } from '../../src/cli/flags.ts';
import { parseArgs, type CommandLine } from '../../src/cli/parse.ts';
import { buildConfig, checkParseRules } from '../../src/config/build.ts';
import { configKeys, configSchema, configurationDoc } from '../../src/config/config-doc.ts';
import { ConfigFileError, readConfigFile } from '../../src/config/config-file.ts';
import { ConfigSource, located } from '../../src/config/config-source.ts';
import { flagText, MASK } from '../../src/config/flag-text.ts';
import { ACCESS_RULE_FLAGS, changedFlags, RELOAD_SCOPE, withoutRestartChanges } from '../../src/config/reload-scope.ts';
import { tempDir } from '../helpers/pki.ts';

const dir = tempDir('gt-config-');
let counter = 0;
function file(text: string, ext = 'yaml'): string {
  const path = join(dir, `config-${++counter}.${ext}`);
  writeFileSync(path, text);
  return path;
}

function commandLine(argv: string[]): CommandLine {
  const out = parseArgs(argv, () => {});
  assert.equal(out.kind, 'run');
  return out.commandLine;
}

function fails(path: string, pattern: RegExp, mode: 'server' | 'client' | 'from the file' = 'server'): void {
  const commandLineMode = mode === 'from the file' ? undefined : mode;
  assert.throws(() => readConfigFile(path, commandLineMode), (e) => e instanceof ConfigFileError && pattern.test(e.message), `expected ${pattern}`);
}

describe('reading a --config file', () => {
  it('converts every value by its flag kind and keeps the line of each key', () => {
    const path = file(
      ['mode: server', 'listen: 127.0.0.1:8443', 'allow-cn: [client1, client2]', 'allow-ou: team', 'allow-dns-san:', '  - a.example', 'timed-reload: 5m', 'max-concurrent-conns: 10', 'allow-all: false', 'pkcs11-pin: 0123', 'proxy-protocol-mode: tls', 'quiet: [conns, handshake-errs]', ''].join('\n'),
    );
    const read = readConfigFile(path, undefined);
    assert.equal(read.mode, 'server');
    assert.equal(read.effectiveMode, 'server');
    assert.deepEqual(Object.fromEntries(read.values), {
      listen: '127.0.0.1:8443',
      'allow-cn': ['client1', 'client2'],
      'allow-ou': ['team'],
      'allow-dns': ['a.example'],
      'timed-reload': 300_000,
      'max-concurrent-conns': 10,
      'allow-all': false,
      'pkcs11-pin': '0123',
      'proxy-protocol-mode': 'tls',
      quiet: ['conns', 'handshake-errs'],
    });
    assert.equal(read.lines.get('mode'), 1);
    assert.equal(read.lines.get('allow-dns'), 5);
    assert.equal(read.lines.get('quiet'), 12);
  });

  it('reads JSON, with its booleans and numbers', () => {
    const read = readConfigFile(file('{"mode": "client", "listen": "127.0.0.1:9000",\n "verify-cn": ["server"], "connect-timeout": "3s", "disable-authentication": true, "max-concurrent-conns": 4}', 'json'), undefined);
    assert.equal(read.effectiveMode, 'client');
    assert.deepEqual(read.values.get('verify-cn'), ['server']);
    assert.equal(read.values.get('connect-timeout'), 3000);
    assert.equal(read.values.get('disable-authentication'), true);
    assert.equal(read.values.get('max-concurrent-conns'), 4);
    assert.equal(read.lines.get('verify-cn'), 2);
  });

  it('refuses what cannot be used, naming the file and line', () => {
    fails(file('mode: server\nallow-cn: [a\nlisten: x\n'), /config-\d+\.yaml:3:1: invalid YAML: /);
    fails(file('mode: server\ntarget: a\ntarget: b\n'), /config-\d+\.yaml:3:1: invalid YAML: Map keys must be unique/);
    fails(file('mode: server\n\nallow-cnn: [x]\n'), /config-\d+\.yaml:3: unknown key "allow-cnn"/);
    fails(file('mode: server\nverify-cn: [x]\n'), /config-\d+\.yaml:2: verify-cn: a client-mode flag, not valid in server mode/);
    fails(file('allow-dns: [a]\nallow-dns-san: [b]\n'), /config-\d+\.yaml:2: allow-dns-san: --allow-dns is set twice/);
    fails(file('connect-timeout: 10\n'), /config-\d+\.yaml:1: connect-timeout: missing unit in duration "10"/);
    fails(file('max-concurrent-conns: -1\n'), /config-\d+\.yaml:1: max-concurrent-conns: expected an unsigned integer/);
    fails(file('allow-all: yes please\n'), /config-\d+\.yaml:1: allow-all: expected true or false/);
    fails(file('proxy-protocol-mode: full\n'), /config-\d+\.yaml:1: proxy-protocol-mode: enum value must be one of conn,tls,tls-full/);
    fails(file('quiet: [conns, everything]\n'), /config-\d+\.yaml:1: quiet: enum value must be one of all,conns,conn-errs,handshake-errs/);
    fails(file('target:\n'), /config-\d+\.yaml:1: target: no value/);
    fails(file('target: [a, b]\n'), /config-\d+\.yaml:1: target: expected a single value, got a list/);
    fails(file('listen: 1\nallow-cn:\n  - a\n  - {b: c}\n'), /config-\d+\.yaml:4: allow-cn: expected a list of single values, got a mapping/);
    fails(file('config: other.yaml\n'), /config-\d+\.yaml:1: config: a configuration file cannot name another one/);
    fails(file('- target\n'), /config-\d+\.yaml:1: expected a mapping of flag names to values/);
    fails(file('mode: client\n'), /config-\d+\.yaml:1: mode: client conflicts with the server sub-command/);
    fails(file('mode: proxy\n'), /config-\d+\.yaml:1: mode: expected server or client, got "proxy"/, 'from the file');
    fails(file('target: a:1\n'), /config-\d+\.yaml: no mode: add "mode: server" or "mode: client"/, 'from the file');
    fails(join(dir, 'missing.yaml'), /missing\.yaml: cannot read the --config file: ENOENT/);
  });
});

describe('the file under the command line', () => {
  it('the command line and the environment override the file; a list is replaced, not merged', async () => {
    const path = file('mode: server\nlisten: 127.0.0.1:1\ntarget: 127.0.0.1:2\nallow-cn: [from-file]\ncert: file.crt\nconnect-timeout: 3s\n');
    const saved = process.env.CERT_PATH;
    process.env.CERT_PATH = 'env.crt';
    try {
      const loaded = await new ConfigSource(commandLine(['--config', path, 'server', '--allow-cn', 'cli-1', '--allow-cn', 'cli-2', '--listen', '127.0.0.1:3'])).load();
      assert.equal(loaded.args.mode, 'server');
      assert.deepEqual(loaded.args.values.get('allow-cn'), ['cli-1', 'cli-2']);
      assert.equal(loaded.args.values.get('listen'), '127.0.0.1:3');
      assert.equal(loaded.args.values.get('cert'), 'env.crt');
      assert.equal(loaded.args.values.get('target'), '127.0.0.1:2');
      assert.equal(loaded.args.values.get('connect-timeout'), 3000);
      assert.equal(loaded.args.values.get('close-timeout'), 60_000, 'defaults fill in the rest');
      assert.ok(loaded.args.explicit.has('target') && !loaded.args.explicit.has('close-timeout'));
      assert.deepEqual([...loaded.fromFile].sort(), ['connect-timeout', 'target']);
    } finally {
      if (saved === undefined) delete process.env.CERT_PATH;
      else process.env.CERT_PATH = saved;
    }
  });

  it('the file names the mode when no sub-command does; without either it is a usage error', async () => {
    const loaded = await new ConfigSource(commandLine(['--config', file('mode: client\nlisten: 127.0.0.1:1\n')])).load();
    assert.equal(loaded.args.mode, 'client');
    assert.ok(loaded.args.values.has('verify-cn'));
    assert.throws(() => parseArgs([], () => {}), (e) => e instanceof UsageError && e.message === 'expected command but got nothing');
    assert.throws(() => parseArgs(['check'], () => {}), (e) => e instanceof UsageError && /expected a server or client sub-command, or --config FILE/.test(e.message));
  });

  it('validation errors about keys of the file get its name and line', async () => {
    const path = file('mode: server\nlisten: 127.0.0.1:1\ntarget: 127.0.0.1:2\ncert: a.crt\nkey: a.key\nallow-all: true\nallow-cn: [x]\n');
    const loaded = await new ConfigSource(commandLine(['--config', path])).load();
    checkParseRules(loaded.args);
    assert.throws(
      () => located(loaded, () => buildConfig(loaded.args)),
      (e) => e instanceof StartupError && e.message === `${path}:6: --allow-all is mutually exclusive with other access control flags`,
    );
    const pprof = file('mode: server\nlisten: 127.0.0.1:1\ntarget: 127.0.0.1:2\nenable-pprof: true\n');
    const loadedPprof = await new ConfigSource(commandLine(['--config', pprof])).load();
    assert.throws(() => located(loadedPprof, () => checkParseRules(loadedPprof.args)), (e) => e instanceof UsageError && e.message === `${pprof}:4: --enable-pprof requires --status to be set`);
    const none = file('mode: server\nlisten: 127.0.0.1:1\ntarget: 127.0.0.1:2\ncert: a.crt\nkey: a.key\n');
    const loadedNone = await new ConfigSource(commandLine(['--config', none])).load();
    assert.throws(() => located(loadedNone, () => buildConfig(loadedNone.args)), (e) => e instanceof StartupError && e.message.startsWith(`${none}: at least one access control flag`));
    const cli = await new ConfigSource(commandLine(['--config', none, 'server', '--allow-all', '--allow-cn', 'x'])).load();
    assert.throws(() => located(cli, () => buildConfig(cli.args)), (e) => e instanceof StartupError && e.message === '--allow-all is mutually exclusive with other access control flags', 'flags from the command line are not put on the file');
  });
});

describe('reload scopes, secrets and the documents', () => {
  it('every flag has a reload scope, and a restart-scoped change is put back', async () => {
    for (const spec of FLAGS) assert.ok(RELOAD_SCOPE[spec.name], `--${spec.name} has no reload scope in src/config/reload-scope.ts`);
    for (const name of ACCESS_RULE_FLAGS) assert.equal(RELOAD_SCOPE[name], 'context', `${name}: an access rule renews the TLS context`);
    const path = file('mode: server\nlisten: 127.0.0.1:1\ntarget: 127.0.0.1:2\nallow-cn: [a]\n');
    const before = (await new ConfigSource(commandLine(['--config', path])).load()).args;
    writeFileSync(path, 'mode: server\nlisten: 127.0.0.1:9\ntarget: 127.0.0.1:3\nallow-cn: [b]\nstatus: 127.0.0.1:0\n');
    const after = (await new ConfigSource(commandLine(['--config', path])).load()).args;
    assert.deepEqual(changedFlags(before, after), ['status', 'listen', 'target', 'allow-cn']);
    const applied = withoutRestartChanges(after, before);
    assert.deepEqual(changedFlags(before, applied), ['target', 'allow-cn']);
    assert.ok(!applied.explicit.has('status'));
  });

  it('masks secrets and URL passwords wherever the configuration is shown', () => {
    const spec = (name: string) => FLAGS.find((f) => f.name === name)!;
    assert.equal(flagText(spec('storepass'), 'hunter2'), MASK);
    assert.equal(flagText(spec('pkcs11-pin'), '0123'), MASK);
    assert.equal(flagText(spec('proxy'), 'socks5://user:pw@127.0.0.1:1080'), `socks5://user:${encodeURIComponent(MASK)}@127.0.0.1:1080`);
    assert.equal(flagText(spec('timed-reload'), 90_000), '1m30s');
  });

  it('docs/configuration.md lists every key and docs/configuration.schema.json is current (else: node scripts/docs.ts)', () => {
    const doc = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');
    assert.equal(doc, configurationDoc(doc), 'docs/configuration.md is stale: run node scripts/docs.ts');
    for (const spec of configKeys()) assert.match(doc, new RegExp(`^\\| \`${spec.name}\``, 'm'), `${spec.name} is missing from docs/configuration.md`);
    const schemaText = readFileSync(new URL('../../docs/configuration.schema.json', import.meta.url), 'utf8');
    assert.equal(schemaText, configSchema(), 'docs/configuration.schema.json is stale: run node scripts/docs.ts');
    const schema = JSON.parse(schemaText) as { properties: Record<string, unknown> };
    for (const spec of configKeys()) assert.ok(schema.properties[spec.name], `${spec.name} is missing from the schema`);
    assert.ok(!('config' in schema.properties));
  });
});
