// One round of measurements on one subject: three fresh processes (ECDSA towards the echo backend,
// RSA towards the echo backend, ECDSA towards the sink), each pinned to the tunnel core, with
// loadgen and the backends on the load core.
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
  readonly #core: number;
  readonly #logDir: string;
  readonly #running = new Map<string, { readonly pinned: Pinned; readonly port: number }>();

  constructor(bin: string, core: number, logDir: string) {
    this.#bin = bin;
    this.#core = core;
    this.#logDir = logDir;
  }

  async port(kind: 'plain' | 'tls', service: Service, certDir: string): Promise<number> {
    const key = `${kind}-${service}-${certDir}`;
    const known = this.#running.get(key);
    if (known && known.pinned.exit === undefined) return known.port;
    const port = await freePort();
    const tls = kind === 'tls' ? ['-tls', `${join(certDir, 'server.crt')},${join(certDir, 'server.key')}`, '-ca', join(certDir, 'ca.crt')] : [];
    const name = `backend-${kind}-${service}`;
    const pinned = startPinned(name, this.#core, this.#bin, [service, '-listen', `127.0.0.1:${port}`, ...tls], join(this.#logDir, `${name}.log`));
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
  if (r.errors > 0) problems.push(`${what}: ${r.errors} loadgen errors (${r.errorSample})`);
}

export class RoundRunner {
  readonly #loadgen: Loadgen;
  readonly #backends: Backends;
  readonly #certs: CertDirs;
  readonly #settings: Settings;
  readonly #logDir: string;
  readonly #core: number;

  constructor(loadgen: Loadgen, backends: Backends, certs: CertDirs, settings: Settings, logDir: string, tunnelCore: number) {
    this.#loadgen = loadgen;
    this.#backends = backends;
    this.#certs = certs;
    this.#settings = settings;
    this.#logDir = logDir;
    this.#core = tunnelCore;
  }

  async run(subject: Subject, round: number): Promise<RoundFigures> {
    const figures: RoundFigures = { cpu: {}, problems: [] };
    const s = this.#settings;
    const ec = this.#dial(subject, this.#certs.ec);
    const attempt = async (what: string, body: () => Promise<void>): Promise<void> => {
      try {
        await body();
      } catch (err) {
        figures.problems.push(`${what}: ${(err as Error).message}`);
      }
    };

    await attempt('ECDSA process', () =>
      this.#withSubject(subject, round, 'echo', this.#certs.ec, 'ec', async (p, port) => {
        await sleep(500);
        const base = memory(p.pid);
        await attempt('idle', async () => {
          await this.#loadgen.handshakes(port, ec, s.warmSeconds, 4);
          const beforeKiB = memory(p.pid).rssKiB;
          let heldKiB = 0;
          const r = await this.#loadgen.idle(port, ec, s.idleConns, s.idleHoldSeconds, async () => {
            await sleep(Math.min(1000, (s.idleHoldSeconds * 1000) / 3));
            for (let i = 0; i < 3; i++, await sleep(150)) heldKiB = Math.max(heldKiB, memory(p.pid).rssKiB);
          });
          loadgenErrors('idle', r, figures.problems);
          if (r.aliveAfterHold < r.opened) figures.problems.push(`idle: only ${r.aliveAfterHold} of ${r.opened} connections alive after the hold`);
          figures.idle = { baseRssKiB: base.rssKiB, baseAnonKiB: base.anonKiB, beforeKiB, heldKiB, opened: r.opened, alive: r.aliveAfterHold, kibPerConn: (heldKiB - beforeKiB) / Math.max(1, r.opened) };
        });
        await attempt('handshakes ECDSA', async () => {
          await this.#loadgen.handshakes(port, ec, s.warmSeconds);
          const { result, cpuS } = await timed(p, () => this.#loadgen.handshakes(port, ec, s.seconds));
          figures.hsEc = result;
          figures.cpu.hsEcUs = (cpuS * 1e6) / result.ok;
          loadgenErrors('handshakes ECDSA', figures.hsEc, figures.problems);
        });
        await attempt('request/response', async () => {
          await this.#loadgen.requestResponse(port, ec, s.warmSeconds);
          const { result, cpuS } = await timed(p, () => this.#loadgen.requestResponse(port, ec, s.seconds));
          figures.rr = result;
          figures.cpu.rrUs = (cpuS * 1e6) / result.ok;
          loadgenErrors('request/response', figures.rr, figures.problems);
        });
        if (subject.reloadSignal !== undefined) {
          const signal = subject.reloadSignal;
          await attempt('handshakes while reloading', async () => {
            let reloads = 0;
            const timer = setInterval(() => {
              p.child.kill(signal);
              reloads++;
            }, 1000);
            try {
              const r = await this.#loadgen.handshakes(port, ec, s.reloadSeconds);
              figures.reload = { ...r, reloads };
              loadgenErrors('handshakes while reloading', r, figures.problems);
            } finally {
              clearInterval(timer);
            }
            if (p.exit !== undefined) throw new Error(`${subject.label} exited (${p.exit}) during the reload loop`);
          });
        }
      }),
    );

    await attempt('RSA process', () =>
      this.#withSubject(subject, round, 'echo', this.#certs.rsa, 'rsa', async (p, port) => {
        const rsa = this.#dial(subject, this.#certs.rsa);
        await this.#loadgen.handshakes(port, rsa, s.warmSeconds);
        const { result, cpuS } = await timed(p, () => this.#loadgen.handshakes(port, rsa, s.seconds));
        figures.hsRsa = result;
        figures.cpu.hsRsaUs = (cpuS * 1e6) / result.ok;
        loadgenErrors('handshakes RSA', figures.hsRsa, figures.problems);
      }),
    );

    await attempt('bulk process', () =>
      this.#withSubject(subject, round, 'sink', this.#certs.ec, 'bulk', async (p, port) => {
        const { result, cpuS } = await timed(p, () => this.#loadgen.bulk(port, ec, s.bulkBytes));
        figures.bulk = result;
        figures.cpu.bulkSPerGiB = (cpuS * 2 ** 30) / result.bytes;
        loadgenErrors('bulk', figures.bulk, figures.problems);
      }),
    );
    return figures;
  }

  #dial(subject: Subject, certDir: string): Dial {
    return subject.dial === 'plain' ? { kind: 'plain' } : { kind: 'tls', certDir };
  }

  /** Starts the subject on a fresh port (with its backend), runs `body`, and always stops it. */
  async #withSubject(subject: Subject, round: number, service: Service, certDir: string, tag: string, body: (p: Pinned, port: number) => Promise<void>): Promise<void> {
    const port = await freePort();
    const targetPort = subject.backend === 'none' ? undefined : await this.#backends.port(subject.backend, service, certDir);
    const [command, ...args] = subject.command({ port, service, certDir, targetPort });
    const logPath = join(this.#logDir, `${subject.id}-r${round}-${tag}.log`);
    const p = startPinned(subject.id, this.#core, command!, args, logPath);
    try {
      await waitForPort(p, port);
      await body(p, port);
    } finally {
      // The peer scripts write their configuration to /tmp; remove exactly the one this process used.
      const tempConfig = p.exit === undefined ? cmdline(p.pid).find((a) => TEMP_CONFIG.test(a)) : undefined;
      await stop(p);
      if (tempConfig !== undefined) rmSync(tempConfig, { force: true });
    }
  }
}
