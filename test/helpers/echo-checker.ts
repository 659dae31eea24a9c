// A well-behaved client that keeps proving the tunnel works: it sends random bytes through an echo
// backend and checks that exactly the same bytes come back, round after round, and records every
// failure with its time, so that a test (or the soak) can tell what went wrong and when.
import { randomBytes } from 'node:crypto';
import type { Duplex } from 'node:stream';

export interface CheckerFailure {
  /** Date.now() when the round that failed started, and when it failed. */
  readonly startedAt: number;
  readonly at: number;
  readonly error: string;
}

export interface CheckerStats {
  /** Completed round trips, and the bytes they carried (each way). */
  readonly rounds: number;
  readonly bytes: number;
  /** Bytes that came back different from what was sent. */
  readonly corrupted: number;
  /** Connections opened. */
  readonly connections: number;
  readonly failures: readonly CheckerFailure[];
}

export interface CheckerOptions {
  /** Opens a connection to the tunnel, resolving once it can carry bytes (TLS handshake done). */
  readonly connect: () => Promise<Duplex>;
  /** Bytes per round trip; each round draws a size from 1 to this. */
  readonly maxSize?: number;
  /** Round trips per connection before it is closed and a new one opened (Infinity: one connection). */
  readonly roundsPerConnection?: number;
  /** Longest a round trip may take before it counts as failed. */
  readonly roundTimeoutMs?: number;
  /** Pause between rounds. */
  readonly pauseMs?: number;
}

/** Reads exactly `n` bytes, or rejects when the stream ends, errors or `timeoutMs` passes first. */
function readExactly(stream: Duplex, n: number, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let got = 0;
    const finish = (err?: Error): void => {
      clearTimeout(timer);
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('close', onEnd);
      stream.off('error', onError);
      stream.pause();
      if (err) reject(err);
      else resolve(Buffer.concat(chunks));
    };
    const onData = (c: Buffer): void => {
      chunks.push(c);
      got += c.length;
      if (got >= n) finish();
    };
    const onEnd = (): void => finish(new Error(`connection closed after ${got} of ${n} echoed bytes`));
    const onError = (e: Error): void => finish(e);
    const timer = setTimeout(() => finish(new Error(`no echo within ${timeoutMs} ms (${got} of ${n} bytes)`)), timeoutMs);
    stream.on('data', onData);
    stream.once('end', onEnd);
    stream.once('close', onEnd);
    stream.once('error', onError);
    stream.resume();
  });
}

export class EchoChecker {
  readonly #opts: Required<CheckerOptions>;
  #rounds = 0;
  #bytes = 0;
  #corrupted = 0;
  #connections = 0;
  readonly #failures: CheckerFailure[] = [];
  #running = false;
  #loop: Promise<void> | undefined;

  constructor(opts: CheckerOptions) {
    this.#opts = { maxSize: 4096, roundsPerConnection: Infinity, roundTimeoutMs: 10_000, pauseMs: 0, ...opts };
  }

  get stats(): CheckerStats {
    return { rounds: this.#rounds, bytes: this.#bytes, corrupted: this.#corrupted, connections: this.#connections, failures: [...this.#failures] };
  }

  start(): this {
    this.#running = true;
    this.#loop = this.#run();
    return this;
  }

  /** Finishes the round in flight, closes the connection and returns the totals. */
  async stop(): Promise<CheckerStats> {
    this.#running = false;
    await this.#loop;
    return this.stats;
  }

  /** Resolves once `n` more rounds have completed (or rejects after `timeoutMs`). */
  async waitForRounds(n: number, timeoutMs = 20_000): Promise<void> {
    const target = this.#rounds + n;
    const deadline = Date.now() + timeoutMs;
    while (this.#rounds < target) {
      if (Date.now() > deadline) throw new Error(`checker: ${this.#rounds - target + n} of ${n} rounds in ${timeoutMs} ms; failures: ${JSON.stringify(this.#failures.slice(-3))}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async #run(): Promise<void> {
    const o = this.#opts;
    while (this.#running) {
      const startedAt = Date.now();
      let stream: Duplex | undefined;
      try {
        stream = await o.connect();
        this.#connections++;
        stream.on('error', () => {});
        for (let i = 0; i < o.roundsPerConnection && this.#running; i++) {
          const startedRound = Date.now();
          const sent = randomBytes(1 + Math.floor(Math.random() * o.maxSize));
          stream.write(sent);
          let back: Buffer;
          try {
            back = await readExactly(stream, sent.length, o.roundTimeoutMs);
          } catch (err) {
            this.#failures.push({ startedAt: startedRound, at: Date.now(), error: (err as Error).message });
            await new Promise((r) => setTimeout(r, 50));
            break;
          }
          this.#corrupted += countDifferent(sent, back);
          this.#rounds++;
          this.#bytes += sent.length;
          if (o.pauseMs > 0) await new Promise((r) => setTimeout(r, o.pauseMs));
        }
      } catch (err) {
        this.#failures.push({ startedAt, at: Date.now(), error: (err as Error).message });
        await new Promise((r) => setTimeout(r, 50));
      } finally {
        stream?.destroy();
      }
    }
  }
}

/** Bytes that differ (an extra or missing tail counts in full). */
function countDifferent(a: Buffer, b: Buffer): number {
  let n = Math.abs(a.length - b.length);
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) n++;
  return n;
}
