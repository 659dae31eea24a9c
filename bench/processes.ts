// Child processes pinned to a core: start, wait until they accept, read their RSS, stop.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export interface Pinned {
  readonly name: string;
  readonly child: ChildProcess;
  readonly pid: number;
  /** Where the process's stderr goes (stdout goes to /dev/null: per-connection log lines). */
  readonly logPath: string;
  /** Set once the process has ended: its exit code or signal. */
  exit: number | string | undefined;
}

const live = new Set<Pinned>();

/** Kills every process started here that is still running (the bench was interrupted). */
export function killAll(): void {
  for (const p of live) p.child.kill('SIGKILL');
}

/** Starts `command args` on the CPUs listed (`taskset -c CPUS`, which execs it, so the pid is the command's). */
export function startPinned(name: string, cpus: string, command: string, args: readonly string[], logPath: string, env?: NodeJS.ProcessEnv): Pinned {
  const stderr = openSync(logPath, 'a');
  const child = spawn('taskset', ['-c', cpus, command, ...args], { stdio: ['ignore', 'ignore', stderr], env: { ...process.env, ...env } });
  closeSync(stderr);
  if (child.pid === undefined) throw new Error(`${name}: could not start ${command}`);
  const pinned: Pinned = { name, child, pid: child.pid, logPath, exit: undefined };
  live.add(pinned);
  child.once('exit', (code, signal) => {
    pinned.exit = code ?? signal ?? 'unknown';
    live.delete(pinned);
  });
  return pinned;
}

function logTail(p: Pinned): string {
  try {
    return readFileSync(p.logPath, 'utf8').trim().split('\n').slice(-5).join('\n');
  } catch {
    return '';
  }
}

function tryConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Waits until something accepts TCP connections on 127.0.0.1:port; fails if the process exits first. */
export async function waitForPort(p: Pinned, port: number, timeoutMs = 15_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (p.exit !== undefined) throw new Error(`${p.name} exited (${p.exit}) before listening on port ${port}; ${p.logPath}:\n${logTail(p)}`);
    if (await tryConnect(port)) return;
    await sleep(50);
  }
  throw new Error(`${p.name} did not listen on port ${port} within ${timeoutMs} ms; ${p.logPath}:\n${logTail(p)}`);
}

/** SIGTERM, then SIGKILL after a grace period; resolves once the process is gone. */
export async function stop(p: Pinned, graceMs = 3000): Promise<void> {
  if (p.exit !== undefined) return;
  const exited = once(p.child, 'exit');
  p.child.kill('SIGTERM');
  const timer = setTimeout(() => p.child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

export interface Memory {
  /** VmRSS: everything resident, including the pages of the executable it maps. */
  readonly rssKiB: number;
  /** RssAnon: the process's own heap and stacks (the node binary's ~35-50 MB of text is not in it). */
  readonly anonKiB: number;
}

/** Resident memory of a process, in KiB (from /proc/PID/status). */
export function memory(pid: number): Memory {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string): number => {
    const m = new RegExp(`^${name}:\\s+(\\d+)\\s+kB`, 'm').exec(status);
    if (!m) throw new Error(`no ${name} in /proc/${pid}/status`);
    return Number(m[1]);
  };
  return { rssKiB: field('VmRSS'), anonKiB: field('RssAnon') };
}

const CLOCK_TICKS_PER_S = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** CPU time a process (all its threads) has used so far, user plus system, in seconds. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after "pid (comm) ": state is field 3, utime 14 and stime 15 (proc(5)).
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(rest[11]) + Number(rest[12])) / CLOCK_TICKS_PER_S;
}

/** The command line of a process (to find the temporary config file a peer script made); [] once it is gone. */
export function cmdline(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((a) => a !== '');
  } catch {
    return [];
  }
}

/** A port the kernel just handed out and released: free, barring a race with another binder. */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}
