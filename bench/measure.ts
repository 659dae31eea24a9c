// One round of measurements over all subjects (three phases of fresh processes pinned to the
// tunnel core, loads taking turns between them), and the long-lived backends on the load core.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { BulkResult, Dial, LatencyResult, Loadgen } from './loadgen.ts';
import { cmdline, cpuSeconds, freePort, memory, startPinned, stop, waitForPort, type Pinned } from './processes.ts';
import type { Service, Subject } from './subjects.ts';

export interface Settings {
  readonly seconds: number;
  readonly reloadSeconds: number;
  readonly warmSeconds: number;
  readonly bulkBytes: string;
  readonly idleConns: number;
  readonly idleHoldSeconds: number;
}

export interface IdleFigures {
  /** RSS right after start, before any connection. */
  readonly baseRssKiB: number;
  /** Its anonymous part (RssAnon), without the mapped executable. */
  readonly baseAnonKiB: number;
  /** RSS after a warm-up of handshakes, just before the idle connections open. */
  readonly beforeKiB: number;
  /** RSS while the idle connections are held. */
  readonly heldKiB: number;
  readonly opened: number;
  readonly alive: number;
  readonly kibPerConn: number;
}

export interface ReloadFigures extends LatencyResult {
  readonly reloads: number;
}

/** CPU time the subject process spent per unit of work during a load (all threads, user + system). */
export interface CpuCost {
  hsEcUs?: number;
  hsRsaUs?: number;
  rrUs?: number;
  bulkSPerGiB?: number;
}

export interface RoundFigures {
  readonly cpu: CpuCost;
  hsEc?: LatencyResult;
  hsRsa?: LatencyResult;
  rr?: LatencyResult;
  bulk?: BulkResult;
  idle?: IdleFigures;
  reload?: ReloadFigures;
  /** Failures and loadgen errors, one line each. */
  readonly problems: string[];
}

export interface CertDirs {
  readonly ec: string;
  readonly rsa: string;
}

const TEMP_CONFIG = /^\/tmp\/(stunnel|haproxy)-[^/]+\.(conf|cfg)$/;

/** Long-lived loadgen backends on the load core, one per (plain|tls, echo|sink, certificates). */
export class Backends {
  readonly #bin: string;
  readonly #cpus: string;
  readonly #logDir: string;
  readonly #running = new Map<string, { readonly pinned: Pinned; readonly port: number }>();

  constructor(bin: string, cpus: string, logDir: string) {
    this.#bin = bin;
    this.#cpus = cpus;
    this.#logDir = logDir;
  }

  async port(kind: 'plain' | 'tls', service: Service, certDir: string): Promise<number> {
    const key = `${kind}-${service}-${certDir}`;
    const known = this.#running.get(key);
    if (known && known.pinned.exit === undefined) return known.port;
    const port = await freePort();
    const tls = kind === 'tls' ? ['-tls', `${join(certDir, 'server.crt')},${join(certDir, 'server.key')}`, '-ca', join(certDir, 'ca.crt')] : [];
    const name = `backend-${kind}-${service}`;
    const pinned = startPinned(name, this.#cpus, this.#bin, [service, '-listen', `127.0.0.1:${port}`, ...tls], join(this.#logDir, `${name}.log`));
    await waitForPort(pinned, port);
    this.#running.set(key, { pinned, port });
    return port;
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.#running.values()].map((b) => stop(b.pinned)));
    this.#running.clear();
  }
}

/** Runs a load and measures the CPU time the subject spent meanwhile. */
async function timed<T>(p: Pinned, load: () => Promise<T>): Promise<{ result: T; cpuS: number }> {
  const before = cpuSeconds(p.pid);
  const result = await load();
  return { result, cpuS: cpuSeconds(p.pid) - before };
}

function loadgenErrors(what: string, r: { errors: number; errorSample: string }, problems: string[]): void {
  // The sample's tail names the failure ("connection reset by peer"); the full text is in the results file.
  if (r.errors > 0) problems.push(`${what}: ${r.errors} loadgen errors (${r.errorSample.split(': ').pop()})`);
}

/** A subject's process in one phase of a round. */
interface Started {
  readonly subject: Subject;
  readonly p: Pinned;
  readonly port: number;
  readonly figures: RoundFigures;
}

/**
 * One round over all subjects. A round has three phases, each with one fresh process per subject
 * (all started together, idle unless loaded): ECDSA towards the echo backend, RSA towards the echo
 * backend, ECDSA towards the sink. Within a phase every load goes through the subjects in turn
 * (A B C, then the next load), so that the figures compared in a ratio are taken seconds apart:
 * the machines are shared, and load from elsewhere comes and goes.
 */
export class RoundRunner {
  readonly #loadgen: Loadgen;
  readonly #backends: Backends;
  readonly #certs: CertDirs;
  readonly #settings: Settings;
  readonly #logDir: string;
  readonly #cpus: string;

  constructor(loadgen: Loadgen, backends: Backends, certs: CertDirs, settings: Settings, logDir: string, tunnelCpus: string) {
    this.#loadgen = loadgen;
    this.#backends = backends;
    this.#certs = certs;
    this.#settings = settings;
    this.#logDir = logDir;
    this.#cpus = tunnelCpus;
  }

  async run(subjects: readonly Subject[], round: number): Promise<Map<string, RoundFigures>> {
    const all = new Map<string, RoundFigures>(subjects.map((x) => [x.id, { cpu: {}, problems: [] }]));
    const s = this.#settings;
    const { ec, rsa } = this.#certs;

    await this.#phase(subjects, all, round, 'echo', ec, 'ec', async (started) => {
      await sleep(500);
      const base = new Map(started.map((x) => [x.subject.id, memory(x.p.pid)]));
      await each(started, 'idle', async ({ p, port, subject, figures }) => {
        const dial = this.#dial(subject, ec);
        await this.#loadgen.handshakes(port, dial, s.warmSeconds, 4);
        const beforeKiB = memory(p.pid).rssKiB;
        let heldKiB = 0;
        const r = await this.#loadgen.idle(port, dial, s.idleConns, s.idleHoldSeconds, async () => {
          await sleep(Math.min(1000, (s.idleHoldSeconds * 1000) / 3));
          for (let i = 0; i < 3; i++, await sleep(150)) heldKiB = Math.max(heldKiB, memory(p.pid).rssKiB);
        });
        loadgenErrors('idle', r, figures.problems);
        if (r.aliveAfterHold < r.opened) figures.problems.push(`idle: only ${r.aliveAfterHold} of ${r.opened} connections alive after the hold`);
        const b = base.get(subject.id)!;
        figures.idle = { baseRssKiB: b.rssKiB, baseAnonKiB: b.anonKiB, beforeKiB, heldKiB, opened: r.opened, alive: r.aliveAfterHold, kibPerConn: (heldKiB - beforeKiB) / Math.max(1, r.opened) };
      });
      await each(started, 'handshakes ECDSA', async ({ p, port, subject, figures }) => {
        const dial = this.#dial(subject, ec);
        await this.#loadgen.handshakes(port, dial, s.warmSeconds);
        const { result, cpuS } = await timed(p, () => this.#loadgen.handshakes(port, dial, s.seconds));
        figures.hsEc = result;
        figures.cpu.hsEcUs = (cpuS * 1e6) / result.ok;
        loadgenErrors('handshakes ECDSA', result, figures.problems);
      });
      await each(started, 'request/response', async ({ p, port, subject, figures }) => {
        const dial = this.#dial(subject, ec);
        await this.#loadgen.requestResponse(port, dial, s.warmSeconds);
        const { result, cpuS } = await timed(p, () => this.#loadgen.requestResponse(port, dial, s.seconds));
        figures.rr = result;
        figures.cpu.rrUs = (cpuS * 1e6) / result.ok;
        loadgenErrors('request/response', result, figures.problems);
      });
      const reloadable = started.filter((x) => x.subject.reloadSignal !== undefined);
      await each(reloadable, 'handshakes while reloading', async ({ p, port, subject, figures }) => {
        const signal = subject.reloadSignal!;
        let reloads = 0;
        const timer = setInterval(() => {
          p.child.kill(signal);
          reloads++;
        }, 1000);
        try {
          const r = await this.#loadgen.handshakes(port, this.#dial(subject, ec), s.reloadSeconds);
          figures.reload = { ...r, reloads };
          loadgenErrors('handshakes while reloading', r, figures.problems);
        } finally {
          clearInterval(timer);
        }
        if (p.exit !== undefined) throw new Error(`${subject.label} exited (${p.exit}) during the reload loop`);
      });
    });

    await this.#phase(subjects, all, round, 'echo', rsa, 'rsa', (started) =>
      each(started, 'handshakes RSA', async ({ p, port, subject, figures }) => {
        const dial = this.#dial(subject, rsa);
        await this.#loadgen.handshakes(port, dial, s.warmSeconds);
        const { result, cpuS } = await timed(p, () => this.#loadgen.handshakes(port, dial, s.seconds));
        figures.hsRsa = result;
        figures.cpu.hsRsaUs = (cpuS * 1e6) / result.ok;
        loadgenErrors('handshakes RSA', result, figures.problems);
      }),
    );

    await this.#phase(subjects, all, round, 'sink', ec, 'bulk', (started) =>
      each(started, 'bulk', async ({ p, port, subject, figures }) => {
        const { result, cpuS } = await timed(p, () => this.#loadgen.bulk(port, this.#dial(subject, ec), s.bulkBytes));
        figures.bulk = result;
        figures.cpu.bulkSPerGiB = (cpuS * 2 ** 30) / result.bytes;
        loadgenErrors('bulk', result, figures.problems);
      }),
    );
    return all;
  }

  #dial(subject: Subject, certDir: string): Dial {
    return subject.dial === 'plain' ? { kind: 'plain' } : { kind: 'tls', certDir };
  }

  /**
   * Starts every subject on a fresh port (with its backend), runs `body` on those that came up,
   * and always stops them all. A subject that fails to start is a problem of its own, not the
   * round's.
   */
  async #phase(subjects: readonly Subject[], all: Map<string, RoundFigures>, round: number, service: Service, certDir: string, tag: string, body: (started: Started[]) => Promise<void>): Promise<void> {
    const launched: Array<{ readonly subject: Subject; readonly p: Pinned; readonly port: number }> = [];
    try {
      for (const subject of subjects) {
        const port = await freePort();
        const targetPort = subject.backend === 'none' ? undefined : await this.#backends.port(subject.backend, service, certDir);
        const [command, ...args] = subject.command({ port, service, certDir, targetPort });
        const logPath = join(this.#logDir, `${subject.id}-r${round}-${tag}.log`);
        launched.push({ subject, port, p: startPinned(subject.id, this.#cpus, command!, args, logPath, subject.env) });
      }
      const started: Started[] = [];
      for (const l of launched) {
        const figures = all.get(l.subject.id)!;
        try {
          await waitForPort(l.p, l.port);
          started.push({ ...l, figures });
        } catch (err) {
          figures.problems.push(`${tag} process: ${(err as Error).message}`);
        }
      }
      await body(started);
    } finally {
      await Promise.all(launched.map((l) => stopAndClean(l.p)));
    }
  }
}

/** Runs one load on each started subject in turn; a failure is recorded against that subject. */
async function each(started: readonly Started[], what: string, load: (x: Started) => Promise<void>): Promise<void> {
  for (const x of started) {
    if (x.p.exit !== undefined) {
      x.figures.problems.push(`${what}: not run, the process had exited (${x.p.exit})`);
      continue;
    }
    try {
      await load(x);
    } catch (err) {
      x.figures.problems.push(`${what}: ${(err as Error).message}`);
    }
  }
}

/** Stops a subject; the peer scripts write their configuration to /tmp: removes the one it used. */
async function stopAndClean(p: Pinned): Promise<void> {
  const tempConfig = p.exit === undefined ? cmdline(p.pid).find((a) => TEMP_CONFIG.test(a)) : undefined;
  await stop(p);
  if (tempConfig !== undefined) rmSync(tempConfig, { force: true });
}
