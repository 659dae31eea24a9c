import assert from 'node:assert/strict';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { runToExit } from '../helpers/daemon.ts';
import { issue, makeCa } from '../helpers/pki.ts';

const ca = makeCa();
const server = issue(ca, 'server', { cn: 'localhost' });

// Validation must finish before anything binds. The test holds the listen port itself (without
// SO_REUSEPORT): a daemon that tried to bind would fail with "address in use" instead of the
// validation message asserted here.
let held: Server;
let listen: string;
before(async () => {
  held = createServer();
  await new Promise<void>((r) => held.listen(0, '127.0.0.1', r));
  listen = `127.0.0.1:${(held.address() as AddressInfo).port}`;
});
after(() => held.close());

const certFlags = (): string[] => ['--cert', server.cert, '--key', server.key, '--cacert', ca.cert];

async function expectStartupError(args: string[], message: string): Promise<void> {
  const r = await runToExit(args);
  assert.equal(r.code, 1, `exit code for ${args.join(' ')}\n${r.stdout}${r.stderr}`);
  assert.match(r.stderr, /^error: /);
  assert.ok(r.stderr.includes(message), `stderr should name the problem: ${message}\ngot: ${r.stderr}`);
  assert.ok(!r.stdout.includes('listening for connections'), 'nothing was bound');
  assert.ok(r.lines.some((l) => l.level === 'error' && l.msg.includes(message)), 'the error is logged too');
}

async function expectUsageError(args: string[], message: string): Promise<void> {
  const r = await runToExit(args);
  assert.equal(r.code, 1);
  assert.equal(r.stderr.trim(), `ghostunnel: error: ${message}, try --help`);
}

describe('server-mode validation errors (spec §1.7), each exit 1 before binding', () => {
  it('no identity source', () =>
    expectStartupError(['server', '--listen', listen, '--target', '127.0.0.1:9', '--cacert', ca.cert, '--allow-all'],
      'at least one of --keystore, --cert/--key, --auto-acme-cert, or --keychain-identity/issuer (if supported) flags is required'));
  it('a lone --cert counts as no identity source', () =>
    expectStartupError(['server', '--listen', listen, '--target', '127.0.0.1:9', '--cert', server.cert, '--allow-all'],
      'at least one of --keystore, --cert/--key, --auto-acme-cert, or --keychain-identity/issuer (if supported) flags is required'));
  it('two identity sources', () =>
    expectStartupError(['server', '--listen', listen, '--target', '127.0.0.1:9', ...certFlags(), '--keystore', server.pem, '--allow-all'],
      '--keystore, --cert/--key, --auto-acme-cert, and --keychain-identity/issuer flags are mutually exclusive'));
  it('--keystore with a lone --key', () =>
    expectStartupError(['server', '--listen', listen, '--target', '127.0.0.1:9', '--keystore', server.pem, '--key', server.key, '--allow-all'],
      '--cert/--key must be set together, unless using PKCS11 for private key'));
  it('no access control flag', () =>
    expectStartupError(['server', '--listen', listen, '--target', '127.0.0.1:9', ...certFlags()],
      'at least one access control flag (--allow-{all,cn,ou,dns,uri,spki-pin}, or OPA flags, or --disable-authentication) is required'));
  for (const other of [['--allow-cn', 'x'], ['--allow-ou', 'x'], ['--allow-dns', 'x'], ['--allow-uri', 'spiffe://x'], ['--allow-ip', '10.0.0.1'], ['--disable-authentication']]) {
    it(`--allow-all with ${other[0]}`, () =>
      expectStartupError(['server', '--listen', listen, '--target', '127.0.0.1:9', ...certFlags(), '--allow-all', ...other], '--allow-all is mutually exclusive with other access control flags'));
  }
  for (const other of [['--allow-cn', 'x'], ['--allow-ou', 'x'], ['--allow-dns', 'x'], ['--allow-uri', 'spiffe://x'], ['--allow-ip', '10.0.0.1']]) {
    it(`--disable-authentication with ${other[0]}`, () =>
      expectStartupError(['server', '--listen', listen, '--target', '127.0.0.1:9', ...certFlags(), '--disable-authentication', ...other],
        '--disable-authentication is mutually exclusive with other access control flags'));
  }
  it('a non-IP --allow-ip', () =>
    expectStartupError(['server', '--listen', listen, '--target', '127.0.0.1:9', ...certFlags(), '--allow-ip', 'not-an-ip'], "'not-an-ip' is not an IP address"));
  it('a non-local target without --unsafe-target', () =>
    expectStartupError(['server', '--listen', listen, '--target', '10.1.2.3:80', ...certFlags(), '--allow-all'], '--target must be unix:PATH or localhost:PORT (unless --unsafe-target is set)'));
  it('a systemd: target', () =>
    expectStartupError(['server', '--listen', listen, '--target', 'systemd:backend', ...certFlags(), '--allow-all'],
      'invalid --target network "systemd": only tcp and unix targets are supported (systemd:/launchd: cannot be dialed)'));
  it('a target without a port', () =>
    expectStartupError(['server', '--listen', listen, '--target', 'localhost:', ...certFlags(), '--allow-all'], 'invalid --target address: address localhost:: invalid port ""'));
  it('an unresolvable target (and --skip-resolve)', async () => {
    await expectStartupError(['server', '--listen', listen, '--target', 'no-such-host.invalid:80', '--unsafe-target', ...certFlags(), '--allow-all'], 'invalid target address: lookup no-such-host.invalid: no such host (--target no-such-host.invalid:80; use --skip-resolve');
    const skipped = await runToExit(['server', '--listen', listen, '--target', 'no-such-host.invalid:80', '--unsafe-target', '--skip-resolve', ...certFlags(), '--allow-all']);
    assert.ok(skipped.stderr.includes(`error: unable to listen on ${listen}: listen tcp ${listen}: bind: address already in use`), `with --skip-resolve it gets as far as binding (the port this test holds), in Go's words: ${skipped.stderr}`);
  });
  it('an unknown cipher suite', () =>
    expectStartupError(['server', '--listen', listen, '--target', '127.0.0.1:9', ...certFlags(), '--allow-all', '--cipher-suites', 'AES,RC4'], "invalid cipher suite 'RC4' selected"));
  it('the unsafe Azure suite without --allow-unsafe-cipher-suites', () =>
    expectStartupError(['server', '--listen', listen, '--target', '127.0.0.1:9', ...certFlags(), '--allow-all', '--cipher-suites', 'UNSAFE-AZURE'], "invalid cipher suite 'UNSAFE-AZURE' selected"));
  it('a bad --max-tls-version', () =>
    expectStartupError(['server', '--listen', listen, '--target', '127.0.0.1:9', ...certFlags(), '--allow-all', '--max-tls-version', 'TLS1.1'], 'invalid max TLS version: unsupported TLS version: TLS1.1'));
  it('bad --allow-uri patterns', async () => {
    await expectStartupError(['server', '--listen', listen, '--target', '127.0.0.1:9', ...certFlags(), '--allow-uri', 'spiffe://a/**/b'], "wildcard '**' can only appear at end of pattern");
    await expectStartupError(['server', '--listen', listen, '--target', '127.0.0.1:9', ...certFlags(), '--allow-uri', 'spiffe://a/b*/c'], "wildcard '*' can only appear between two separators");
  });
  it('a certificate that does not load names the file', () =>
    expectStartupError(['server', '--listen', listen, '--target', '127.0.0.1:9', '--cert', '/nonexistent/server.crt', '--key', server.key, '--cacert', ca.cert, '--allow-all'],
      'reading certificate file "/nonexistent/server.crt": no such file or directory'));
});

describe('parse-time errors (kingpin format)', () => {
  it('unknown flag', () => expectUsageError(['server', '--listen', listen, '--bogus'], "unknown long flag '--bogus'"));
  it('missing --target', () => expectUsageError(['server', '--listen', listen, ...certFlags(), '--allow-all'], 'required flag --target not provided'));
  it('--connect-timeout 0', () => expectUsageError(['server', '--listen', listen, '--target', '127.0.0.1:9', '--connect-timeout', '0', ...certFlags(), '--allow-all'], '--connect-timeout duration must not be zero'));
  it('a bad duration', async () => {
    const r = await runToExit(['server', '--listen', listen, '--target', '127.0.0.1:9', '--close-timeout', '5 minutes']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^ghostunnel: error: .*--close-timeout.*invalid duration "5 minutes", try --help$/m);
  });
  it('a bad --quiet category', async () => {
    const r = await runToExit(['server', '--quiet', 'loud', '--listen', listen, '--target', '127.0.0.1:9']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /enum value must be one of all,conns,conn-errs,handshake-errs, got 'loud'/);
  });
  it('a recognised flag that is not built yet', () => expectUsageError(['server', '--listen', listen, '--target', '127.0.0.1:9', '--keychain-identity', 'x'], '--keychain-identity is not supported on this platform'));
});
