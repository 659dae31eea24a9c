import pino from 'pino';

/** Written out once this many characters are waiting… */
const BATCH_CHARS = 4096;
/** …or at the latest this long after the first of them. */
const FLUSH_MS = 100;

/**
 * Log lines gathered into one write: the connection lines (two per connection) would otherwise
 * cost one write(2) each. `flush()` sends what is waiting at once, for the rare lines an operator
 * or a test waits for. Writes are synchronous, as Go's log package does them: one system call per
 * batch, lines in order, and nothing still in flight when the process exits (an asynchronous
 * write can be overtaken by the exit path's synchronous one, or lost with the process).
 */
export class BatchedLines {
  readonly #out: pino.DestinationStream & { flushSync(): void };
  #pending = '';
  #timer: NodeJS.Timeout | undefined;

  constructor(fd: number) {
    this.#out = pino.destination({ dest: fd, sync: true, minLength: 0 });
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
    this.#out.write(lines);
  }

  /** Writes everything out synchronously; before exiting. */
  flushSync(): void {
    this.flush();
    this.#out.flushSync();
  }
}
