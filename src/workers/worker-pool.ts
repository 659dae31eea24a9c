import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { StartupError } from '../cli/errors.ts';
import type { ParsedArgs } from '../cli/parse.ts';
import type { DataPlaneKind } from '../config/types.ts';
import type { Log } from '../log/logger.ts';
import type { Listener } from '../net/listener.ts';
import { system } from '../sys/platform.ts';
import type { TunnelEvents } from '../tunnel/events.ts';
import type { ConnectionTracker } from '../tunnel/tracker.ts';
import { replayEvents } from './event-batch.ts';
import type { Reauthorized } from '../runtime/reauthorize.ts';
import type { LoopUnits } from '../runtime/units-of-work.ts';
import type { ContextMaterial, FromWorker, Request, ToWorker, WorkerInit } from './protocol.ts';

type Ack = Extract<FromWorker, { kind: 'ack' }>;

// Under type stripping the worker is this module's sibling .ts; in dist/ the bundle's sibling .cjs.
const WORKER_URL = new URL(`./tunnel-worker${extname(fileURLToPath(import.meta.url))}`, import.meta.url);

export interface WorkerPoolOptions {
  /** Worker threads to start (--workers minus the main thread). */
  readonly count: number;
  readonly args: ParsedArgs;
  /** The data plane the main thread chose: every loop runs the same one. */
  readonly plane: DataPlaneKind;
  readonly material: ContextMaterial;
  /** The main thread's tunnel listener: each worker accepts on a duplicate of its socket. */
  readonly listener: Listener;
  readonly log: Log;
  /** The main thread's metrics and connection count, which the workers' events add to. */
  readonly events: TunnelEvents;
  readonly tracker: ConnectionTracker;
  /** The current OPA policy's decision on a peer certificate (DER), for the workers' connections. */
  readonly authorize: (der: Uint8Array) => Promise<boolean>;
}

interface Pending {
  readonly resolve: (ack: Ack) => void;
  readonly reject: (err: Error) => void;
}

/** One worker thread as the pool sees it. */
class TunnelWorker {
  readonly index: number;
  readonly #worker: Worker;
  readonly #pending = new Map<number, Pending>();
  readonly ready: Promise<void>;
  /** It came up once: only such a worker is replaced when it dies (one that cannot start would fail forever). */
  started = false;
  /** Its connections the main thread counts as open. */
  open = 0;
  readonly closed: Promise<void>;
  readonly drained: Promise<void>;
  #markClosed!: () => void;
  #markDrained!: () => void;

  constructor(index: number, init: WorkerInit, options: WorkerPoolOptions, onExit: (worker: TunnelWorker, code: number) => void) {
    this.index = index;
    this.#worker = new Worker(WORKER_URL, { workerData: init });
    this.closed = new Promise((resolve) => (this.#markClosed = resolve));
    this.drained = new Promise((resolve) => (this.#markDrained = resolve));
    this.ready = new Promise((resolve, reject) => {
      this.#worker.on('message', (message: FromWorker) => {
        switch (message.kind) {
          case 'ready':
            this.started = true;
            return resolve();
          case 'events':
            this.open += replayEvents(message.batch, options.events, options.tracker);
            return;
          case 'authorize':
            return void options.authorize(message.der).then(
              (allowed) => this.post({ kind: 'verdict', id: message.id, allowed }),
              (err: Error) => this.post({ kind: 'verdict', id: message.id, allowed: false, error: err.message }),
            );
          case 'ack': {
            const pending = this.#pending.get(message.id);
            this.#pending.delete(message.id);
            if (message.error === undefined) pending?.resolve(message);
            else pending?.reject(new Error(`worker ${index}: ${message.error}`));
            return;
          }
          case 'closed':
            return this.#markClosed();
          case 'drained':
            return this.#markDrained();
        }
      });
      this.#worker.once('error', (err) => {
        options.log.error(`worker ${index} failed: ${err.stack ?? err.message}`, { worker: index });
        reject(err);
      });
      this.#worker.once('exit', (code) => {
        reject(new Error(`worker ${index} exited with code ${code} before it was ready`));
        for (const pending of this.#pending.values()) pending.reject(new Error(`worker ${index} exited with code ${code}`));
        this.#pending.clear();
        this.#markClosed();
        this.#markDrained();
        onExit(this, code);
      });
    });
  }

  post(message: ToWorker): void {
    this.#worker.postMessage(message);
  }

  /** Sends a request; resolves with the worker's answer once it applied it. */
  request(message: Request): Promise<Ack> {
    return new Promise((resolve, reject) => {
      this.#pending.set(message.id, { resolve, reject });
      this.post(message);
    });
  }
}

/**
 * --workers N: N − 1 worker threads beside the main thread, each accepting on the same listening
 * socket (the kernel hands each connection to one of them). The main thread stays the daemon:
 * it reads and validates credentials and configuration, then hands the result to every worker
 * and waits until all have it, so a reload reported as done is in force on every loop.
 */
export class WorkerPool {
  readonly #options: WorkerPoolOptions;
  readonly #workers = new Set<TunnelWorker>();
  #nextId = 0;
  #material: ContextMaterial;
  #args: ParsedArgs;
  #paused = false;
  #draining: { handedOver: boolean } | undefined;

  private constructor(options: WorkerPoolOptions) {
    this.#options = options;
    this.#material = options.material;
    this.#args = options.args;
  }

  /** Starts the workers; resolves once every one accepts. */
  static async start(options: WorkerPoolOptions): Promise<WorkerPool> {
    const pool = new WorkerPool(options);
    try {
      await Promise.all(Array.from({ length: options.count }, (_, i) => pool.#spawn(i + 1).ready));
    } catch (err) {
      void pool.close();
      throw new StartupError(`starting --workers: ${(err as Error).message}`);
    }
    options.log.info(`serving on ${options.count + 1} event loops (--workers)`, { workers: options.count + 1 });
    return pool;
  }

  #spawn(index: number): TunnelWorker {
    const { listener } = this.#options;
    // --workers above 1 is refused at start where the platform has no descriptors to share.
    const calls = system.descriptors;
    if (calls === undefined || listener.fd === undefined) throw new Error(`internal: --workers on ${system.name}, which has no descriptors to share`);
    const init: WorkerInit = { index, args: this.#args, plane: this.#options.plane, material: this.#material, socket: { fd: calls.dup(listener.fd), address: listener.address, name: listener.name } };
    const worker = new TunnelWorker(index, init, this.#options, (w, code) => this.#onExit(w, code));
    this.#workers.add(worker);
    if (this.#paused) worker.post({ kind: 'pause' });
    return worker;
  }

  /** A worker that dies outside a drain is replaced: its connections are lost, the loop count is not. */
  #onExit(worker: TunnelWorker, code: number): void {
    this.#workers.delete(worker);
    // Its connections died with it: they no longer hold up a drain or count against the limit.
    for (; worker.open > 0; worker.open--) this.#options.tracker.remove();
    if (this.#draining !== undefined || !worker.started) return;
    this.#options.log.error(`worker ${worker.index} exited with code ${code}; starting a new one`, { worker: worker.index });
    void this.#spawn(worker.index).ready.catch(() => {});
  }

  #requestAll(make: (id: number) => Request): Promise<Ack[]> {
    return Promise.all([...this.#workers].map((w) => w.request(make(this.#nextId++))));
  }

  /** New credentials, already validated on the main thread. */
  async installCredentials(material: ContextMaterial): Promise<void> {
    this.#material = material;
    await this.#requestAll((id) => ({ kind: 'credentials', id, material }));
  }

  /** A --config reload's new flag values. */
  async reconfigure(args: ParsedArgs): Promise<void> {
    this.#args = args;
    await this.#requestAll((id) => ({ kind: 'generation', id, args }));
  }

  /** --reauthorize-open-connections on every worker; their counts added up. */
  async reauthorize(): Promise<Reauthorized> {
    const acks = await this.#requestAll((id) => ({ kind: 'reauthorize', id }));
    return acks.reduce((sum, { reauthorized: r }) => ({ checked: sum.checked + (r?.checked ?? 0), closed: sum.closed + (r?.closed ?? 0) }), { checked: 0, closed: 0 });
  }

  /** Each worker's units of work (/debug/pprof/goroutine), in the order of their loop numbers. */
  async unitsOfWork(): Promise<LoopUnits[]> {
    const workers = [...this.#workers].sort((a, b) => a.index - b.index);
    const acks = await Promise.all(workers.map((w) => w.request({ kind: 'units', id: this.#nextId++ })));
    return acks.map((ack) => ack.units ?? { connections: { open: 0, connecting: 0, piping: 0 }, resources: {} });
  }

  /** --max-concurrent-conns reached (or left) across all loops. */
  pause(): void {
    this.#paused = true;
    for (const w of this.#workers) w.post({ kind: 'pause' });
  }

  resume(): void {
    this.#paused = false;
    for (const w of this.#workers) w.post({ kind: 'resume' });
  }

  /** Stops accepting on every worker, resolving once all have; `drained()` resolves once their last connection closed. */
  close({ handedOver = false } = {}): Promise<void> {
    if (this.#draining === undefined) {
      this.#draining = { handedOver };
      for (const w of this.#workers) w.post({ kind: 'drain', handedOver });
    }
    return Promise.all([...this.#workers].map((w) => w.closed)).then(() => {});
  }

  drained(): Promise<void> {
    return Promise.all([...this.#workers].map((w) => w.drained)).then(() => {});
  }
}
