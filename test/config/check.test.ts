// `ghostunnel check`: validates flags and --config file as a start would (credentials loaded,
// policies compiled), binds nothing, prints the effective configuration, exits 0 or 1.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { runToExit } from '../helpers/daemon.ts';
import { issue, makeCa, tempDir } from '../helpers/pki.ts';

const ca = makeCa('check-ca');
const server = issue(ca, 'server', { cn: 'localhost' });
const dir = tempDir('gt-check-');
let counter = 0;
function configFile(lines: string[]): string {
  const path = join(dir, `check-${++counter}.yaml`);
  writeFileSync(path, `${lines.join('\n')}\n`);
  return path;
}

describe('ghostunnel check', () => {
  // A port already taken: check succeeds on it because it binds nothing.
  let taken: Server, port: number;
  before(async () => {
    taken = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    port = (taken.address() as AddressInfo).port;
  });
  after(() => new Promise<void>((r) => taken.close(() => r())));

  const good = (): string[] => [
    'mode: server',
    `listen: 127.0.0.1:${port}`,
    'target: 127.0.0.1:8080',
    `cert: ${server.cert}`,
    `key: ${server.key}`,
    `cacert: ${ca.cert}`,
    'storepass: not-printed',
    'allow-cn: [client1, client2]',
    'timed-reload: 90s',
    'metrics-url: https://collector:s3cret@metrics.example/push',
  ];

  it('a good file: exit 0, the effective configuration on stdout (secrets masked, origins noted), nothing bound', async () => {
    const file = configFile(good());
    const r = await runToExit(['check', '--config', file]);
    assert.equal(r.code, 0, r.stderr);
    const effective = parse(r.stdout) as Record<string, unknown>;
    assert.equal(effective.mode, 'server');
    assert.equal(effective.listen, `127.0.0.1:${port}`);
    assert.deepEqual(effective['allow-cn'], ['client1', 'client2']);
    assert.equal(effective['timed-reload'], '1m30s');
    assert.equal(effective['connect-timeout'], '10s', 'defaults are listed too');
    assert.equal(effective.storepass, '********');
    assert.equal(effective['metrics-url'], 'https://collector:********@metrics.example/push');
    assert.doesNotMatch(r.stdout, /not-printed|s3cret/);
    assert.ok(!('config' in effective));
    assert.match(r.stdout, new RegExp(`^allow-cn: \\[client1, client2\\] # ${file}:8$`, 'm'));
    assert.match(r.stdout, /^connect-timeout: 10s$/m, 'a default has no origin comment');
    assert.match(r.stdout, /^# ghostunnel check: a valid server configuration/);
    assert.match(r.stderr, /"msg":"loaded certificate: CN=localhost"/, 'the credentials were loaded; log lines go to stderr');
  });

  it('the command line overrides the file, and says so', async () => {
    const file = configFile(good().filter((l) => !l.startsWith('mode:')));
    const r = await runToExit(['check', 'server', '--config', file, '--allow-cn', 'client3'], { env: { CONNECT_TIMEOUT: '' } });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^mode: server$/m);
    assert.match(r.stdout, /^allow-cn: \[client3\] # command line$/m);
  });

  it('flags alone, without a file', async () => {
    const r = await runToExit(['check', 'server', '--listen', `127.0.0.1:${port}`, '--target', '127.0.0.1:8080', '--cert', server.cert, '--key', server.key, '--cacert', ca.cert, '--allow-all']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^allow-all: true # command line$/m);
  });

  const bad: Array<{ name: string; lines: () => string[]; error: (file: string) => RegExp }> = [
    { name: 'broken YAML', lines: () => [...good(), 'allow-ou: [a'], error: (f) => new RegExp(`^error: ${f}:12:1: invalid YAML: `, 'm') },
    { name: 'an unknown key', lines: () => [...good(), 'allow-everyone: true'], error: (f) => new RegExp(`^error: ${f}:11: unknown key "allow-everyone"`, 'm') },
    { name: 'conflicting settings', lines: () => [...good(), 'allow-all: true'], error: (f) => new RegExp(`^error: ${f}:11: --allow-all is mutually exclusive with other access control flags`, 'm') },
    { name: 'a parse rule', lines: () => [...good(), 'enable-shutdown: true'], error: (f) => new RegExp(`^ghostunnel: error: ${f}:11: --enable-shutdown requires --status to be set, try --help`, 'm') },
    { name: 'a missing certificate file', lines: () => good().map((l) => (l.startsWith('cert:') ? `cert: ${join(dir, 'missing.crt')}` : l)), error: () => /^error: .*missing\.crt.*no such file or directory/m },
    { name: 'a bad URI pattern', lines: () => [...good().filter((l) => !l.startsWith('allow-cn')), "allow-uri: ['spiffe://a/**/b']"], error: (f) => new RegExp(`^error: ${f}: invalid access control pattern: wildcard '\\*\\*' can only appear at end of pattern`, 'm') },
    { name: 'a target that does not resolve', lines: () => [...good().map((l) => (l.startsWith('target:') ? 'target: no-such-host.invalid:8080' : l)), 'unsafe-target: true'], error: (f) => new RegExp(`^error: ${f}:3: invalid target address: lookup no-such-host\\.invalid: no such host`, 'm') },
  ];
  for (const c of bad) {
    it(`${c.name}: exit 1, the error on stderr, nothing on stdout`, async () => {
      const file = configFile(c.lines());
      const r = await runToExit(['check', '--config', file]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, c.error(file));
      assert.equal(r.stdout, '');
    });
  }
});
