/** Counts connections from accept to close, so a drain knows when the last one is gone. */
export class ConnectionTracker {
  #open = 0;
  #waiters: Array<() => void> = [];

  get open(): number {
    return this.#open;
  }

  add(): void {
    this.#open++;
  }

  remove(): void {
    this.#open--;
    if (this.#open === 0) for (const wake of this.#waiters.splice(0)) wake();
  }

  /** Resolves once no connection is open. */
  idle(): Promise<void> {
    return this.#open === 0 ? Promise.resolve() : new Promise((resolve) => this.#waiters.push(resolve));
  }
}
