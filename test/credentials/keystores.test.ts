import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { echoBackend, type Backend } from '../helpers/backends.ts';
import { sClient } from '../helpers/clients.ts';
import { runGhostunnel, runToExit } from '../helpers/daemon.ts';
import { issue, makeCa, openssl, tempDir, toPkcs12, type Ca, type Issued } from '../helpers/pki.ts';
import { requireProgram } from '../helpers/programs.ts';

const PASS = 'keystore-pass';

function keytool(args: string[]): void {
  requireProgram('keytool');
  // Client JIT and serial GC: keytool runs for a moment, and the JVM starts faster so.
  execFileSync('keytool', ['-J-XX:TieredStopAtLevel=1', '-J-XX:+UseSerialGC', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
}

/** A JCEKS keystore made by the JDK's keytool from a PKCS#12 of `item` (key, leaf and CA). */
function toJceks(item: Issued, ca: Ca, out: string, storetype: 'jceks' | 'jks' = 'jceks'): string {
  const p12 = toPkcs12(item, ca, PASS, { out: `${out}.src.p12` });
  keytool(['-importkeystore', '-noprompt', '-srckeystore', p12, '-srcstoretype', 'pkcs12', '-srcstorepass', PASS, '-destkeystore', out, '-deststoretype', storetype, '-deststorepass', PASS]);
  return out;
}

describe('keystores: JCEKS, legacy PKCS#12 and Ed25519 PKCS#12 serve handshakes', () => {
  let ca: Ca, client: Issued, backend: Backend, dir: string;
  let rsa: Issued, ec: Issued, rsaJceks: string, ecJceks: string;
  before(async () => {
    ca = makeCa();
    client = issue(ca, 'client', { cn: 'client' });
    backend = await echoBackend();
    dir = tempDir();
    rsa = issue(ca, 'jceks-rsa', { cn: 'localhost', alg: 'rsa' }, dir);
    ec = issue(ca, 'jceks-ec', { cn: 'localhost' }, dir);
    rsaJceks = toJceks(rsa, ca, join(dir, 'rsa.jceks'));
    ecJceks = toJceks(ec, ca, join(dir, 'ec.jceks'));
    // A trusted-certificate entry next to the key entry: skipped, not mistaken for the identity.
    keytool(['-importcert', '-noprompt', '-alias', 'ca', '-file', ca.cert, '-storetype', 'jceks', '-keystore', ecJceks, '-storepass', PASS]);
  });
  after(() => backend.close());

  /** Starts a server on the keystore, checks the served leaf by serial over s_client, stops it. */
  async function serves(keystore: string, item: Issued, extraArgs: string[] = []): Promise<void> {
    const gt = runGhostunnel(['server', '--listen', '127.0.0.1:0', '--target', `127.0.0.1:${backend.port}`, '--keystore', keystore, '--storepass', PASS, '--cacert', ca.cert, '--allow-cn', 'client', ...extraArgs]);
    try {
      const { port } = await gt.address();
      const r = await sClient(port, ['-cert', client.cert, '-key', client.key, '-CAfile', ca.cert, '-verify_return_error', '-servername', 'localhost'], `through ${item.name}\n`, { until: new RegExp(`through ${item.name}`) });
      assert.match(r.stdout, /Verify return code: 0 \(ok\)/);
      assert.match(r.stdout, new RegExp(`through ${item.name}`));
      const loaded = await gt.waitForLog(/^loaded certificate/);
      assert.equal(loaded.serial, item.serial);
    } finally {
      assert.equal(await gt.stop(), 0);
    }
  }

  it('JCEKS made by keytool, RSA and EC keys (the EC store also holding a trusted certificate), found by extension and by content', async () => {
    await serves(rsaJceks, rsa);
    const noExtension = join(dir, 'ec-keystore');
    copyFileSync(ecJceks, noExtension);
    await serves(noExtension, ec);
  });

  it('legacy PKCS#12 (openssl pkcs12 -legacy: RC2-40 and 3DES, SHA-1 MAC)', async () => {
    const legacy = issue(ca, 'legacy', { cn: 'localhost', alg: 'rsa' }, dir);
    const p12 = toPkcs12(legacy, ca, PASS, { legacy: true });
    // openssl prints the encryption details on stderr.
    const info = spawnSync('openssl', ['pkcs12', '-info', '-noout', '-legacy', '-in', p12, '-passin', `pass:${PASS}`], { encoding: 'utf8' });
    assert.match(info.stderr, /PKCS7 Encrypted data: pbeWithSHA1And40BitRC2-CBC/);
    assert.match(info.stderr, /Shrouded Keybag: pbeWithSHA1And3-KeyTripleDES-CBC/);
    await serves(p12, legacy);
  });

  it('Ed25519 in PKCS#12, modern and legacy encryption', async () => {
    const ed = issue(ca, 'ed25519', { cn: 'localhost', alg: 'ed25519' }, dir);
    await serves(toPkcs12(ed, ca, PASS), ed);
    await serves(toPkcs12(ed, ca, PASS, { legacy: true }), ed);
  });

  it('refuses a JCEKS keystore with a wrong --storepass', async () => {
    const r = await runToExit(['server', '--listen', '127.0.0.1:0', '--target', `127.0.0.1:${backend.port}`, '--keystore', ecJceks, '--storepass', 'not-it', '--allow-all']);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, `error: reading keystore file "${ecJceks}" (JCEKS): integrity check failed: wrong --storepass, or the file is damaged\n`);
  });

  it('refuses a JKS keystore holding a private key, pointing to PKCS#12', async () => {
    const item = issue(ca, 'jks', { cn: 'localhost' }, dir);
    const store = toJceks(item, ca, join(dir, 'store.jks'), 'jks');
    const r = await runToExit(['server', '--listen', '127.0.0.1:0', '--target', `127.0.0.1:${backend.port}`, '--keystore', store, '--storepass', PASS, '--allow-all']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /this JKS keystore holds a private key \(entry "1"\) in Sun's proprietary JKS protection, which is not supported; convert the keystore to PKCS#12: keytool -importkeystore .* -deststoretype pkcs12\n$/);
  });

  it('refuses a JCEKS keystore with a secret-key entry', async () => {
    const store = join(dir, 'secret.jceks');
    copyFileSync(ecJceks, store);
    keytool(['-genseckey', '-alias', 'aes', '-keyalg', 'AES', '-keysize', '128', '-storetype', 'jceks', '-keystore', store, '-storepass', PASS, '-keypass', PASS]);
    const r = await runToExit(['server', '--listen', '127.0.0.1:0', '--target', `127.0.0.1:${backend.port}`, '--keystore', store, '--storepass', PASS, '--allow-all']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /\(JCEKS\): entry "aes" is a secret key, which a TLS identity cannot use; keep only the private key entry/);
  });

  it('refuses a certificates-only PKCS#7 as a keystore, saying what it is good for', async () => {
    const item = issue(ca, 'p7', { cn: 'localhost' }, dir);
    const p7b = join(dir, 'chain.p7b');
    openssl(['crl2pkcs7', '-nocrl', '-certfile', item.cert, '-out', p7b]);
    const r = await runToExit(['server', '--listen', '127.0.0.1:0', '--target', `127.0.0.1:${backend.port}`, '--keystore', p7b, '--allow-all']);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, `error: reading keystore file "${p7b}": a PKCS#7 file holds certificates only, no private key (it can be the certificate chain of a --pkcs11-module key)\n`);
  });
});
