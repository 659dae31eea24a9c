// The soak's moving parts outside its own process: the tunnel (started through a replaceable
// "binary" so that every hand-off upgrade runs a freshly written one), the flapping echo backend,
// and /proc samples of whichever tunnel process is current.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

const ENTRY = fileURLToPath(new URL('../src/main.ts', import.meta.url));

/** One JSON log line of any tunnel generation (they share stdout). */
export interface LogLine {
  readonly level: string;
  readonly pid: number;
  readonly msg: string;
  readonly [k: string]: unknown;
}

/**
 * The executable the tunnel runs as: a shell script that execs Node on src/main.ts. replace()
 * writes a new build of it (next to it, then renamed over, as a package manager would), so that
 * the next SIGUSR2 starts the replaced file.
 */
export class ReplaceableBinary {
  readonly path: string;
  #build = 0;

  constructor(dir: string) {
    this.path = join(dir, 'ghostunnel');
    this.replace();
  }

  get build(): number {
    return this.#build;
  }

  replace(): void {
    this.#build++;
    const next = `${this.path}.new`;
    writeFileSync(next, `#!/bin/sh\n# soak build ${this.#build}\nexec "${process.execPath}" "${ENTRY}" "$@"\n`);
    chmodSync(next, 0o755);
    renameSync(next, this.path);
  }
}

/** The tunnel and its successors: their log lines, and the pid currently serving. */
export class Tunnel {
  readonly proc: ChildProcess;
  readonly lines: LogLine[] = [];
  current: number;
  #partial = '';
  readonly #watchers = new Set<(line: LogLine) => void>();

  constructor(binary: ReplaceableBinary, args: string[]) {
    this.proc = spawn(binary.path, [...args, '--upgrade-exec', binary.path], { stdio: ['ignore', 'pipe', 'inherit'] });
    this.current = this.proc.pid!;
    this.proc.stdout!.setEncoding('utf8').on('data', (chunk: string) => this.#read(chunk));
  }

  #read(chunk: string): void {
    this.#partial += chunk;
    let nl: number;
    while ((nl = this.#partial.indexOf('\n')) >= 0) {
      const text = this.#partial.slice(0, nl);
      this.#partial = this.#partial.slice(nl + 1);
      let line: LogLine;
      try {
        line = JSON.parse(text) as LogLine;
      } catch {
        line = { level: 'raw', pid: 0, msg: text };
      }
      this.lines.push(line);
      if (/^upgrade: successor pid \d+ is accepting/.test(line.msg)) this.current = Number(line.successor);
      for (const w of this.#watchers) w(line);
    }
  }

  /** Resolves with the next line (from now on) whose message matches, or rejects after `timeoutMs`. */
  next(pattern: RegExp, timeoutMs: number): Promise<LogLine> {
    return new Promise((resolve, reject) => {
      const watcher = (line: LogLine): void => {
        if (!pattern.test(line.msg)) return;
        clearTimeout(timer);
        this.#watchers.delete(watcher);
        resolve(line);
      };
      const timer = setTimeout(() => {
        this.#watchers.delete(watcher);
        reject(new Error(`no log line ${pattern} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#watchers.add(watcher);
    });
  }

  count(pattern: RegExp): number {
    return this.lines.filter((l) => pattern.test(l.msg)).length;
  }

  /** SIGTERM to the current process; resolves once every generation's stdout is closed. */
  async stop(): Promise<void> {
    process.kill(this.current, 'SIGTERM');
    if (this.proc.stdout!.readableEnded) return;
    await once(this.proc.stdout!, 'end');
  }
}

/** An echo backend (the load generator's, in Go) on a fixed port, that can be stopped and started again. */
export class FlappingBackend {
  readonly port: number;
  readonly #loadgen: string;
  #proc: ChildProcess | undefined;

  private constructor(loadgen: string, port: number) {
    this.#loadgen = loadgen;
    this.port = port;
  }

  static async start(loadgen: string): Promise<FlappingBackend> {
    const probe = spawn(loadgen, ['echo', '-listen', '127.0.0.1:0'], { stdio: ['ignore', 'ignore', 'pipe'] });
    const [chunk] = (await once(probe.stderr!, 'data')) as [Buffer];
    const port = Number(/listening 127\.0\.0\.1:(\d+)/.exec(chunk.toString())?.[1]);
    probe.kill('SIGKILL');
    await once(probe, 'exit');
    const backend = new FlappingBackend(loadgen, port);
    await backend.up();
    return backend;
  }

  /** Starts the backend; resolves once it accepts a connection. */
  async up(): Promise<void> {
    this.#proc = spawn(this.#loadgen, ['echo', '-listen', `127.0.0.1:${this.port}`], { stdio: ['ignore', 'ignore', 'ignore'] });
    for (;;) {
      const ok = await new Promise<boolean>((resolve) => {
        const s = connect(this.port, '127.0.0.1');
        s.once('connect', () => {
          s.destroy();
          resolve(true);
        });
        s.once('error', () => resolve(false));
      });
      if (ok) return;
      await sleep(20);
    }
  }

  /** Kills the backend (its connections are reset) and waits until it is gone. */
  async down(): Promise<void> {
    const proc = this.#proc;
    this.#proc = undefined;
    if (proc === undefined || proc.exitCode !== null) return;
    proc.kill('SIGKILL');
    await once(proc, 'exit');
  }
}

/** RSS (kB) and open descriptors of a process, or undefined once it is gone. */
export function sample(pid: number): { rssKb: number; fds: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    if (/^State:\s+Z/m.test(status)) return undefined;
    const rssKb = Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1]);
    return { rssKb, fds: readdirSync(`/proc/${pid}/fd`).length };
  } catch {
    return undefined;
  }
}

/** Processes (by pid) still alive among `pids`: predecessors that have not finished draining. */
export function alive(pids: Iterable<number>): number[] {
  return [...pids].filter((pid) => sample(pid) !== undefined);
}
