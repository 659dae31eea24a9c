// Zero-downtime binary replacement by hand-off (docs/upgrades.md): the running process starts its
// successor with the listening sockets inherited as systemd-style LISTEN_FDS, waits until the
// successor reports that it accepts on them, and only then stops accepting and drains. The sockets
// are never closed in between, so no connection waiting in an accept queue is reset, and no
// SO_REUSEPORT is needed.
import type { ChildProcess } from 'node:child_process';
import { closeSync, writeSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { FIRST_INHERITED_FD } from '../net/inherited-sockets.ts';
import { launchExecArgv, successorShellPrefix } from '../sandbox/launch.ts';

/** A listening socket to pass on: its descriptor and the LISTEN_FDNAMES name it goes under. */
export interface PassedSocket {
  readonly fd: number;
  readonly name: string;
}

/** Set in the successor's environment: the pid it replaces, and the pipe it reports readiness on. */
const FROM_ENV = 'GHOSTUNNEL_UPGRADE_FROM';
const READY_FD_ENV = 'GHOSTUNNEL_READY_FD';
const READY_LINE = 'READY=1\n';
/** How long a successor may take to load its credentials and start accepting. */
export const SUCCESSOR_READY_TIMEOUT_MS = 60_000;

/** The command to start: --upgrade-exec, or how this process itself was started. */
export function successorCommand(upgradeExec: string | undefined): { file: string; args: string[] } {
  const args = process.argv.slice(2);
  if (upgradeExec !== undefined) return { file: upgradeExec, args };
  // Node's options without the sandbox's: the successor sets up its own sandbox for its own configuration.
  return { file: process.execPath, args: [...launchExecArgv(), process.argv[1]!, ...args] };
}

/**
 * Starts the successor and resolves with it once it reported ready; rejects (after killing it)
 * if it exits or stays silent for `timeoutMs`. LISTEN_PID (and WATCHDOG_PID, for a watchdog)
 * must name the successor itself, which only the child knows: a shell sets them, then execs.
 */
export async function startSuccessor(command: { file: string; args: string[] }, sockets: readonly PassedSocket[], timeoutMs = SUCCESSOR_READY_TIMEOUT_MS): Promise<ChildProcess> {
  // Loaded for the hand-off only: a daemon that is never upgraded does not carry node:child_process.
  const { spawn } = await import('node:child_process');
  const readyFd = FIRST_INHERITED_FD + sockets.length;
  const nodeOptions = successorShellPrefix();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    LISTEN_FDS: String(sockets.length),
    LISTEN_FDNAMES: sockets.map((s) => s.name).join(':'),
    [FROM_ENV]: String(process.pid),
    [READY_FD_ENV]: String(readyFd),
    ...nodeOptions.env,
  };
  const watchdog = process.env.WATCHDOG_USEC !== undefined ? ' WATCHDOG_PID=$$; export WATCHDOG_PID;' : '';
  const script = `${nodeOptions.script} LISTEN_PID=$$; export LISTEN_PID;${watchdog} exec "$0" "$@"`;
  const child = spawn('/bin/sh', ['-c', script, command.file, ...command.args], {
    env,
    stdio: ['inherit', 'inherit', 'inherit', ...sockets.map((s) => s.fd), 'pipe'],
  });
  const readyPipe = child.stdio[readyFd] as Readable;
  return new Promise((resolve, reject) => {
    let said = '';
    const finish = (err?: Error): void => {
      clearTimeout(timer);
      child.off('exit', onExit);
      child.off('error', onError);
      readyPipe.removeAllListeners('data');
      readyPipe.destroy();
      if (err) {
        child.kill('SIGKILL');
        reject(err);
      } else resolve(child);
    };
    const onExit = (code: number | null, signal: string | null): void => finish(new Error(`successor exited (${signal ?? `code ${code}`}) before it was ready`));
    const onError = (err: Error): void => finish(new Error(`unable to start ${command.file}: ${err.message}`));
    const timer = setTimeout(() => finish(new Error(`successor did not report ready within ${timeoutMs / 1000}s`)), timeoutMs);
    child.once('exit', onExit);
    child.once('error', onError);
    readyPipe.setEncoding('utf8');
    readyPipe.on('data', (chunk: string) => {
      said += chunk;
      if (said.includes(READY_LINE)) finish();
    });
    readyPipe.on('error', () => {});
  });
}

/** In a successor, before it reported ready: the pipe to report on. */
export function readyDescriptor(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const fd = Number(env[READY_FD_ENV]);
  return Number.isInteger(fd) && fd >= FIRST_INHERITED_FD ? fd : undefined;
}

/** In a successor: the pid of the process it replaces, if it was started by a hand-off. */
export function predecessorPid(): number | undefined {
  const pid = Number(process.env[FROM_ENV]);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

/**
 * In a successor, once it accepts on the inherited sockets: tells the predecessor so, and clears
 * the hand-off variables so that our own successor starts from a clean slate.
 */
export function reportReadyToPredecessor(): void {
  const fd = Number(process.env[READY_FD_ENV]);
  delete process.env[FROM_ENV];
  delete process.env[READY_FD_ENV];
  if (!Number.isInteger(fd) || fd < FIRST_INHERITED_FD) return;
  try {
    writeSync(fd, READY_LINE);
    closeSync(fd);
  } catch {
    // The predecessor is gone already (it gave up waiting): it cannot be told, and needs not be.
  }
}
