// Runs the real daemon as a child process and reads its JSON log lines.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { requireProgram } from './programs.ts';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));
const BUILT = fileURLToPath(new URL('../../dist/main.cjs', import.meta.url));
const LAUNCHER = fileURLToPath(new URL('../../bin/ghostunnel', import.meta.url));

/** The newest modification time of the files below `dir`, in ms. */
function newest(dir: string): number {
  return Math.max(...readdirSync(dir, { withFileTypes: true }).map((e) => (e.isDirectory() ? newest(join(dir, e.name)) : statSync(join(dir, e.name)).mtimeMs)));
}

/**
 * bin/ghostunnel, which runs dist/ (the code that ships), when dist/ was built after the last
 * change to src/ (npm test builds it first); else src/main.ts under Node's type stripping, the
 * same code, whose start-up costs about three times the CPU (compiling every module), which the
 * suite pays per daemon.
 */
function entry(): string {
  try {
    if (statSync(BUILT).mtimeMs >= newest(SRC)) return LAUNCHER;
  } catch {
    // Not built.
  }
  return join(SRC, 'main.ts');
}

export const ENTRY = entry();

export interface LogLine {
  level: string;
  msg: string;
  [k: string]: unknown;
}

export interface Daemon {
  readonly proc: ChildProcess;
  readonly lines: LogLine[];
  stderr(): string;
  stdout(): string;
  /** Resolves with the first log line (seen so far or later) whose msg matches. */
  waitForLog(pattern: RegExp, timeoutMs?: number, from?: number): Promise<LogLine>;
  /** The "listening for connections" line's bound address, once it is up. */
  address(): Promise<{ host: string; port: number }>;
  signal(sig: NodeJS.Signals): void;
  /** Exit code (or signal name) once the process ends. */
  exited(timeoutMs?: number): Promise<number | string>;
  /** SIGTERM (or SIGKILL after a grace period) and wait. */
  stop(): Promise<number | string>;
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  /** Extra node flags, e.g. ["--max-old-space-size=64"]. */
  nodeArgs?: string[];
  /** A command that runs node for us, e.g. ["systemd-socket-activate", "-l", PATH]. */
  wrap?: string[];
  /** The script node runs instead of src/main.ts, e.g. an installed package's bin/ghostunnel. */
  entry?: string;
}

const running = new Set<ChildProcess>();
// A test that fails before stopping its daemon must not leave it running after the test file ends.
process.on('exit', () => {
  for (const p of running) p.kill('SIGKILL');
});

export function runGhostunnel(args: string[], opts: RunOptions = {}): Daemon {
  if (opts.wrap !== undefined) requireProgram(opts.wrap[0]!);
  const command = [...(opts.wrap ?? []), process.execPath, ...(opts.nodeArgs ?? []), opts.entry ?? ENTRY, ...args];
  const proc = spawn(command[0]!, command.slice(1), {
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(proc);
  proc.once('exit', () => running.delete(proc));
  const lines: LogLine[] = [];
  let out = '';
  let err = '';
  let partial = '';
  const waiters: Array<() => void> = [];
  proc.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk;
    partial += chunk;
    let nl: number;
    while ((nl = partial.indexOf('\n')) >= 0) {
      const line = partial.slice(0, nl);
      partial = partial.slice(nl + 1);
      try {
        lines.push(JSON.parse(line) as LogLine);
      } catch {
        lines.push({ level: 'raw', msg: line });
      }
    }
    for (const w of waiters.splice(0)) w();
  });
  proc.stderr!.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
  let exitValue: number | string | undefined;
  const exitPromise = once(proc, 'exit').then(([code, sig]) => {
    exitValue = code ?? sig;
    for (const w of waiters.splice(0)) w();
    return exitValue as number | string;
  });

  const waitForLog = (pattern: RegExp, timeoutMs = 10_000, from = 0): Promise<LogLine> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for log ${pattern}; got:\n${out}\nstderr:\n${err}`)), timeoutMs);
      const check = (): void => {
        const hit = lines.slice(from).find((l) => pattern.test(l.msg));
        if (hit) {
          clearTimeout(timer);
          resolve(hit);
        } else if (exitValue !== undefined) {
          clearTimeout(timer);
          reject(new Error(`ghostunnel exited (${exitValue}) before logging ${pattern}; stdout:\n${out}\nstderr:\n${err}`));
        } else waiters.push(check);
      };
      check();
    });

  const exited = (timeoutMs = 15_000): Promise<number | string> =>
    Promise.race([
      exitPromise,
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`ghostunnel did not exit within ${timeoutMs} ms; stdout:\n${out}`)), timeoutMs).unref()),
    ]);

  return {
    proc,
    lines,
    stderr: () => err,
    stdout: () => out,
    waitForLog,
    async address() {
      const line = await waitForLog(/^listening for connections on/, 30_000);
      const a = String(line.address);
      const i = a.lastIndexOf(':');
      return { host: a.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(a.slice(i + 1)) };
    },
    signal: (sig) => {
      proc.kill(sig);
    },
    exited,
    async stop() {
      if (exitValue !== undefined) return exitValue;
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 8000);
      const v = await exitPromise;
      clearTimeout(t);
      return v;
    },
  };
}

/** Runs ghostunnel to completion (for flag-validation tests). */
export async function runToExit(args: string[], opts: RunOptions = {}, timeoutMs = 15_000): Promise<{ code: number | string; stdout: string; stderr: string; lines: LogLine[] }> {
  const d = runGhostunnel(args, opts);
  const code = await d.exited(timeoutMs);
  return { code, stdout: d.stdout(), stderr: d.stderr(), lines: d.lines };
}
