// The status port from the outside: curl (the real one) and the daemon's "status server listening" line.
import { execFile } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Daemon } from './daemon.ts';
import { requireProgram } from './programs.ts';

export interface CurlResult {
  /** curl's exit code (0 unless the transfer failed). */
  readonly exit: number;
  /** HTTP status, 0 when there was no response. */
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
  readonly stderr: string;
}

const MARK = '\n--curl-meta--';

/** Runs curl with `args` (URL included) and returns the status, content type and body. */
export function curl(args: string[]): Promise<CurlResult> {
  requireProgram('curl');
  return new Promise((resolve) => {
    execFile('curl', ['-sS', '--max-time', '30', '-w', `${MARK}%{http_code} %{content_type}`, ...args], { maxBuffer: 256 * 1024 * 1024 }, (err, stdout, stderr) => {
      const exit = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      const at = stdout.lastIndexOf(MARK);
      const meta = at < 0 ? '000 ' : stdout.slice(at + MARK.length);
      const space = meta.indexOf(' ');
      resolve({ exit, status: Number(meta.slice(0, space)), contentType: meta.slice(space + 1), body: at < 0 ? stdout : stdout.slice(0, at), stderr });
    });
  });
}

/**
 * The bound address of the status port (host:port or socket path), once the daemon serves: the
 * status port comes up first, and /_status says "initializing" (not ok) until the tunnel listens.
 */
export async function statusAddress(gt: Daemon): Promise<string> {
  const line = await gt.waitForLog(/^status server listening on /);
  await gt.waitForLog(/^listening for connections on /);
  return String(line.address);
}

/** Retries `check` until it returns without throwing (the daemon counts asynchronously); rethrows the last failure. */
export async function eventually<T>(check: () => Promise<T> | T, attempts = 200, pauseMs = 50): Promise<T> {
  let last: unknown;
  for (let i = 0; i < attempts; i++) {
    try {
      return await check();
    } catch (err) {
      last = err;
      await sleep(pauseMs);
    }
  }
  throw last;
}

/** One metric family as parse-prometheus-text-format returns it. */
export interface PromFamily {
  readonly name: string;
  readonly type: string;
  readonly metrics: ReadonlyArray<{ value?: string; labels?: Record<string, string>; buckets?: Record<string, string>; count?: string; sum?: string }>;
}

/** The value of `name` (the sample whose labels include `labels`), as a number; throws when absent. */
export function promValue(families: readonly PromFamily[], name: string, labels: Record<string, string> = {}): number {
  const family = families.find((f) => f.name === name);
  if (family === undefined) throw new Error(`no metric family ${name}`);
  const sample = family.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  if (sample?.value === undefined) throw new Error(`no sample of ${name} with labels ${JSON.stringify(labels)}`);
  return Number(sample.value);
}

/** The start-up lines of one process (`pid`, or any) that say what listens, in the order logged. */
export function listeningOrder(lines: readonly { msg: string; pid?: unknown }[], pid?: number): string[] {
  return lines
    .filter((l) => pid === undefined || l.pid === pid)
    .map((l) => /^(listening for connections|status server listening)/.exec(l.msg)?.[1])
    .filter((what): what is string => what !== undefined);
}
