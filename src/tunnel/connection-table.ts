import type { NativeEngine } from '../engine/native.ts';
import { openedPipe, type PipeAccount, type PipingDeps } from './piping.ts';

/** A connection as a tunnel keeps it between the data plane's reports. */
export interface TunnelConnection extends PipeAccount {
  /** Why the tunnel gave up on it (logged when the data plane reports the end), once. */
  failure: object | undefined;
}

/** A tunnel's connections by phase, as /debug/pprof/goroutine counts them. */
export interface ConnectionCensus {
  /** Every connection accepted and not yet reported ended: each holds its accepted side. */
  readonly open: number;
  /** Those in their TLS handshake, access decision or dial (not piping, not given up on). */
  readonly connecting: number;
  /** Those piping: each holds a target side too. */
  readonly piping: number;
}

/**
 * The connections of one tunnel (server or client mode) by their data-plane id, and the engine
 * that carries them: what both modes do the same way between accept and end.
 */
export class ConnectionTable<C extends TunnelConnection> {
  readonly #open = new Map<number, C>();
  #engine: NativeEngine | undefined;

  /** The data plane the tunnel instructs (set once, before its listener accepts). */
  attach(engine: NativeEngine): void {
    this.#engine = engine;
  }

  get engine(): NativeEngine {
    return this.#engine!;
  }

  add(id: number, c: C): void {
    this.#open.set(id, c);
  }

  get(id: number): C | undefined {
    return this.#open.get(id);
  }

  /** Still open, and not given up on: a late answer (a policy verdict, a name lookup) may act on it. */
  live(id: number, c: C): boolean {
    return c.failure === undefined && this.#open.has(id);
  }

  /** Gives up on a connection that is not piping yet; the end report does the accounting. */
  fail(id: number, c: C, failure: NonNullable<C['failure']>): void {
    if (!this.live(id, c)) return;
    c.failure = failure;
    this.engine.close(id);
  }

  /** The data plane reports bytes flowing. */
  piping(id: number, deps: PipingDeps): void {
    const c = this.#open.get(id);
    if (c !== undefined) openedPipe(deps, c, () => this.engine.close(id));
  }

  /** Counts the connections by phase; changes nothing. */
  census(): ConnectionCensus {
    let connecting = 0;
    let piping = 0;
    for (const c of this.#open.values()) {
      if (c.piped) piping++;
      else if (c.failure === undefined) connecting++;
    }
    return { open: this.#open.size, connecting, piping };
  }

  /** The data plane reports the end: off the table, and off the handshakes a shutdown cancels. */
  take(id: number): C | undefined {
    const c = this.#open.get(id);
    if (c === undefined) return undefined;
    this.#open.delete(id);
    c.release?.();
    return c;
  }
}
