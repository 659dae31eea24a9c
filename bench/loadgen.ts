// The load generator (bench/loadgen, Go): building it, and running its client modes on the load
// core, with their JSON results typed.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** bench/loadgen: the Go sources, go.mod and build.sh. */
export const LOADGEN_DIR = join(import.meta.dirname, 'loadgen');

export interface LatencyResult {
  readonly perS: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly ok: number;
  readonly errors: number;
  readonly errorSample: string;
}

export interface BulkResult {
  readonly MBps: number;
  readonly bytes: number;
  readonly errors: number;
  readonly errorSample: string;
}

export interface IdleResult {
  readonly opened: number;
  readonly aliveAfterHold: number;
  readonly errors: number;
  readonly errorSample: string;
}

/** Builds loadgen into `out` unless a build newer than all its sources is already there. */
export function buildLoadgen(out: string): string {
  const sources = readdirSync(LOADGEN_DIR).filter((f) => f.endsWith('.go') || f === 'go.mod');
  const newest = Math.max(...sources.map((f) => statSync(join(LOADGEN_DIR, f)).mtimeMs));
  if (existsSync(out) && statSync(out).mtimeMs > newest) return out;
  const script = join(LOADGEN_DIR, 'build.sh');
  try {
    execFileSync(script, [out], { stdio: ['ignore', 'ignore', 'inherit'] });
  } catch (err) {
    throw new Error(`building loadgen with ${script} failed (needs Go >= 1.19: apt-get install -y golang-go): ${(err as Error).message}`);
  }
  return out;
}

/** How loadgen reaches the thing under test: TLS with a client certificate, or plain (client mode). */
export type Dial = { readonly kind: 'tls'; readonly certDir: string } | { readonly kind: 'plain' };

function dialArgs(port: number, dial: Dial): string[] {
  const addr = ['-addr', `127.0.0.1:${port}`];
  if (dial.kind === 'plain') return [...addr, '-plain'];
  const d = dial.certDir;
  return [...addr, '-cert', join(d, 'client.crt'), '-key', join(d, 'client.key'), '-ca', join(d, 'ca.crt')];
}

export class Loadgen {
  readonly #bin: string;
  readonly #cpus: string;

  constructor(bin: string, cpus: string) {
    this.#bin = bin;
    this.#cpus = cpus;
  }

  /**
   * Runs one client mode; `onStderr` sees its stderr lines (idle prints "READY n" there). A subject
   * that stops answering (bulk has no deadline of its own) fails the load after `timeoutS`.
   */
  #run(args: readonly string[], timeoutS: number, onStderr?: (line: string) => void): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const child = spawn('taskset', ['-c', this.#cpus, this.#bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        child.kill('SIGKILL');
      }, timeoutS * 1000);
      let out = '';
      let err = '';
      child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
      child.stderr.setEncoding('utf8').on('data', (c: string) => {
        err += c;
        if (onStderr) for (const line of c.split('\n')) if (line !== '') onStderr(line);
      });
      child.once('error', reject);
      child.once('close', (code) => {
        clearTimeout(timer);
        if (timedOut) return reject(new Error(`loadgen ${args[0]} gave no result within ${timeoutS} s: the subject stopped answering`));
        if (code !== 0) return reject(new Error(`loadgen ${args.join(' ')} exited ${code}: ${err.trim()}`));
        try {
          resolve(JSON.parse(out) as Record<string, unknown>);
        } catch {
          reject(new Error(`loadgen ${args[0]} printed no JSON result: ${out.trim()} ${err.trim()}`));
        }
      });
    });
  }

  async handshakes(port: number, dial: Dial, seconds: number, concurrency = 16): Promise<LatencyResult> {
    return latency(await this.#run(['hs', ...dialArgs(port, dial), '-c', String(concurrency), '-d', `${seconds}s`], seconds + 30));
  }

  async requestResponse(port: number, dial: Dial, seconds: number, size = 64, concurrency = 16): Promise<LatencyResult> {
    return latency(await this.#run(['rr', ...dialArgs(port, dial), '-c', String(concurrency), '-size', String(size), '-d', `${seconds}s`], seconds + 30));
  }

  async bulk(port: number, dial: Dial, bytes: string): Promise<BulkResult> {
    const r = await this.#run(['bulk', ...dialArgs(port, dial), '-c', '1', '-bytes', bytes], 300);
    return { MBps: num(r.MBps), bytes: num(r.bytes), errors: num(r.errors), errorSample: String(r.error_sample ?? '') };
  }

  /** Opens `count` connections and holds them; `whileHeld` runs once all are open (loadgen's READY). */
  async idle(port: number, dial: Dial, count: number, holdSeconds: number, whileHeld: () => Promise<void>): Promise<IdleResult> {
    let held: Promise<void> | undefined;
    const r = await this.#run(['idle', ...dialArgs(port, dial), '-c', String(count), '-hold', `${holdSeconds}s`], 300 + holdSeconds, (line) => {
      if (line.startsWith('READY')) held = whileHeld();
    });
    if (held === undefined) throw new Error('loadgen idle never reported READY');
    await held;
    return { opened: num(r.opened), aliveAfterHold: num(r.alive_after_hold), errors: num(r.errors), errorSample: String(r.error_sample ?? '') };
  }
}

function num(v: unknown): number {
  return typeof v === 'number' ? v : Number.NaN;
}

function latency(r: Record<string, unknown>): LatencyResult {
  return { perS: num(r.per_s), p50Ms: num(r.p50_ms), p99Ms: num(r.p99_ms), ok: num(r.ok), errors: num(r.errors), errorSample: String(r.error_sample ?? '') };
}
