/**
 * Counts connections from accept to close, so a drain knows when the last one is gone and
 * --max-concurrent-conns knows when to stop accepting.
 */
export class ConnectionTracker {
  #open = 0;
  #waiters: Array<() => void> = [];
  #onChange: ((open: number) => void) | undefined;

  get open(): number {
    return this.#open;
  }

  /** Called with the new count after every add and remove. */
  onChange(fn: (open: number) => void): void {
    this.#onChange = fn;
  }

  add(): void {
    this.#open++;
    this.#onChange?.(this.#open);
  }

  remove(): void {
    this.#open--;
    this.#onChange?.(this.#open);
    if (this.#open === 0) for (const wake of this.#waiters.splice(0)) wake();
  }

  /** Resolves once no connection is open. */
  idle(): Promise<void> {
    return this.#open === 0 ? Promise.resolve() : new Promise((resolve) => this.#waiters.push(resolve));
  }
}
