// The systemd units: ghostunnel.service at the repository root (the unit users copy) and the
// variants in deploy/systemd. `systemd-analyze verify` accepts them (with ExecStart pointed at this
// checkout's launcher and the man page on MANPATH, so that both checks are real), the ExecStart
// command lines parse, the socket's name is the one --listen asks for, and the sandbox holds.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { parseArgs } from '../../src/cli/parse.ts';
import { REPO } from '../helpers/package-install.ts';
import { tempDir } from '../helpers/pki.ts';
import { linuxOnly } from '../helpers/platform.ts';
import { requirePrograms } from '../helpers/programs.ts';

const INSTALLED_BIN = '/usr/local/bin/ghostunnel';
const SERVICE = 'ghostunnel.service';
const DROP_IN = 'deploy/systemd/before-253.conf';
const SOCKET_ACTIVATED = ['deploy/systemd/socket-activated/ghostunnel.socket', 'deploy/systemd/socket-activated/ghostunnel.service'];

/** systemd < 253 does not know Type=notify-reload yet; the before-253.conf drop-in is for those. */
function tolerated(): RegExp | undefined {
  const version = Number(/^systemd (\d+)/.exec(execFileSync('systemctl', ['--version'], { encoding: 'utf8' }))![1]);
  return version < 253 ? /Failed to parse service type, ignoring: notify-reload$/ : undefined;
}

/** Copies units to a new directory, with ExecStart on this checkout's bin/ghostunnel. */
function stage(files: ReadonlyArray<readonly [string, string]>): string {
  const dir = tempDir('gt-units-');
  for (const [name, text] of files) writeFileSync(join(dir, name), text.replaceAll(INSTALLED_BIN, join(REPO, 'bin', 'ghostunnel')));
  mkdirSync(join(dir, 'man', 'man1'), { recursive: true });
  copyFileSync(join(REPO, 'docs', 'ghostunnel.1'), join(dir, 'man', 'man1', 'ghostunnel.1'));
  return dir;
}

/** `systemd-analyze verify` on the staged units (it runs `man` for Documentation=): its exit code and the lines it printed. */
function verify(dir: string, names: readonly string[]): { status: number | null; lines: string[] } {
  requirePrograms('systemctl', 'systemd-analyze', 'man');
  const result = spawnSync('systemd-analyze', ['verify', ...names.map((n) => `./${n}`)], { cwd: dir, encoding: 'utf8', env: { ...process.env, MANPATH: join(dir, 'man'), SYSTEMD_LOG_COLOR: '0' } });
  return { status: result.status, lines: `${result.stdout}${result.stderr}`.split('\n').filter(Boolean) };
}

/** A unit file, by its path in the repository. */
const read = (relative: string): string => readFileSync(join(REPO, relative), 'utf8');

/** Values of a directive in a unit, continuation lines joined. */
function directive(unit: string, key: string): string[] {
  const joined = unit.replace(/\\\n\s*/g, ' ');
  return [...joined.matchAll(new RegExp(`^${key}=(.*)$`, 'gm'))].map((m) => m[1]!.trim());
}

function execStart(unit: string): string[] {
  const [line] = directive(unit, 'ExecStart');
  return line!.split(/\s+/);
}

function flag(argv: readonly string[], name: string): string | undefined {
  const i = argv.indexOf(`--${name}`);
  return i < 0 ? undefined : argv[i + 1];
}

const SETS: ReadonlyArray<readonly [string, readonly string[]]> = [
  [SERVICE, [SERVICE]],
  ['socket-activated', SOCKET_ACTIVATED],
];

describe('systemd units', { skip: linuxOnly('runs systemd-analyze') }, () => {
  for (const [title, files] of SETS) {
    it(`systemd-analyze verify: ${title}`, () => {
      const dir = stage(files.map((f) => [basename(f), read(f)] as const));
      const { status, lines } = verify(dir, files.map((f) => basename(f)));
      assert.equal(status, 0, lines.join('\n'));
      const ignore = tolerated();
      assert.deepEqual(lines.filter((l) => !ignore?.test(l)), []);
    });
  }

  it('with the before-253.conf drop-in (Type=notify, ExecReload=kill -HUP), verify prints nothing', () => {
    const dropIn = read(DROP_IN);
    const service = read(SERVICE);
    const body = dropIn.slice(dropIn.indexOf('[Service]\n') + '[Service]\n'.length);
    assert.match(body, /^Type=notify\nExecReload=\/bin\/kill -HUP \$MAINPID\n$/);
    assert.equal(directive(service, 'Type').length, 1);
    const dir = stage([['ghostunnel.service', service.replace(/^Type=notify-reload\n/m, body)]]);
    const { status, lines } = verify(dir, ['ghostunnel.service']);
    assert.equal(status, 0);
    assert.deepEqual(lines, []);
  });

  it('a broken unit fails verify (the check can fail)', () => {
    const dir = stage([['ghostunnel.service', read(SERVICE).replace('ProtectSystem=strict', 'ProtectSystem=sometimes')]]);
    const { lines } = verify(dir, ['ghostunnel.service']);
    assert.ok(lines.some((l) => /Failed to parse protect system value, ignoring: sometimes$/.test(l)), lines.join('\n'));
  });

  for (const file of [SERVICE, SOCKET_ACTIVATED[1]!]) {
    it(`${file}: the command line parses; sandbox and timeouts`, () => {
      const unit = read(file);
      const argv = execStart(unit);
      assert.equal(argv[0], INSTALLED_BIN);
      assert.equal(parseArgs(argv.slice(1), () => {}).kind, 'run');
      for (const [key, value] of [['DynamicUser', 'yes'], ['ProtectSystem', 'strict'], ['NoNewPrivileges', 'yes'], ['NotifyAccess', 'all'], ['Type', 'notify-reload']]) {
        assert.deepEqual(directive(unit, key!), [value], key);
      }
      assert.deepEqual(directive(unit, 'MemoryDenyWriteExecute'), [], 'V8 needs writable code pages');
      const readOnly = directive(unit, 'ReadOnlyPaths').flatMap((v) => v.split(/\s+/));
      for (const name of ['cert', 'key', 'cacert']) assert.ok(readOnly.includes(dirname(flag(argv, name)!)), `--${name} is under ReadOnlyPaths=`);
      const stopSeconds = Number(/^(\d+)s$/.exec(directive(unit, 'TimeoutStopSec')[0]!)![1]);
      assert.ok(stopSeconds > 300, 'systemd must not kill ghostunnel before its 5m --shutdown-timeout');
    });
  }

  it('the socket unit names its socket as --listen systemd:NAME asks', () => {
    const [socket, service] = SOCKET_ACTIVATED.map(read) as [string, string];
    const [name] = directive(socket, 'FileDescriptorName');
    assert.equal(flag(execStart(service), 'listen'), `systemd:${name}`);
    assert.deepEqual(directive(service, 'Requires'), ['ghostunnel.socket']);
    assert.deepEqual(directive(service, 'CapabilityBoundingSet'), [''], 'systemd binds the port: no capability left');
  });

  it('systemd-analyze security rates the sandbox OK or better', () => {
    requirePrograms('systemd-analyze');
    const dir = stage([['ghostunnel.service', read(SERVICE)]]);
    const result = spawnSync('systemd-analyze', ['security', '--offline=true', '--threshold=40', '--no-pager', './ghostunnel.service'], { cwd: dir, encoding: 'utf8' });
    assert.equal(result.status, 0, `${result.stdout}${result.stderr}`);
    const exposure = Number(/Overall exposure level for ghostunnel\.service: ([\d.]+)/.exec(result.stdout)![1]);
    assert.ok(exposure <= 4, `exposure ${exposure}`);
  });
});
