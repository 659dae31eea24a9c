// The benchmark's load generator (bench/loadgen, Go, standard library only), built once per test
// process into a temp directory, and runners for its JSON results.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir } from './pki.ts';
import { requireProgram } from './programs.ts';

const BUILD_SCRIPT = fileURLToPath(new URL('../../bench/loadgen/build.sh', import.meta.url));

let built: string | undefined;

/** Builds loadgen (needs `go`, Debian package golang-go); returns the binary's path. */
export function buildLoadgen(): string {
  if (built) return built;
  requireProgram('go');
  const out = join(tempDir('gt-loadgen-'), 'loadgen');
  execFileSync('bash', [BUILD_SCRIPT, out], { stdio: ['ignore', 'pipe', 'inherit'] });
  built = out;
  return out;
}

/** One loadgen run's JSON line (hs and rr: ok, errors, per_s and latency percentiles). */
export interface LoadResult {
  readonly mode: string;
  readonly ok: number;
  readonly errors: number;
  readonly per_s: number;
  readonly p50_ms: number;
  readonly p99_ms: number;
  readonly error_sample?: string;
  readonly [k: string]: unknown;
}

/** Client credentials for mTLS: PEM paths. */
export interface LoadClient {
  readonly cert: string;
  readonly key: string;
  readonly ca: string;
}

/** Runs `loadgen MODE ...args` to completion and returns its JSON line. */
export function runLoadgen(bin: string, mode: string, args: string[]): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const p = spawn(bin, [mode, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (c) => (out += c));
    p.stderr.on('data', (c) => (err += c));
    p.on('error', reject);
    p.on('close', (code) => {
      if (code !== 0) reject(new Error(`loadgen ${mode} exited ${code}: ${err}`));
      else resolve(JSON.parse(out.trim().split('\n').pop()!) as LoadResult);
    });
  });
}

function clientArgs(port: number, client: LoadClient, concurrency: number, durationMs: number): string[] {
  return ['-addr', `127.0.0.1:${port}`, '-c', String(concurrency), '-d', `${durationMs}ms`, '-cert', client.cert, '-key', client.key, '-ca', client.ca, '-sni', 'localhost'];
}

/** `loadgen hs`: a new mTLS connection and a 1-byte echo per operation, for `durationMs`. */
export function handshakeLoad(bin: string, port: number, opts: { client: LoadClient; concurrency: number; durationMs: number }): Promise<LoadResult> {
  return runLoadgen(bin, 'hs', clientArgs(port, opts.client, opts.concurrency, opts.durationMs));
}

/** `loadgen rr`: request/response of `size` bytes on connections kept for `durationMs`. */
export function requestResponseLoad(bin: string, port: number, opts: { client: LoadClient; concurrency: number; durationMs: number; size?: number }): Promise<LoadResult> {
  return runLoadgen(bin, 'rr', [...clientArgs(port, opts.client, opts.concurrency, opts.durationMs), '-size', String(opts.size ?? 64)]);
}

/** `loadgen echo` on 127.0.0.1, port chosen by the kernel; resolves with the process and its port. */
export function startEchoBackend(bin: string): Promise<{ proc: ChildProcess; port: number }> {
  return startBackend(bin, 'echo');
}

/** `loadgen echo|sink -listen 127.0.0.1:0 ...args` (e.g. -tls CERT,KEY -ca CA); resolves once it listens. */
export function startBackend(bin: string, service: 'echo' | 'sink', args: readonly string[] = []): Promise<{ proc: ChildProcess; port: number }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(bin, [service, '-listen', '127.0.0.1:0', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    proc.stderr!.setEncoding('utf8').on('data', (c: string) => {
      err += c;
      const m = /listening 127\.0\.0\.1:(\d+)/.exec(err);
      if (m) resolve({ proc, port: Number(m[1]) });
    });
    proc.on('exit', (code) => reject(new Error(`loadgen ${service} exited ${code}: ${err}`)));
  });
}
