import { ADMIT, Alert, type Engine, type Verdict } from '../engine/engine.ts';
import { openedPipe, type PipeAccount, type PipingDeps } from './piping.ts';

export const DENIED = 'unauthorized: invalid principal, or principal not allowed';

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
  #engine: Engine | undefined;

  /** The data plane the tunnel instructs (set once, before its listener accepts). */
  attach(engine: Engine): void {
    this.#engine = engine;
  }

  get engine(): Engine {
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
    return c.failure === undefined && this.#open.get(id) === c;
  }

  /** Gives up on a connection that is not piping yet; the end report does the accounting. */
  fail(id: number, c: C, failure: NonNullable<C['failure']>): void {
    if (!this.live(id, c)) return;
    c.failure = failure;
    this.engine.close(id);
  }

  /**
   * Refuses a certificate inside the handshake: the alert ends it, and `failure` is what its end
   * report logs. A refused resumption is no failure: the full handshake that follows is decided anew.
   */
  refuse(c: C, resumed: boolean, failure: NonNullable<C['failure']>, alert: Alert = Alert.badCertificate): Verdict {
    if (!resumed) c.failure = failure;
    return alert;
  }

  /**
   * An access policy's answer, for a certificate being verified: the verdict now, or undefined
   * when the policy answers later (OPA), in which case the engine is given it then.
   */
  judge(id: number, c: C, answer: boolean | Promise<boolean>, admit: () => void, refuse: (message: string) => Verdict): Verdict | undefined {
    const settle = (ok: boolean): Verdict => (ok ? (admit(), ADMIT) : refuse(DENIED));
    if (typeof answer === 'boolean') return settle(answer);
    answer.then(
      (ok) => this.live(id, c) && this.engine.verdict(id, settle(ok)),
      (err: Error) => this.live(id, c) && this.engine.verdict(id, refuse(`unauthorized: policy returned error: ${err.message}`)),
    );
    return undefined;
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

  /** The data plane reports the end: off the table. */
  take(id: number): C | undefined {
    const c = this.#open.get(id);
    if (c === undefined) return undefined;
    this.#open.delete(id);
    return c;
  }
}
