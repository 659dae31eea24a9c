// The platform the daemon runs on, picked in src/sys/platform.ts and passed in here: what each
// platform offers, and how every Linux-only feature is refused elsewhere (one line naming the
// platform and what to use instead) or takes the portable route. Runs on Linux with macOS and
// Windows passed in, so the routes that CI on those systems takes are checked here too.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { StartupError } from '../../src/cli/errors.ts';
import { argsFor, parseArgs, type Mode } from '../../src/cli/parse.ts';
import { buildConfig } from '../../src/config/build.ts';
import { readConfigFile } from '../../src/config/config-file.ts';
import { ServiceNotifier } from '../../src/lifecycle/sd-notify.ts';
import { installSignalHandlers } from '../../src/lifecycle/signals.ts';
import type { Log } from '../../src/log/logger.ts';
import { SyslogDestination } from '../../src/log/syslog.ts';
import { sandboxAllowances, withoutCovered } from '../../src/sandbox/allowances.ts';
import { system, systemFor } from '../../src/sys/platform.ts';
import { tempDir } from '../helpers/pki.ts';

const linux = systemFor('linux');
const darwin = systemFor('darwin');
const windows = systemFor('win32');

const SERVER = ['--target', '127.0.0.1:8080', '--cert', 'server.crt', '--key', 'server.key', '--cacert', 'ca.crt', '--allow-all'];

function configFor(argv: string[], mode: Mode = 'server') {
  const out = parseArgs([mode, ...argv], () => {});
  assert.equal(out.kind, 'run');
  return argsFor(out.commandLine, mode);
}

function refusal(argv: string[], on: typeof linux): string {
  try {
    buildConfig(configFor(argv), on);
  } catch (err) {
    assert.ok(err instanceof StartupError, String(err));
    assert.doesNotMatch(err.message, /\n/);
    return err.message;
  }
  return 'accepted';
}

function recordingLog(): Log & { readonly lines: string[] } {
  const lines: string[] = [];
  const record = (msg: string): void => void lines.push(msg);
  return { lines, info: record, warn: record, error: record, conn: record, connError: record, handshakeError: record, flush: () => {} };
}

describe('the platform', () => {
  it('is picked by process.platform: Linux has the system calls, every other platform the portable route', () => {
    assert.equal(system, systemFor(process.platform));
    assert.equal(linux.name, 'linux');
    assert.ok(linux.descriptors && linux.datagrams && linux.systemd && linux.unixSockets && linux.reexec && linux.addons);
    for (const name of ['darwin', 'win32', 'freebsd'] as const) {
      const other = systemFor(name);
      assert.equal(other.name, name);
      assert.equal(other.descriptors, undefined, name);
      assert.equal(other.datagrams, undefined, name);
      assert.equal(other.systemd, false, name);
      assert.equal(other.addons, false, name);
      assert.deepEqual(other.processFiles(1), []);
      assert.deepEqual(other.threadFiles, []);
      assert.equal(other.threadId, undefined);
      assert.equal(other.ramDirectory, undefined);
    }
    assert.equal(darwin.unixSockets, true);
    assert.equal(darwin.reexec, true);
    assert.equal(windows.unixSockets, false, "Node's socket paths are named pipes on Windows");
    assert.equal(windows.reexec, false, 'no process.execve on Windows');
  });

  it('Windows reloads without signals: no SIGHUP, SIGUSR1 or SIGUSR2; Ctrl-C and Ctrl-Break drain', () => {
    assert.deepEqual(windows.signals, { reload: [], shutdown: ['SIGINT', 'SIGBREAK', 'SIGTERM'], upgrade: [] });
    assert.deepEqual(darwin.signals, linux.signals);
    assert.deepEqual(linux.signals, { reload: ['SIGHUP', 'SIGUSR1'], shutdown: ['SIGTERM', 'SIGINT'], upgrade: ['SIGUSR2'] });
  });
});

describe('Linux-only features elsewhere are refused at start, in one line', () => {
  it('systemd sockets, --syslog, --workers above 1 and --upgrade-exec on macOS and Windows', () => {
    for (const on of [darwin, windows]) {
      const here = `is only available on Linux (this is ${on.name})`;
      assert.equal(refusal(['--listen', 'systemd:tunnel', ...SERVER], on), `--listen systemd:tunnel ${here}; use --listen HOST:PORT`);
      assert.equal(refusal(['--listen', '127.0.0.1:0', '--status', 'systemd:status', ...SERVER], on), `--status systemd:status ${here}; use --status HOST:PORT`);
      assert.equal(refusal(['--listen', '127.0.0.1:0', '--syslog', ...SERVER], on), `--syslog ${here}; drop it and keep standard output (the service manager's log, or a file it writes to)`);
      assert.equal(refusal(['--listen', '127.0.0.1:0', '--workers', '2', ...SERVER], on), `--workers 2 ${here}; use --workers 1`);
      assert.equal(refusal(['--listen', '127.0.0.1:0', '--upgrade-exec', '/usr/bin/ghostunnel', ...SERVER], on), `--upgrade-exec (hand-off upgrades) ${here}; drop it and restart the service to upgrade`);
      assert.equal(refusal(['--listen', '127.0.0.1:0', '--workers', '1', ...SERVER], on), 'accepted');
    }
  });

  it('launchd:NAME everywhere; unix:PATH on Windows only', () => {
    for (const on of [linux, darwin, windows]) {
      assert.equal(refusal(['--listen', 'launchd:tunnel', ...SERVER], on), `--listen launchd:tunnel: launchd socket activation is not implemented (this is ${on.name}); use --listen HOST:PORT or unix:PATH`);
    }
    const pipes = "UNIX sockets are not available on win32, where Node's socket paths are named pipes";
    assert.equal(refusal(['--listen', 'unix:/run/gt.sock', ...SERVER], windows), `--listen unix:/run/gt.sock: ${pipes}; use --listen HOST:PORT`);
    assert.equal(refusal(['--listen', '127.0.0.1:0', '--status', 'unix:C:\\gt\\status.sock', ...SERVER], windows), `--status unix:C:\\gt\\status.sock: ${pipes}; use --status HOST:PORT`);
    assert.equal(refusal(['--listen', '127.0.0.1:0', ...SERVER.with(1, 'unix:/run/backend.sock')], windows), `--target unix:/run/backend.sock: ${pipes}; use --target HOST:PORT`);
    assert.equal(refusal(['--listen', 'unix:/run/gt.sock', ...SERVER], darwin), 'accepted');
  });

  it('on Linux all of them are accepted', () => {
    assert.equal(refusal(['--listen', 'systemd:tunnel', '--status', 'systemd:status', '--syslog', '--workers', '2', '--upgrade-exec', '/usr/bin/ghostunnel', ...SERVER], linux), 'accepted');
  });
});

describe('signals', () => {
  /** Installs the handlers for `table`, runs each once (no signal is sent: Node has its own uses for some), and removes them again. */
  function triggered(table: typeof linux.signals): { handled: string[]; calls: string[] } {
    const names: NodeJS.Signals[] = ['SIGHUP', 'SIGUSR1', 'SIGUSR2', 'SIGTERM', 'SIGINT', 'SIGBREAK'];
    const before = new Map(names.map((s) => [s, process.listeners(s)]));
    const calls: string[] = [];
    const handled = installSignalHandlers({ reload: (t) => calls.push(`reload ${t}`), shutdown: (s) => calls.push(`shutdown ${s}`), upgrade: () => calls.push('upgrade') }, table);
    for (const signal of names) {
      for (const added of process.listeners(signal).filter((l) => !before.get(signal)!.includes(l))) {
        process.removeListener(signal, added);
        added(signal);
      }
    }
    return { handled, calls };
  }

  it('each platform registers its own; a name that is no signal here (SIGBREAK on Linux) is skipped', () => {
    assert.deepEqual(triggered(linux.signals), {
      handled: ['SIGHUP', 'SIGUSR1', 'SIGTERM', 'SIGINT', 'SIGUSR2'],
      calls: ['reload SIGHUP', 'reload SIGUSR1', 'upgrade', 'shutdown SIGTERM', 'shutdown SIGINT'],
    });
    assert.deepEqual(triggered(windows.signals), { handled: ['SIGINT', 'SIGTERM'], calls: ['shutdown SIGTERM', 'shutdown SIGINT'] });
  });
});

describe('sd_notify and syslog without UNIX datagrams', () => {
  it('a NOTIFY_SOCKET is reported once and ignored', () => {
    const log = recordingLog();
    const notifier = new ServiceNotifier(log, { NOTIFY_SOCKET: '/run/systemd/notify', WATCHDOG_USEC: '1000000' }, darwin);
    assert.equal(notifier.enabled, false);
    notifier.ready('listening');
    notifier.startWatchdog();
    notifier.stopping('stopping');
    assert.deepEqual(log.lines, ['warning: ignoring NOTIFY_SOCKET: sd_notify is only available on Linux (this is darwin); readiness is /_status answering 200']);
    assert.deepEqual(recordingLog().lines, []);
    assert.equal(new ServiceNotifier(recordingLog(), {}, darwin).enabled, false);
  });

  it('--syslog cannot set up its destination', () => {
    assert.throws(() => new SyslogDestination('ghostunnel', windows), { message: "--syslog is only available on Linux (this is win32); drop it and keep standard output (the service manager's log, or a file it writes to)" });
  });
});

describe('the sandbox', () => {
  const config = buildConfig(configFor(['--listen', '127.0.0.1:0', ...SERVER]));

  it('allows the files about the process and the addons only where the platform has them', () => {
    const onLinux = sandboxAllowances(config, { argsFiles: [] }, {}, linux);
    assert.ok(onLinux.read.includes('/proc/self'));
    assert.equal(onLinux.addons, true);
    const onDarwin = sandboxAllowances(config, { argsFiles: [] }, {}, darwin);
    assert.deepEqual(onDarwin.read.filter((p) => p.startsWith('/proc')), []);
    assert.equal(onDarwin.addons, false);
  });

  it('drops paths a granted directory covers, with the platform\'s separator', () => {
    assert.deepEqual(withoutCovered(['C:\\gt\\certs\\server.crt', 'C:\\gt', 'C:\\gtx', 'C:\\gt\\certs'], '\\'), ['C:\\gt', 'C:\\gtx']);
    assert.deepEqual(withoutCovered(['/etc/gt/a', '/etc/gt', '/etc/gtx'], '/'), ['/etc/gt', '/etc/gtx']);
  });
});

describe('Windows paths', () => {
  const certs = { cert: 'C:\\ghostunnel\\certs\\server.crt', key: 'C:\\ghostunnel\\certs\\server.key', cacert: 'D:\\ca bundle\\ca.crt' };

  it('drive letters and backslashes pass unchanged from the command line, an @file (CRLF) and a --config file', () => {
    const flags = ['--listen', '127.0.0.1:0', '--target', '127.0.0.1:8080', '--cert', certs.cert, '--key', certs.key, '--cacert', certs.cacert, '--allow-all'];
    assert.deepEqual(pick(buildConfig(configFor(flags), windows).credentials), certs);

    const dir = tempDir('gt-winpaths-');
    const argsFile = join(dir, 'args.txt');
    writeFileSync(argsFile, `${flags.join('\r\n')}\r\n`);
    assert.deepEqual(pick(buildConfig(configFor([`@${argsFile}`]), windows).credentials), certs);

    const yaml = join(dir, 'ghostunnel.yaml');
    writeFileSync(yaml, [`cert: ${certs.cert}`, `key: '${certs.key}'`, `cacert: "${certs.cacert.replace(/\\/g, '\\\\')}"`, ''].join('\r\n'));
    const values = readConfigFile(yaml, 'server').values;
    assert.deepEqual({ cert: values.get('cert'), key: values.get('key'), cacert: values.get('cacert') }, certs);
  });

  function pick(c: { cert?: string; key?: string; cacert?: string }): Record<string, string | undefined> {
    return { cert: c.cert, key: c.key, cacert: c.cacert };
  }
});

describe('platform-specific code stays in src/sys', () => {
  const src = new URL('../../src/', import.meta.url).pathname;
  const files = (dir: string): string[] => readdirSync(dir).flatMap((name) => (statSync(join(dir, name)).isDirectory() ? files(join(dir, name)) : name.endsWith('.ts') ? [join(dir, name)] : []));

  it('no process.platform, Linux path, constant or FFI outside it', () => {
    const linuxOnly = [/process\.platform/, /['"`]\/proc\//, /['"`]\/dev\/(log|shm)/, /\bkoffi\b.*\(/, /createRequire\(.*\)\(['"]koffi/, /\b(AF_UNIX|SOCK_CLOEXEC|F_DUPFD|SO_REUSEPORT|MSG_NOSIGNAL)\s*=/];
    const found = files(src)
      .filter((f) => !relative(src, f).startsWith('sys/'))
      .flatMap((f) => readFileSync(f, 'utf8').split('\n').map((line, i) => ({ where: `src/${relative(src, f)}:${i + 1}`, line })))
      .filter(({ line }) => !/^\s*(\/\/|\/?\*)/.test(line) && linuxOnly.some((p) => p.test(line)));
    assert.deepEqual(found, []);
  });
});
