/**
 * Counts connections from accept to close, so a drain knows when the last one is gone and
 * --max-concurrent-conns knows when to stop accepting. It also holds the cancel functions of the
 * connections still in their handshake or dial, which a shutdown aborts (Ghostunnel cancels its
 * proxy context) while established pipes drain.
 */
export class ConnectionTracker {
  #open = 0;
  #waiters: Array<() => void> = [];
  #connecting = new Set<() => void>();
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

  /**
   * A connection entered its handshake/dial; `cancel` ends it if the daemon shuts down first.
   * Returns the function to call once it is piping or has failed.
   */
  connecting(cancel: () => void): () => void {
    this.#connecting.add(cancel);
    return () => this.#connecting.delete(cancel);
  }

  /** Aborts every handshake and dial still in progress. */
  cancelConnecting(): void {
    const pending = [...this.#connecting];
    this.#connecting.clear();
    for (const cancel of pending) cancel();
  }

  /** Resolves once no connection is open. */
  idle(): Promise<void> {
    return this.#open === 0 ? Promise.resolve() : new Promise((resolve) => this.#waiters.push(resolve));
  }
}
