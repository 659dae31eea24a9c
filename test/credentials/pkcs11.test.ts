import assert from 'node:assert/strict';
import { copyFileSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { echoBackend, type Backend } from '../helpers/backends.ts';
import { connectTls, peerSerial, sClient } from '../helpers/clients.ts';
import { runGhostunnel, runToExit, type Daemon } from '../helpers/daemon.ts';
import { issue, makeCa, openssl, tempDir, type Ca, type Issued } from '../helpers/pki.ts';
import { plainExchange } from '../helpers/plain-client.ts';
import { linuxOnly } from '../helpers/platform.ts';
import { issueForPublicKey, makeToken, type IssuedForKey, type Token, type TokenKeyPair } from '../helpers/softhsm.ts';
import { tlsTarget } from '../helpers/tls-target.ts';

// Letters and digits unlikely to occur by chance in a log line (ports, pids, serials).
const PIN = 'Pin-7q3Zx9';
const WRONG_PIN = 'Wrong-Pin-5kR2';

/** Private-directory PIN files of our engine: they may exist only while a context is built. */
function pinFiles(): string[] {
  if (!existsSync('/dev/shm')) return [];
  return readdirSync('/dev/shm')
    .filter((d) => d.startsWith('ghostunnel-pkcs11-'))
    .flatMap((d) => readdirSync(join('/dev/shm', d)).map((f) => join('/dev/shm', d, f)));
}

describe('PKCS#11: keys generated on a SoftHSM2 token, used through OpenSSL', { skip: linuxOnly('runs softhsm2 and OpenSSL\'s pkcs11 engine') }, () => {
  let token: Token, rsaKey: TokenKeyPair, ecKey: TokenKeyPair, ca: Ca, dir: string;
  let rsaCert: IssuedForKey, ecCert: IssuedForKey, client: Issued, backend: Backend;
  const outputs: string[] = [];
  const started: Daemon[] = [];

  const tokenArgs = (chain: string, flag = '--cert'): string[] => [flag, chain, '--pkcs11-module', token.module, '--pkcs11-token-label', token.label];
  const env = (pin = PIN): NodeJS.ProcessEnv => ({ ...token.env, PKCS11_PIN: pin });
  const serve = (chainArgs: string[]): Daemon => {
    const gt = runGhostunnel(['server', '--listen', '127.0.0.1:0', '--target', `127.0.0.1:${backend.port}`, ...chainArgs, '--cacert', ca.cert, '--allow-cn', 'client'], { env: env() });
    started.push(gt);
    return gt;
  };
  const stop = async (gt: Daemon): Promise<void> => {
    assert.equal(await gt.stop(), 0);
  };

  before(async () => {
    token = makeToken('gt-test', PIN);
    rsaKey = token.generateKey('rsa', '01', 'tls-rsa');
    ecKey = token.generateKey('ec', '02', 'tls-ec');
    ca = makeCa();
    dir = tempDir();
    rsaCert = issueForPublicKey(ca, 'hsm-rsa', rsaKey.publicKeyPem, dir);
    ecCert = issueForPublicKey(ca, 'hsm-ec', ecKey.publicKeyPem, dir);
    client = issue(ca, 'client', { cn: 'client' });
    backend = await echoBackend();
  });

  after(async () => {
    for (const gt of started) {
      await gt.stop();
      outputs.push(gt.stdout(), gt.stderr());
    }
    await backend.close();
    // The PIN went in through the environment and the flag; it must come out nowhere.
    for (const out of outputs) {
      assert.equal(out.includes(PIN), false, `PIN found in output:\n${out}`);
      assert.equal(out.includes(WRONG_PIN), false, `wrong PIN found in output:\n${out}`);
    }
  });

  for (const [kind, pick, signature] of [
    ['RSA-2048', () => rsaCert, /Peer signature type: RSA-PSS/],
    ['ECDSA P-256', () => ecCert, /Peer signature type: ECDSA/],
  ] as const) {
    it(`server mode: openssl s_client completes TLS 1.2 and TLS 1.3 with the ${kind} token key`, async () => {
      const cert = pick();
      const gt = serve(tokenArgs(cert.cert));
      try {
        const { port } = await gt.address();
        for (const [flag, version] of [['-tls1_2', 'TLSv1.2'], ['-tls1_3', 'TLSv1.3']] as const) {
          const ping = `ping over ${version}`;
          const r = await sClient(port, [flag, '-cert', client.cert, '-key', client.key, '-CAfile', ca.cert, '-verify_return_error', '-servername', 'localhost'], `${ping}\n`, { until: new RegExp(ping) });
          assert.match(r.stdout, new RegExp(`New, ${version.replace('.', '\\.')}, Cipher is`));
          assert.match(r.stdout, /Verify return code: 0 \(ok\)/);
          assert.match(r.stdout, new RegExp(`subject=CN = ${cert === rsaCert ? 'hsm-rsa' : 'hsm-ec'}`));
          assert.match(r.stdout, signature);
          assert.match(r.stdout, new RegExp(ping));
        }
        // The PIN is readable only while a key is loaded, not while serving.
        assert.deepEqual(pinFiles(), []);
      } finally {
        await stop(gt);
      }
    });
  }

  it('client mode: mutual TLS with the token key as the client certificate', async () => {
    const server = issue(ca, 'target', { cn: 'localhost' });
    const target = await tlsTarget({ cert: server.cert, key: server.key, ca: ca.cert });
    try {
      for (const cert of [ecCert, rsaCert]) {
        // The PIN by flag here (the other tests use PKCS11_PIN).
        const gt = runGhostunnel(['client', '--listen', '127.0.0.1:0', '--target', `localhost:${target.port}`, ...tokenArgs(cert.cert), '--pkcs11-pin', PIN, '--cacert', ca.cert], { env: token.env });
        started.push(gt);
        try {
          const { port } = await gt.address();
          const r = await plainExchange(port, `client key ${cert.serial}`);
          assert.equal(r.data.toString(), `client key ${cert.serial}`);
          assert.equal(target.seen.at(-1)?.serial, cert.serial);
        } finally {
          await stop(gt);
        }
      }
    } finally {
      await target.close();
    }
  });

  it('takes the chain from --keystore as DER PKCS#7 or DER, recognised by content (not by a .crt extension)', async () => {
    const p7 = join(dir, 'chain-p7');
    openssl(['crl2pkcs7', '-nocrl', '-certfile', ca.cert, '-certfile', ecCert.cert, '-outform', 'DER', '-out', p7]);
    const der = join(dir, 'leaf-der.crt');
    openssl(['x509', '-in', ecCert.cert, '-outform', 'DER', '-out', der]);
    for (const chain of [p7, der]) {
      const gt = serve(tokenArgs(chain, '--keystore'));
      try {
        const { port } = await gt.address();
        const r = await sClient(port, ['-showcerts', '-cert', client.cert, '-key', client.key, '-CAfile', ca.cert, '-verify_return_error'], 'chain\n', { until: /chain/ });
        assert.match(r.stdout, /Verify return code: 0 \(ok\)/);
        // The leaf goes first whatever the file order (the PKCS#7 lists the CA first); OpenSSL
        // completes a lone leaf with the CA from --cacert.
        assert.match(r.stdout, /Certificate chain\n 0 s:CN = hsm-ec\n[^]*?-----END CERTIFICATE-----\n 1 s:CN = test-ca\n/);
      } finally {
        await stop(gt);
      }
    }
  });

  it('reload: a renewed certificate for the token key is served; one for another key is refused and the old one kept', async () => {
    const live = join(dir, 'live.crt');
    copyFileSync(ecCert.cert, live);
    const gt = serve(tokenArgs(live));
    const served = async (): Promise<string> => {
      const s = await connectTls(port, { cert: client.cert, key: client.key, ca: ca.cert });
      const serial = peerSerial(s);
      s.destroy();
      return serial;
    };
    const reload = async (pattern: RegExp): Promise<string> => {
      const from = gt.lines.length;
      gt.signal('SIGHUP');
      const outcome = await gt.waitForLog(pattern, 10_000, from);
      await gt.waitForLog(/^reloading configuration complete/, 10_000, from);
      return outcome.msg;
    };
    const { port } = await gt.address();
    try {
      assert.equal(await served(), ecCert.serial);

      const renewed = issueForPublicKey(ca, 'hsm-ec-renewed', ecKey.publicKeyPem, dir);
      copyFileSync(renewed.cert, live);
      await reload(/^loaded certificate: CN=hsm-ec-renewed/);
      assert.equal(await served(), renewed.serial);

      copyFileSync(rsaCert.cert, live);
      const typeMismatch = await reload(/^error reloading TLS configuration/);
      assert.match(typeMismatch, /does not match the private key in use, the EC P-256 key "tls-ec" \(id 02\) on token "gt-test" \(the certificate has an RSA 2048 key, the token key is EC P-256\)/);
      assert.equal(await served(), renewed.serial);

      const soft = issue(ca, 'soft-ec', { cn: 'soft-ec' }, dir);
      copyFileSync(soft.cert, live);
      const keyMismatch = await reload(/^error reloading TLS configuration/);
      assert.match(keyMismatch, /does not match the private key in use, the EC P-256 key "tls-ec"/);
      assert.equal(await served(), renewed.serial);
    } finally {
      await stop(gt);
    }
  });

  it('a wrong PIN fails at start with a clear message that does not contain it', async () => {
    const r = await runToExit(['server', '--listen', '127.0.0.1:0', '--target', `127.0.0.1:${backend.port}`, ...tokenArgs(ecCert.cert), '--cacert', ca.cert, '--allow-all'], { env: env(WRONG_PIN) });
    outputs.push(r.stdout, r.stderr);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'error: logging in to PKCS#11 token "gt-test" failed: the PIN is incorrect (CKR_PIN_INCORRECT); check --pkcs11-pin / PKCS11_PIN\n');
  });

  it('an unknown token label fails at start, naming the tokens there are', async () => {
    const r = await runToExit(['server', '--listen', '127.0.0.1:0', '--target', `127.0.0.1:${backend.port}`, '--cert', ecCert.cert, '--pkcs11-module', token.module, '--pkcs11-token-label', 'no-such-token', '--cacert', ca.cert, '--allow-all'], { env: env() });
    outputs.push(r.stdout, r.stderr);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error: no token labelled "no-such-token" in PKCS#11 module ".*libsofthsm2\.so" \(tokens present: "gt-test"\); check --pkcs11-token-label\n$/);
  });

  it('a certificate whose key is not on the token fails at start, listing the token keys', async () => {
    const soft = issue(ca, 'not-on-token', { cn: 'not-on-token' }, dir);
    const r = await runToExit(['server', '--listen', '127.0.0.1:0', '--target', `127.0.0.1:${backend.port}`, ...tokenArgs(soft.cert), '--cacert', ca.cert, '--allow-all'], { env: env() });
    outputs.push(r.stdout, r.stderr);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no private key on PKCS#11 token "gt-test" matches the EC P-256 certificate in ".*not-on-token\.crt" \(token holds: RSA 2048 key "tls-rsa" \(id 01\), EC P-256 key "tls-ec" \(id 02\)\)\n$/);
  });

  it('without the pkcs11 engine, the start fails naming the package to install', async () => {
    const r = await runToExit(['server', '--listen', '127.0.0.1:0', '--target', `127.0.0.1:${backend.port}`, ...tokenArgs(ecCert.cert), '--cacert', ca.cert, '--allow-all'], { env: { ...env(), OPENSSL_ENGINES: tempDir() } });
    outputs.push(r.stdout, r.stderr);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /pkcs11\.so was not found .*install the package libengine-pkcs11-openssl/);
  });

  it('a missing --pkcs11-module path is a usage error, as in kingpin', async () => {
    const r = await runToExit(['server', '--listen', '127.0.0.1:0', '--target', '127.0.0.1:9', '--cert', ecCert.cert, '--pkcs11-module', '/nonexistent/module.so', '--pkcs11-token-label', 'x', '--allow-all']);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, "ghostunnel: error: path '/nonexistent/module.so' does not exist, try --help\n");
  });
});
