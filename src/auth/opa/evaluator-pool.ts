import { availableParallelism } from 'node:os';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { PolicyImage } from './compiled-policy.ts';
import type { FromWorker, ToWorker } from './policy-worker.ts';

// Under type stripping this module is policy-worker's sibling .ts; in dist/ the bundle's sibling .cjs.
const WORKER_URL = new URL(`./policy-worker${extname(fileURLToPath(import.meta.url))}`, import.meta.url);

/** JS heap cap per evaluator thread; the policy's wasm memory has its own cap (WASM_MEMORY_MAX_PAGES). */
const RESOURCE_LIMITS = { maxOldGenerationSizeMb: 64, maxYoungGenerationSizeMb: 16 };

interface Job {
  readonly id: number;
  readonly der: Uint8Array;
  readonly resolve: (allowed: boolean) => void;
  readonly reject: (err: Error) => void;
  readonly timer: NodeJS.Timeout;
  evaluator?: Evaluator;
}

interface Evaluator {
  readonly worker: Worker;
  job: Job | undefined;
}

export interface EvaluatorPoolOptions {
  /** Hard deadline per evaluation (--connect-timeout): past it the peer is denied and its thread replaced. */
  readonly timeoutMs: number;
  /** Evaluator threads; default 2 to 4 depending on the cores. */
  readonly size?: number;
  /** A line the policy printed (Rego print()). */
  readonly onPrint: (line: string) => void;
  /** An evaluation overran its deadline; its thread has been terminated. */
  readonly onOverrun: () => void;
}

/**
 * Evaluates a policy on worker threads, one request per thread at a time. A request that overruns
 * its deadline is denied and its thread terminated and replaced, so a slow or runaway policy costs
 * that one connection only; requests queued behind busy threads keep their own deadlines.
 */
export class EvaluatorPool {
  #image: PolicyImage;
  readonly #evaluators = new Set<Evaluator>();
  readonly #queue: Job[] = [];
  readonly #timeoutMs: number;
  readonly #size: number;
  readonly #onPrint: (line: string) => void;
  readonly #onOverrun: () => void;
  #nextId = 1;
  #closed = false;

  constructor(image: PolicyImage, options: EvaluatorPoolOptions) {
    this.#image = image;
    this.#timeoutMs = options.timeoutMs;
    this.#size = options.size ?? Math.max(2, Math.min(4, availableParallelism()));
    this.#onPrint = options.onPrint;
    this.#onOverrun = options.onOverrun;
    for (let i = 0; i < this.#size; i++) this.#spawn();
  }

  /** Resolves with the decision; rejects when the policy errs, overruns its deadline or its thread dies. */
  evaluate(der: Uint8Array): Promise<boolean> {
    return new Promise((resolve, reject) => {
      const job: Job = { id: this.#nextId++, der, resolve, reject, timer: setTimeout(() => this.#timedOut(job), this.#timeoutMs) };
      this.#queue.push(job);
      this.#dispatch();
    });
  }

  /** Makes `image` the policy for every request from now on; requests already sent finish on the old one. */
  publish(image: PolicyImage): void {
    this.#image = image;
    for (const { worker } of this.#evaluators) post(worker, { kind: 'load', image });
  }

  async close(): Promise<void> {
    this.#closed = true;
    const workers = [...this.#evaluators].map((e) => e.worker);
    this.#evaluators.clear();
    for (const job of this.#queue.splice(0)) this.#fail(job, new Error('policy evaluator shut down'));
    // Referenced again, so that the exit each terminate() waits for is still delivered.
    await Promise.all(
      workers.map((w) => {
        w.ref();
        return w.terminate();
      }),
    );
  }

  #spawn(): Evaluator {
    const worker = new Worker(WORKER_URL, { resourceLimits: RESOURCE_LIMITS });
    const evaluator: Evaluator = { worker, job: undefined };
    this.#evaluators.add(evaluator);
    post(worker, { kind: 'load', image: this.#image });
    worker.on('message', (reply: FromWorker) => {
      if ('print' in reply) return this.#onPrint(reply.print);
      const job = evaluator.job;
      if (job === undefined || job.id !== reply.id) return;
      evaluator.job = undefined;
      clearTimeout(job.timer);
      if ('error' in reply) job.reject(new Error(reply.error));
      else job.resolve(reply.allowed);
      this.#dispatch();
    });
    worker.on('error', (err) => this.#lost(evaluator, `policy evaluator failed: ${err.message}`));
    worker.on('exit', () => this.#lost(evaluator, 'policy evaluator exited'));
    // Evaluators never keep the process alive on their own (after the listeners: adding one refs the port again).
    worker.unref();
    return evaluator;
  }

  #dispatch(): void {
    while (this.#queue.length > 0 && !this.#closed) {
      let free: Evaluator | undefined;
      for (const e of this.#evaluators) if (e.job === undefined) free = e;
      if (free === undefined) {
        // Threads lost to crashes are replaced on demand, so a thread that cannot start does not respawn in a loop.
        if (this.#evaluators.size >= this.#size) return;
        free = this.#spawn();
      }
      const job = this.#queue.shift()!;
      free.job = job;
      job.evaluator = free;
      post(free.worker, { kind: 'eval', id: job.id, der: job.der });
    }
  }

  #fail(job: Job, err: Error): void {
    clearTimeout(job.timer);
    job.reject(err);
  }

  /** A thread died (out of memory, or exited): its request is denied. */
  #lost(evaluator: Evaluator, why: string): void {
    if (!this.#evaluators.delete(evaluator)) return;
    const job = evaluator.job;
    evaluator.job = undefined;
    if (job !== undefined) this.#fail(job, new Error(why));
    this.#dispatch();
  }

  #timedOut(job: Job): void {
    const queued = this.#queue.indexOf(job);
    if (queued >= 0) this.#queue.splice(queued, 1);
    const evaluator = job.evaluator;
    if (evaluator !== undefined && evaluator.job === job && this.#evaluators.delete(evaluator)) {
      evaluator.job = undefined;
      void evaluator.worker.terminate();
      this.#onOverrun();
      if (!this.#closed) this.#spawn();
    }
    job.reject(new Error(`policy evaluation did not finish within ${this.#timeoutMs} ms (--connect-timeout)`));
    this.#dispatch();
  }
}

function post(worker: Worker, msg: ToWorker): void {
  worker.postMessage(msg);
}
