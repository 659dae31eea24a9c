// The sandbox (Node's permission model, Ghostunnel's Landlock analogue): on by default, entered by
// re-executing in place (same pid, logs and exit codes as without it), off with --disable-landlock;
// it refuses a file outside the allowed set; a successor after a hand-off is sandboxed afresh.
import assert from 'node:assert/strict';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { echoBackend, type Backend } from '../helpers/backends.ts';
import { connectTls, peerSerial } from '../helpers/clients.ts';
import { ENTRY, runGhostunnel, runToExit, type Daemon, type LogLine } from '../helpers/daemon.ts';
import { issue, makeCa, tempDir, type Ca, type Issued } from '../helpers/pki.ts';
import { linuxOnly } from '../helpers/platform.ts';
import { terminate, waitGone } from '../helpers/processes.ts';
import { kubernetesLayout } from '../helpers/rotation.ts';

/** Node's options of a running process, from its command line. */
function nodeOptions(pid: number): string[] {
  const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  return argv.slice(1, argv.indexOf(ENTRY));
}

describe('sandbox (--disable-landlock turns it off)', { skip: linuxOnly('reads /proc/PID/cmdline') }, () => {
  let ca: Ca, server: Issued, client: Issued, backend: Backend;
  const daemons: Daemon[] = [];
  const others: number[] = [];

  const credentialsIn = (dir: string, pair: Issued): { cert: string; key: string } => {
    mkdirSync(dir, { recursive: true });
    copyFileSync(pair.cert, join(dir, 'server.crt'));
    copyFileSync(pair.key, join(dir, 'server.key'));
    chmodSync(join(dir, 'server.key'), 0o600);
    return { cert: join(dir, 'server.crt'), key: join(dir, 'server.key') };
  };
  const start = (args: string[]): Daemon => {
    const gt = runGhostunnel(args);
    daemons.push(gt);
    return gt;
  };
  const serverArgs = (cert: string, key: string, extra: string[] = []): string[] => [
    'server', '--listen', '127.0.0.1:0', '--target', `127.0.0.1:${backend.port}`, '--cert', cert, '--key', key, '--cacert', ca.cert, '--allow-cn', 'client', ...extra,
  ];
  const messages = (lines: readonly LogLine[]): string[] => lines.map((l) => l.msg.replace(/127\.0\.0\.1:\d+/g, 'ADDR'));

  before(async () => {
    ca = makeCa();
    server = issue(ca, 'server', { cn: 'localhost' });
    client = issue(ca, 'client', { cn: 'client' });
    backend = await echoBackend();
  });
  after(async () => {
    for (const gt of daemons) await gt.stop();
    for (const pid of others) await terminate(pid);
    await backend.close();
  });

  it('is on by default: the same process re-executed under --permission, with the same log lines and an empty stderr', async () => {
    const { cert, key } = credentialsIn(tempDir(), server);
    const on = start(serverArgs(cert, key));
    await on.address();
    const off = start(serverArgs(cert, key, ['--disable-landlock']));
    await off.address();
    assert.equal(on.lines[0]!.pid, on.proc.pid, 'the pid we started is the pid that logs: re-executed in place');
    assert.ok(nodeOptions(on.proc.pid!).includes('--permission'));
    assert.ok(!nodeOptions(off.proc.pid!).includes('--permission'));
    assert.deepEqual(messages(on.lines), messages(off.lines));
    for (const gt of [on, off]) {
      const s = await connectTls((await gt.address()).port, { cert: client.cert, key: client.key, ca: ca.cert });
      assert.equal(peerSerial(s), server.serial);
      s.destroy();
    }
    // Signals reach the sandboxed process as before, SIGUSR1 included (Node delivers it only with the inspector allowed).
    let from = on.lines.length;
    on.signal('SIGUSR1');
    await on.waitForLog(/^received user defined signal 1, reloading TLS configuration$/, 10_000, from);
    from = on.lines.length;
    on.signal('SIGHUP');
    await on.waitForLog(/^received hangup, reloading TLS configuration$/, 10_000, from);
    assert.equal(await on.stop(), 0);
    assert.equal(await off.stop(), 0);
    assert.equal(on.stderr(), '');
    assert.equal(off.stderr(), '');
  });

  it('usage and start-up errors: the same message and exit code with and without it', async () => {
    for (const extra of [['--no-such-flag'], ['--key', '/nonexistent/server.key']]) {
      const [on, off] = await Promise.all([runToExit(serverArgs(server.cert, server.key, extra)), runToExit(serverArgs(server.cert, server.key, [...extra, '--disable-landlock']))]);
      assert.equal(on.code, 1);
      assert.equal(off.code, 1);
      assert.equal(on.stderr, off.stderr);
    }
  });

  it('refuses to read a file outside the allowed set (a --config reload naming another directory); with --disable-landlock it reads it', async () => {
    const renewed = issue(ca, 'renewed', { cn: 'localhost' });
    for (const sandboxed of [true, false]) {
      const dir = tempDir();
      const first = credentialsIn(join(dir, 'certs'), server);
      const elsewhere = credentialsIn(join(tempDir(), 'elsewhere'), renewed);
      const config = join(dir, 'ghostunnel.yaml');
      const yaml = (c: { cert: string; key: string }): string =>
        `mode: server\nlisten: 127.0.0.1:0\ntarget: 127.0.0.1:${backend.port}\ncert: ${c.cert}\nkey: ${c.key}\ncacert: ${ca.cert}\nallow-cn: client\n${sandboxed ? '' : 'disable-landlock: true\n'}`;
      writeFileSync(config, yaml(first));
      const gt = start(['--config', config]);
      const { port } = await gt.address();
      writeFileSync(config, yaml(elsewhere));
      const from = gt.lines.length;
      gt.signal('SIGHUP');
      if (sandboxed) {
        const refused = await gt.waitForLog(/^error reloading/, 10_000, from);
        assert.match(refused.msg, new RegExp(`reading certificate file "${elsewhere.cert}": outside the sandbox: .*--disable-landlock`));
      } else {
        const loaded = await gt.waitForLog(/^loaded certificate/, 10_000, from);
        assert.equal(loaded.serial, renewed.serial);
      }
      const s = await connectTls(port, { cert: client.cert, key: client.key, ca: ca.cert });
      assert.equal(peerSerial(s), sandboxed ? server.serial : renewed.serial);
      s.destroy();
      assert.equal(await gt.stop(), 0);
    }
  });

  it('rotations keep working inside it: a Kubernetes Secret volume below the CA\'s directory, with --auto-reload', async () => {
    // The allowed set holds the CA's directory and, inside it, the Secret's: Node.js 24 denies the
    // outer directory itself when the inner one is granted first, which the file watcher trips on.
    const dir = tempDir();
    copyFileSync(ca.cert, join(dir, 'ca.crt'));
    mkdirSync(join(dir, 'secret'));
    const secret = kubernetesLayout(join(dir, 'secret'), server);
    const gt = start(['server', '--listen', '127.0.0.1:0', '--target', `127.0.0.1:${backend.port}`, '--cert', secret.cert, '--key', secret.key, '--cacert', join(dir, 'ca.crt'), '--allow-cn', 'client', '--auto-reload']);
    const { port } = await gt.address();
    await gt.waitForLog(/^watching/);
    const renewed = issue(ca, 'renewed-k8s', { cn: 'localhost' });
    const from = gt.lines.length;
    await secret.rotate(renewed);
    assert.equal((await gt.waitForLog(/^loaded certificate/, 10_000, from)).serial, renewed.serial);
    const s = await connectTls(port, { cert: client.cert, key: client.key, ca: ca.cert });
    assert.equal(peerSerial(s), renewed.serial);
    s.destroy();
    assert.equal(await gt.stop(), 0);
    assert.equal(gt.stderr(), '');
  });

  it('a hand-off successor is sandboxed with its own flags, not its predecessor\'s on top', async () => {
    const { cert, key } = credentialsIn(tempDir(), server);
    const gt = start(serverArgs(cert, key));
    const { port } = await gt.address();
    const samePid = (pid: number): string[] => nodeOptions(pid).map((o) => o.replace(`/proc/${pid}`, '/proc/PID'));
    const before = samePid(gt.proc.pid!);
    const from = gt.lines.length;
    gt.signal('SIGUSR2');
    const line = await gt.waitForLog(/^upgrade: successor pid \d+ is accepting, handing over$/, 30_000, from);
    const successor = Number(line.successor);
    others.push(successor);
    const options = samePid(successor);
    assert.equal(options.filter((o) => o === '--permission').length, 1, options.join(' '));
    assert.deepEqual(options, before);
    assert.equal(await gt.exited(), 0);
    const s = await connectTls(port, { cert: client.cert, key: client.key, ca: ca.cert });
    assert.equal(peerSerial(s), server.serial);
    s.destroy();
    await terminate(successor);
    await waitGone(successor);
    assert.equal(gt.stderr(), '', 'no permission warnings from the successor either');
  });

  it('warns at start when the private key file is readable by group or others', async () => {
    const { cert, key } = credentialsIn(tempDir(), server);
    chmodSync(key, 0o644);
    const loose = start(serverArgs(cert, key));
    await loose.address();
    const warning = loose.lines.find((l) => /private key file/.test(l.msg));
    assert.equal(warning?.msg, `warning: private key file ${key} is readable by group and others (mode 0644); restrict it with chmod 600 ${key}`);
    assert.equal(warning?.level, 'warn');
    assert.equal(await loose.stop(), 0);
    chmodSync(key, 0o640);
    const group = start(serverArgs(cert, key));
    await group.address();
    assert.ok(group.lines.some((l) => l.msg === `warning: private key file ${key} is readable by group (mode 0640); restrict it with chmod 600 ${key}`));
    assert.equal(await group.stop(), 0);
    chmodSync(key, 0o600);
    const tight = start(serverArgs(cert, key));
    await tight.address();
    assert.ok(!tight.lines.some((l) => /private key file/.test(l.msg)));
    assert.equal(await tight.stop(), 0);
  });
});
