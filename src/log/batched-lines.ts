import { writeSync } from 'node:fs';

/** Written out once this many characters are waiting… */
const BATCH_CHARS = 4096;
/** …or at the latest this long after the first of them. */
const FLUSH_MS = 100;
/** How long a write waits before trying again when the descriptor is non-blocking and full. */
const FULL_PAUSE_MS = 10;

/**
 * Writes all of `text`, synchronously: partial writes are continued, and a non-blocking descriptor
 * that is full (EAGAIN, a pipe nobody reads fast enough) is waited for.
 */
export function writeAllSync(fd: number, text: string): void {
  const bytes = Buffer.from(text);
  let pause: Int32Array | undefined;
  for (let done = 0; done < bytes.length; ) {
    try {
      done += writeSync(fd, bytes, done);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
      pause ??= new Int32Array(new SharedArrayBuffer(4));
      Atomics.wait(pause, 0, 0, FULL_PAUSE_MS);
    }
  }
}

/**
 * Log lines gathered into one write: the connection lines (two per connection) would otherwise
 * cost one write(2) each. `flush()` sends what is waiting at once, for the rare lines an operator
 * or a test waits for. Writes are synchronous, as Go's log package does them: one system call per
 * batch, lines in order, and nothing still in flight when the process exits (an asynchronous
 * write can be overtaken by the exit path's synchronous one, or lost with the process).
 */
export class BatchedLines {
  readonly #fd: number;
  #pending = '';
  #timer: NodeJS.Timeout | undefined;

  constructor(fd: number) {
    this.#fd = fd;
    // An exit without the log's flush() (an uncaught exception) still writes what is waiting.
    process.once('exit', () => {
      try {
        this.flushSync();
      } catch {
        // Stdout already gone: there is nowhere left to write to.
      }
    });
  }

  write(line: string): void {
    this.#pending += line;
    if (this.#pending.length >= BATCH_CHARS) this.flush();
    // Not unref'd: lines still waiting keep the event loop up until they are written.
    else this.#timer ??= setTimeout(() => this.flush(), FLUSH_MS);
  }

  /** Hands what is waiting to the file descriptor now. */
  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#pending === '') return;
    const lines = this.#pending;
    this.#pending = '';
    writeAllSync(this.#fd, lines);
  }

  /** Writes everything out synchronously; before exiting. */
  flushSync(): void {
    this.flush();
  }
}
