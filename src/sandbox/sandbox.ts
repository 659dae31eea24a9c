// The Landlock analogue: the daemon runs under Node's permission model (docs/sandbox.md). The model
// can only be switched on when Node starts, so once the flags are parsed and validated the process
// executes itself again in place with `--permission` and the allowances (process.execve: the same
// pid and environment, so systemd's MAINPID, signals and the hand-off keep working; the sockets
// passed in by systemd or a predecessor are kept open across it), and starts over sandboxed.
import { existsSync, mkdirSync } from 'node:fs';
import type { Config } from '../config/types.ts';
import { readyDescriptor } from '../lifecycle/upgrade.ts';
import { passedDescriptors } from '../net/inherited-sockets.ts';
import { system } from '../sys/platform.ts';
import { namedFiles, sandboxAllowances, type ExtraInputs, type SandboxAllowances } from './allowances.ts';
import { reached } from '../startup.ts';
import { addedFlagsMark } from './launch.ts';

/** Each capability's Node flag, and the warning code Node prints for it (silenced: the re-exec leaves stderr as it was). */
const CAPABILITIES = {
  addons: ['--allow-addons', 'PERM0001'],
  childProcesses: ['--allow-child-process', 'PERM0002'],
  inspector: ['--allow-inspector', 'PERM0004'],
  workers: ['--allow-worker', 'PERM0006'],
} as const;

/**
 * V8 settings that can only be given on the command line, added while re-executing anyway. The
 * bytes never reach JavaScript (the data plane is native), so what it allocates per connection is
 * small and short-lived: a 1 MiB young generation keeps about 6 MiB less resident under load, at
 * the same CPU per handshake and request (docs/performance.md).
 */
const TUNING_FLAGS = ['--max-semi-space-size=1'];

export function permissionFlags(allow: SandboxAllowances): string[] {
  const granted = (Object.keys(CAPABILITIES) as Array<keyof typeof CAPABILITIES>).filter((k) => allow[k]).map((k) => CAPABILITIES[k]);
  return [
    '--permission',
    ...allow.read.map((p) => `--allow-fs-read=${p}`),
    ...allow.write.map((p) => `--allow-fs-write=${p}`),
    ...granted.map(([flag]) => flag),
    ...granted.map(([, code]) => `--disable-warning=${code}`),
  ];
}

export interface SandboxRequest {
  /** --disable-landlock. */
  readonly disabled: boolean;
  /** Builds the validated configuration; a failure is left to the normal start-up path to report. */
  readonly configure: () => Config;
  readonly extra: ExtraInputs;
}

/** Why the sandbox is not on, when that is worth a log line. */
export interface SandboxOutcome {
  readonly warning?: string;
}

/**
 * Re-executes this process under the permission model, unless it already runs under it, the
 * sandbox is disabled, or the configuration cannot run inside it. Returns only when it did not
 * re-execute; as in Ghostunnel, a failure to apply the sandbox is a warning, never fatal.
 */
export function enterSandbox(request: SandboxRequest): SandboxOutcome {
  if (process.permission !== undefined || request.disabled) return {};
  let config: Config;
  try {
    config = request.configure();
  } catch {
    return {};
  }
  // Node refuses OpenSSL engines under the permission model, and PKCS#11 keys are used through
  // one; Ghostunnel likewise skips Landlock with --pkcs11-module.
  if (config.credentials.pkcs11 !== undefined) return {};
  // Node leaves a directory that does not exist out of the allowed set, so a missing file would be
  // reported as outside the sandbox: the start fails on it anyway, with the usual message.
  if (namedFiles(config, request.extra).some((p) => !existsSync(p))) return {};
  if (!system.reexec) {
    return { warning: `sandbox not applied: Node.js cannot re-execute itself in place on ${system.name} (process.execve), which entering it needs; use --disable-landlock to silence this` };
  }
  if (typeof process.execve !== 'function') {
    return { warning: `sandbox not applied: this Node.js ${process.version} cannot re-execute itself (process.execve needs 22.15 or 23.11 and later); use --disable-landlock to silence this` };
  }
  const allowances = sandboxAllowances(config, request.extra);
  const flags = [...TUNING_FLAGS, ...permissionFlags(allowances)];
  try {
    for (const dir of allowances.created) mkdirSync(dir, { recursive: true, mode: 0o700 });
    // Sockets from systemd or from the process we replace, and the hand-off's readiness pipe.
    const ready = readyDescriptor();
    const calls = system.descriptors;
    if (calls !== undefined) for (const fd of [...passedDescriptors(), ...(ready === undefined ? [] : [ready])]) calls.keepAcrossExec(fd);
    reached('exec');
    process.execve(process.execPath, [process.execPath, ...flags, ...process.execArgv, ...process.argv.slice(1)], { ...process.env, ...addedFlagsMark(flags.length) });
  } catch (err) {
    return { warning: `sandbox not applied: re-executing ${process.execPath} failed: ${(err as Error).message}` };
  }
  return {};
}
