// Client-mode validation (spec §1.5, §1.7): every error exits 1 with its message, in Ghostunnel's
// order: identity sources → listen safety → target network → OPA pair → SPKI pins → cipher suites,
// then what Ghostunnel finds when it builds the dialer and starts (proxy scheme, target name).
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { before, describe, it } from 'node:test';
import { runGhostunnel, runToExit } from '../helpers/daemon.ts';
import { issue, makeCa, type Issued } from '../helpers/pki.ts';

const NO_DNS = fileURLToPath(new URL('../helpers/no-dns-hook.ts', import.meta.url));
const LISTEN = ['--listen', '127.0.0.1:0'];
const TARGET = ['--target', '127.0.0.1:443'];
const ANON = ['--disable-authentication'];
const PIN = 'sha256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=';

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Runs `client ARGS` and checks exit code 1 with "error: MESSAGE" on stderr. */
async function startupError(args: string[], message: string): Promise<void> {
  const r = await runToExit(['client', ...args]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, new RegExp(`^error: ${escape(message)}$`, 'm'));
}

/** Runs `client ARGS` and checks exit code 1 with kingpin's usage-error line. */
async function usageError(args: string[], message: string): Promise<void> {
  const r = await runToExit(['client', ...args]);
  assert.equal(r.code, 1, r.stderr);
  assert.equal(r.stderr, `ghostunnel: error: ${message}, try --help\n`);
}

describe('client mode: validation errors exit 1 with their message', () => {
  let client: Issued;
  before(() => {
    client = issue(makeCa(), 'client', { cn: 'client' });
  });
  const cert = (): string[] => ['--cert', client.cert, '--key', client.key];

  describe('identity sources', () => {
    const none = 'at least one of --keystore, --cert/--key, --keychain-identity/issuer (if supported), --use-workload-api or --disable-authentication flags is required';
    const many = '--keystore, --cert/--key, --keychain-identity/issuer, --use-workload-api and --disable-authentication flags are mutually exclusive';
    it('none at all', () => startupError([...LISTEN, ...TARGET], none));
    it('a lone --cert counts as none', () => startupError([...LISTEN, ...TARGET, '--cert', client.cert], none));
    it('--keystore and --disable-authentication', () => startupError([...LISTEN, ...TARGET, '--keystore', client.pem, ...ANON], many));
    it('--keystore and --cert/--key', () => startupError([...LISTEN, ...TARGET, '--keystore', client.pem, ...cert()], many));
    it('--cert/--key and --use-workload-api', () => startupError([...LISTEN, ...TARGET, ...cert(), '--use-workload-api'], many));
    it('--cert without --key next to another source', () => startupError([...LISTEN, ...TARGET, '--cert', client.cert, ...ANON], '--cert/--key must be set together, unless using PKCS11 for private key'));
    it('come before the listen check', () => startupError(['--listen', '0.0.0.0:0', ...TARGET], none));
  });

  describe('listen safety', () => {
    const message = '--listen must be unix:PATH, localhost:PORT, systemd:NAME or launchd:NAME (unless --unsafe-listen is set)';
    for (const listen of ['0.0.0.0:0', ':0', '192.0.2.1:8080', '[::]:0', 'localhost.example:0']) {
      it(`refuses --listen ${listen}`, () => startupError(['--listen', listen, ...TARGET, ...ANON], message));
    }
    it('comes before the target network check', () => startupError(['--listen', '0.0.0.0:0', '--target', 'unix:/tmp/x.sock', ...ANON], message));
    it('--unsafe-listen lets a wildcard listen start', async () => {
      const gt = runGhostunnel(['client', '--listen', '0.0.0.0:0', '--unsafe-listen', ...TARGET, ...ANON]);
      const line = await gt.waitForLog(/^listening for connections on 0\.0\.0\.0:0$/);
      assert.match(String(line.address), /^0\.0\.0\.0:\d+$/);
      assert.equal(await gt.stop(), 0);
    });
  });

  describe('target network', () => {
    it('refuses a UNIX target', () => startupError([...LISTEN, '--target', 'unix:/tmp/x.sock', ...ANON], 'invalid --target network "unix": client mode requires a HOST:PORT TCP target'));
    it('refuses a systemd target', () => startupError([...LISTEN, '--target', 'systemd:backend', ...ANON], 'invalid --target network "systemd": client mode requires a HOST:PORT TCP target'));
    it('refuses a target without a port', () => startupError([...LISTEN, '--target', 'example.com', ...ANON], 'invalid --target address: address example.com: missing port in address'));
    it('comes before the OPA pair check', () => startupError([...LISTEN, '--target', 'unix:/tmp/x.sock', ...ANON, '--verify-policy', 'p.rego'], 'invalid --target network "unix": client mode requires a HOST:PORT TCP target'));
  });

  describe('OPA pair, SPKI pins, cipher suites', () => {
    it('--verify-policy without --verify-query', () => startupError([...LISTEN, ...TARGET, ...ANON, '--verify-policy', 'p.rego'], '--verify-policy and --verify-query have to be used together'));
    it('--verify-query without --verify-policy', () => startupError([...LISTEN, ...TARGET, ...ANON, '--verify-query', 'data.policy.allow'], '--verify-policy and --verify-query have to be used together'));
    it('the OPA pair comes before the pins', () => startupError([...LISTEN, ...TARGET, ...ANON, '--verify-query', 'q', '--verify-spki-pin', 'nope'], '--verify-policy and --verify-query have to be used together'));
    it('--verify-spki-pin with another verify flag', () => startupError([...LISTEN, ...TARGET, ...ANON, '--verify-spki-pin', PIN, '--verify-cn', 'server'], '--verify-spki-pin is mutually exclusive with other verification flags'));
    it('--verify-spki-pin with a malformed pin', async () => {
      const r = await runToExit(['client', ...LISTEN, ...TARGET, ...ANON, '--verify-spki-pin', 'nope']);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^error: .*invalid pin "nope": expected format <algo>:<base64-digest>$/m);
    });
    it('the pins come before the cipher suites', async () => {
      const r = await runToExit(['client', ...LISTEN, ...TARGET, ...ANON, '--verify-spki-pin', 'nope', '--cipher-suites', 'RC4']);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /invalid pin "nope"/);
    });
    it('an unknown cipher suite group', () => startupError([...LISTEN, ...TARGET, ...ANON, '--cipher-suites', 'AES,RC4'], "invalid cipher suite 'RC4' selected"));
  });

  describe('proxy, server checks and target resolution', () => {
    it('refuses a proxy scheme other than http, socks5 and socks5h', async () => {
      for (const scheme of ['https', 'ftp', 'socks4']) {
        await startupError([...LISTEN, ...TARGET, ...ANON, '--proxy', `${scheme}://127.0.0.1:3128`], `proxy: unknown scheme: ${scheme} (use http://, socks5:// or socks5h://)`);
      }
    });
    it('the cipher suites come before the proxy scheme', () => startupError([...LISTEN, ...TARGET, ...ANON, '--proxy', 'ftp://h:1', '--cipher-suites', 'RC4'], "invalid cipher suite 'RC4' selected"));
    it('refuses a --proxy that is not a URL at parse time', () => usageError([...LISTEN, ...TARGET, ...ANON, '--proxy', 'http://[::1'], 'invalid URL for --proxy: "http://[::1" (expected http://HOST:PORT or socks5://[USER:PASS@]HOST:PORT)'));
    it('refuses a --verify-ip that is not an IP address at parse time', () => usageError([...LISTEN, ...TARGET, ...ANON, '--verify-ip', '10.0.0.300'], "'10.0.0.300' is not an IP address"));
    it('refuses a bad --verify-uri pattern', () => startupError([...LISTEN, ...TARGET, ...ANON, '--verify-uri', 'spiffe://x/a*'], "invalid access control pattern: wildcard '*' can only appear between two separators"));
    it('refuses a target name that does not resolve', async () => {
      const r = await runToExit(['client', ...LISTEN, '--target', 'localhost:443', ...ANON], { nodeArgs: ['--import', NO_DNS] });
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^error: invalid target address: lookup localhost: no such host \(--target localhost:443; use --skip-resolve if it resolves only later\)$/m);
    });
    for (const extra of [['--skip-resolve'], ['--proxy', 'socks5://127.0.0.1:1080']]) {
      it(`does not resolve the target at start with ${extra[0]}`, async () => {
        const gt = runGhostunnel(['client', ...LISTEN, '--target', 'localhost:443', ...ANON, ...extra], { nodeArgs: ['--import', NO_DNS] });
        await gt.address();
        assert.equal(await gt.stop(), 0);
        assert.doesNotMatch(gt.stderr(), /no-dns:/);
      });
    }
  });
});
