// No PIN, storepass or private key bytes anywhere the daemon writes: logs (stdout), stderr, error
// messages, /_status, /_metrics, /_reload answers, and any file it creates. The daemon runs with
// distinctive secrets and is pushed through its error paths: bad flags, a wrong password at start,
// broken reloads, a failed upgrade; then everything it wrote is searched for them.
import assert from 'node:assert/strict';
import { createPrivateKey } from 'node:crypto';
import { copyFileSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { echoBackend, type Backend } from '../helpers/backends.ts';
import { connectTls, readBytes } from '../helpers/clients.ts';
import { runGhostunnel, runToExit, type Daemon } from '../helpers/daemon.ts';
import { issue, makeCa, tempDir, toPkcs12, type Ca, type Issued } from '../helpers/pki.ts';
import { linuxOnly } from '../helpers/platform.ts';
import { issueForPublicKey, makeToken } from '../helpers/softhsm.ts';
import { curl, statusAddress } from '../helpers/status.ts';

const STOREPASS = 'Sp4xQ9-storepass-Vr7';
const PIN = 'Pn8mK2-pin-Lw5';
const WRONG_PIN = 'Wr0ng-pin-Tz3';

/** Everything the daemons under test wrote, with where it came from. */
const written: Array<{ where: string; text: string }> = [];

/** Every file under `dir` (recursively), for the search. */
function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .map((e) => join(dir, e))
    .filter((p) => {
      try {
        return statSync(p).isFile();
      } catch {
        return false;
      }
    });
}

/** The ways a private key's bytes could show up: base64 of its DER (and each PEM line of it), hex of its DER. */
function keyForms(keyPem: string): string[] {
  const der = createPrivateKey(keyPem).export({ type: 'pkcs8', format: 'der' });
  const b64 = der.toString('base64');
  return [b64, der.toString('hex'), ...(b64.match(/.{1,64}/g) ?? []).filter((l) => l.length >= 32)];
}

/** /dev/shm entries of ours (the PKCS#11 PIN directories). */
function shmEntries(): Set<string> {
  return new Set(existsSync('/dev/shm') ? readdirSync('/dev/shm').filter((d) => d.startsWith('ghostunnel-')) : []);
}

/** A scratch home for the daemon: its cwd, TMPDIR, HOME and XDG_DATA_HOME, searched afterwards. */
function scratch(): { dir: string; env: NodeJS.ProcessEnv } {
  const dir = tempDir('gt-secrets-run-');
  return { dir, env: { TMPDIR: dir, HOME: dir, XDG_DATA_HOME: dir } };
}

/** Keeps what a finished run (runToExit) or a stopped daemon printed. */
function record(where: string, out: { stdout: string | (() => string); stderr: string | (() => string) }): void {
  const text = (v: string | (() => string)): string => (typeof v === 'string' ? v : v());
  written.push({ where: `${where} stdout`, text: text(out.stdout) }, { where: `${where} stderr`, text: text(out.stderr) });
}

async function scrape(where: string, status: string): Promise<void> {
  for (const path of ['/_status', '/_metrics', '/_metrics/prometheus', '/_metrics/json']) {
    const r = await curl([`http://${status}${path}`]);
    written.push({ where: `${where} GET ${path} (${r.status})`, text: r.body });
  }
  const r = await curl(['-X', 'POST', `http://${status}/_reload`]);
  written.push({ where: `${where} POST /_reload (${r.status})`, text: r.body });
}

describe('secrets never come out', { skip: linuxOnly('reads /proc and runs softhsm2') }, () => {
  let ca: Ca, server: Issued, client: Issued, backend: Backend, p12: string, otherPass: string, work: string;
  const scratchDirs: string[] = [];
  let shmBefore: Set<string>;
  const secrets: Array<{ name: string; forms: string[] }> = [
    { name: 'storepass', forms: [STOREPASS] },
    { name: 'PIN', forms: [PIN] },
    { name: 'wrong PIN', forms: [WRONG_PIN] },
  ];

  before(async () => {
    shmBefore = shmEntries();
    ca = makeCa();
    server = issue(ca, 'server', { cn: 'localhost' });
    client = issue(ca, 'client', { cn: 'client' });
    work = tempDir('gt-secrets-');
    p12 = toPkcs12(server, ca, STOREPASS, { out: join(work, 'server.p12') });
    otherPass = toPkcs12(issue(ca, 'other', { cn: 'localhost' }), ca, 'a-different-password', { out: join(work, 'other.p12') });
    secrets.push({ name: 'PKCS#12 private key', forms: keyForms(readFileSync(server.key, 'utf8')) });
    backend = await echoBackend();
  });

  after(async () => {
    await backend.close();
  });

  it('PKCS#12 with --storepass: bad flags, wrong password, broken reloads, a failed upgrade, status and metrics', async () => {
    const base = ['--listen', '127.0.0.1:0', '--target', `127.0.0.1:${backend.port}`, '--keystore', p12, '--storepass', STOREPASS, '--cacert', ca.cert, '--allow-cn', 'client'];

    const badFlag = scratch();
    scratchDirs.push(badFlag.dir);
    record('unknown flag', await runToExit(['server', ...base, '--no-such-flag'], { env: badFlag.env }));
    record('bad duration', await runToExit(['server', ...base, '--timed-reload', '5 minutes'], { env: badFlag.env }));
    record('conflicting flags', await runToExit(['server', ...base, '--cert', server.cert, '--key', server.key], { env: badFlag.env }));
    const wrong = await runToExit(['server', ...base.map((a) => (a === p12 ? otherPass : a))], { env: badFlag.env });
    assert.equal(wrong.code, 1, 'a keystore the password does not open fails the start');
    record('wrong storepass', wrong);
    const check = await runToExit(['check', 'server', ...base], { env: badFlag.env });
    record('check', check);
    assert.equal(check.code, 0, check.stderr);

    const run = scratch();
    scratchDirs.push(run.dir);
    const gt: Daemon = runGhostunnel(['server', ...base, '--status', 'http://127.0.0.1:0', '--enable-reload', '--upgrade-exec', join(run.dir, 'no-such-successor')], { env: run.env });
    try {
      const status = await statusAddress(gt);
      const { port } = await gt.address();
      // The needle is right: the password is in the daemon's command line, as given.
      assert.ok(readFileSync(`/proc/${gt.proc.pid}/cmdline`, 'latin1').includes(STOREPASS));
      const s = await connectTls(port, { cert: client.cert, key: client.key, ca: ca.cert });
      s.write('ping');
      assert.equal((await readBytes(s, 4)).toString(), 'ping');
      s.destroy();
      await scrape('healthy', status);

      // A keystore the password does not open, then garbage: both refused, the old one kept.
      copyFileSync(otherPass, p12);
      let from = gt.lines.length;
      gt.signal('SIGHUP');
      await gt.waitForLog(/^error reloading TLS configuration/, 10_000, from);
      await scrape('after a wrong-password reload', status);
      writeFileSync(p12, Buffer.concat([Buffer.from(STOREPASS), readFileSync(server.key)]));
      from = gt.lines.length;
      gt.signal('SIGHUP');
      await gt.waitForLog(/^error reloading TLS configuration/, 10_000, from);
      await scrape('after a garbage reload', status);

      // A hand-off whose successor cannot start: the command line (with the password) is not echoed.
      from = gt.lines.length;
      gt.signal('SIGUSR2');
      await gt.waitForLog(/^upgrade failed/, 20_000, from);
    } finally {
      assert.equal(await gt.stop(), 0);
      record('running daemon', gt);
    }
  });

  it('PKCS#11 with --pkcs11-pin and PKCS11_PIN: a wrong PIN, a refused reload, status and metrics', async () => {
    const token = makeToken('gt-secrets', PIN);
    const key = token.generateKey('ec', '0a', 'tls');
    const dir = tempDir('gt-secrets-hsm-');
    const cert = issueForPublicKey(ca, 'hsm', key.publicKeyPem, dir);
    const chain = join(dir, 'chain.crt');
    copyFileSync(cert.cert, chain);
    const base = ['--listen', '127.0.0.1:0', '--target', `127.0.0.1:${backend.port}`, '--cert', chain, '--pkcs11-module', token.module, '--pkcs11-token-label', token.label, '--cacert', ca.cert, '--allow-cn', 'client'];

    const wrong = scratch();
    scratchDirs.push(wrong.dir);
    const refused = await runToExit(['server', ...base], { env: { ...wrong.env, ...token.env, PKCS11_PIN: WRONG_PIN } });
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /PIN is incorrect/);
    record('wrong PIN', refused);
    record('wrong PIN by flag', await runToExit(['server', ...base, '--pkcs11-pin', WRONG_PIN], { env: { ...wrong.env, ...token.env } }));

    const run = scratch();
    scratchDirs.push(run.dir);
    const gt = runGhostunnel(['server', ...base, '--pkcs11-pin', PIN, '--status', 'http://127.0.0.1:0', '--enable-reload'], { env: { ...run.env, ...token.env, PKCS11_PIN: PIN } });
    try {
      const status = await statusAddress(gt);
      const { port } = await gt.address();
      const s = await connectTls(port, { cert: client.cert, key: client.key, ca: ca.cert });
      s.destroy();
      await scrape('PKCS#11 healthy', status);
      // A certificate for a key that is not on the token: refused, the old one kept.
      copyFileSync(issue(ca, 'not-on-token', { cn: 'localhost' }).cert, chain);
      const from = gt.lines.length;
      gt.signal('SIGHUP');
      await gt.waitForLog(/^error reloading TLS configuration/, 10_000, from);
      await scrape('PKCS#11 after a refused reload', status);
    } finally {
      assert.equal(await gt.stop(), 0);
      record('PKCS#11 daemon', gt);
    }
    // The engine's PIN file lives only while a key is loaded, in a private directory removed at exit.
    const leftover = [...shmEntries()].filter((d) => !shmBefore.has(d));
    assert.deepEqual(leftover, [], 'no PIN directory left in /dev/shm');
  });

  it('none of it holds a secret', () => {
    const files = scratchDirs.flatMap(filesUnder).map((p) => ({ where: `file ${p}`, text: readFileSync(p).toString('latin1') }));
    const everything = [...written, ...files];
    assert.ok(written.length >= 20, `searched ${written.length} outputs`);
    for (const { where, text } of everything) {
      for (const { name, forms } of secrets) {
        for (const form of forms) assert.equal(text.includes(form), false, `${name} found in ${where}:\n${text.slice(0, 2000)}`);
      }
    }
    // The searches can fail: the secrets were given to the daemons, and outputs were collected.
    assert.ok(written.some((w) => /error reloading TLS configuration/.test(w.text)), 'the broken reloads were logged');
    assert.ok(written.some((w) => /PIN is incorrect/.test(w.text)), 'the wrong PIN was reported');
  });
});
