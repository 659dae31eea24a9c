// The launchd agent and the Windows service recipe: what can be checked on Linux. The plist is
// well-formed (python3's plistlib reads it as launchd would), and both command lines are accepted
// by the parser and by their platform (macOS, Windows, passed in), reload without signals where
// there are none, and stop within the manager's wait.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parseDuration } from '../../src/cli/duration.ts';
import { argsFor, parseArgs } from '../../src/cli/parse.ts';
import { buildConfig } from '../../src/config/build.ts';
import { systemFor } from '../../src/sys/platform.ts';
import { requireProgram } from '../helpers/programs.ts';

const root = new URL('../../', import.meta.url);

/** Parses and validates a command line as ghostunnel does on `platform`; throws its start-up error. */
function acceptedOn(argv: readonly string[], platform: NodeJS.Platform): void {
  const out = parseArgs(argv, () => {});
  assert.equal(out.kind, 'run');
  if (out.kind === 'run') buildConfig(argsFor(out.commandLine, out.commandLine.mode!), systemFor(platform));
}

function flag(argv: readonly string[], name: string): string | undefined {
  const i = argv.indexOf(`--${name}`);
  return i < 0 ? undefined : argv[i + 1];
}

describe('launchd agent', () => {
  const path = new URL('deploy/launchd/com.example.ghostunnel.plist', root);
  requireProgram('python3');
  const plist = JSON.parse(
    execFileSync('python3', ['-c', 'import json, plistlib, sys; print(json.dumps(plistlib.load(open(sys.argv[1], "rb"))))', path.pathname], { encoding: 'utf8' }),
  ) as { Label: string; ProgramArguments: string[]; KeepAlive: { SuccessfulExit: boolean }; ExitTimeOut: number; RunAtLoad: boolean };

  it('runs the launcher with a named Node.js and arguments ghostunnel accepts', () => {
    const [node, launcher, ...args] = plist.ProgramArguments;
    assert.match(node!, /\/node$/);
    assert.match(launcher!, /\/node_modules\/ghostunnel-ts\/bin\/ghostunnel$/);
    acceptedOn(args, 'darwin');
    assert.ok(args.includes('--auto-reload'));
    assert.match(flag(args, 'listen')!, /^127\.0\.0\.1:\d+$/);
    assert.doesNotMatch(args.join(' '), /launchd:/, 'launchd: sockets are not implemented');
    assert.equal(plist.Label, 'com.example.ghostunnel');
    assert.equal(plist.RunAtLoad, true);
  });

  it('is restarted after a crash only, and given longer than the drain to stop', () => {
    assert.deepEqual(plist.KeepAlive, { SuccessfulExit: false });
    const args = plist.ProgramArguments.slice(2);
    assert.ok(plist.ExitTimeOut * 1000 > parseDuration(flag(args, 'shutdown-timeout')!));
  });
});

describe('Windows service (NSSM)', () => {
  const doc = readFileSync(new URL('docs/windows.md', root), 'utf8');

  it('the service command line is accepted, reloads on a timer and stops within NSSM\'s wait', () => {
    const parameters = /^nssm set ghostunnel AppParameters "([^"]+)"$/m.exec(doc)![1]!.split(' ');
    const [launcher, ...args] = parameters;
    assert.match(launcher!, /\\node_modules\\ghostunnel-ts\\bin\\ghostunnel$/);
    acceptedOn(args, 'win32');
    assert.ok(parseDuration(flag(args, 'timed-reload')!) > 0, 'Windows has no SIGHUP: --timed-reload');
    const stopWaitMs = Number(/^nssm set ghostunnel AppStopMethodConsole (\d+)$/m.exec(doc)![1]);
    assert.ok(stopWaitMs > parseDuration(flag(args, 'shutdown-timeout')!));
    assert.match(doc, /^nssm install ghostunnel "C:\\Program Files\\nodejs\\node\.exe"$/m);
  });
});
