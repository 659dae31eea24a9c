import type { PolicySource } from '../../config/types.ts';
import type { Log } from '../../log/logger.ts';
import type { AccessPolicy } from '../access-policy.ts';
import type { PeerIdentity } from '../peer.ts';
import { readPolicyBundle, type PolicyBundle } from './bundle.ts';
import { compileWasm, instantiatePolicy, type PolicyImage } from './compiled-policy.ts';
import { EvaluatorPool } from './evaluator-pool.ts';
import { entrypointOf } from './query.ts';

export interface OpaPolicyOptions {
  /** Deadline per evaluation: --connect-timeout, as in Ghostunnel. */
  readonly timeoutMs: number;
  readonly log: Log;
}

/** Compiles the bundle's wasm and checks, on this thread, that it instantiates and answers the entrypoint. */
async function imageOf(bundle: PolicyBundle, entrypoint: string): Promise<PolicyImage> {
  let module;
  try {
    module = await compileWasm(bundle.wasm);
  } catch (err) {
    throw new Error(`policy.wasm is not valid WebAssembly: ${(err as Error).message}`);
  }
  // A copy that owns its whole ArrayBuffer: a Buffer may be a view into Node's shared pool.
  const data = bundle.data === undefined ? undefined : new Uint8Array(bundle.data).buffer;
  const image: PolicyImage = { module, data, entrypoint };
  instantiatePolicy(image);
  return image;
}

/**
 * An OPA policy as an access rule (spec §2.8): the peer's certificate goes in as
 * input.certificate, and the peer is admitted iff the query yields exactly one result, `true`.
 * Evaluation runs on worker threads with a deadline; an error or overrun denies.
 */
export class OpaPolicy implements AccessPolicy {
  readonly #source: PolicySource;
  readonly #entrypoint: string;
  readonly #pool: EvaluatorPool;
  readonly #log: Log;
  #digest: string;
  #reloads: Promise<void> = Promise.resolve();

  private constructor(source: PolicySource, entrypoint: string, digest: string, pool: EvaluatorPool, log: Log) {
    this.#source = source;
    this.#entrypoint = entrypoint;
    this.#digest = digest;
    this.#pool = pool;
    this.#log = log;
  }

  /** Reads, compiles and checks the policy; throws naming the flag, the file and the fix. */
  static async load(source: PolicySource, options: OpaPolicyOptions): Promise<OpaPolicy> {
    const describe = (err: unknown): Error => new Error(`${source.flag} ${source.bundle}: ${(err as Error).message}`);
    const entrypoint = entrypointOf(source.query);
    let bundle: PolicyBundle;
    let image: PolicyImage;
    try {
      bundle = (await readPolicyBundle(source.bundle, entrypoint)) as PolicyBundle;
      image = await imageOf(bundle, entrypoint);
    } catch (err) {
      throw describe(err);
    }
    const { log } = options;
    const pool = new EvaluatorPool(image, {
      timeoutMs: options.timeoutMs,
      onPrint: (line) => log.info(`OPA policy printed: ${line}`),
      onOverrun: () => log.warn(`OPA policy evaluation overran --connect-timeout (${options.timeoutMs} ms): peer denied, evaluator thread replaced`, { policy: source.bundle }),
    });
    log.info(`loaded OPA policy ${source.bundle} (query ${source.query})`, { policy: source.bundle, entrypoint });
    return new OpaPolicy(source, entrypoint, bundle.digest, pool, log);
  }

  allows(peer: PeerIdentity): Promise<boolean> {
    return this.decide(peer.x509.raw);
  }

  /** The decision on a peer certificate (DER): what allows() asks, and what --workers loops ask the main thread. */
  decide(der: Uint8Array): Promise<boolean> {
    return this.#pool.evaluate(der);
  }

  /**
   * Reads the bundle again (every reload trigger); a changed one replaces the policy for new
   * connections, a broken one is logged and the current policy stays. Never rejects.
   */
  reload(): Promise<void> {
    this.#reloads = this.#reloads.then(() => this.#reloadOnce());
    return this.#reloads;
  }

  close(): Promise<void> {
    return this.#pool.close();
  }

  async #reloadOnce(): Promise<void> {
    const { bundle: path, flag, query } = this.#source;
    try {
      const next = await readPolicyBundle(path, this.#entrypoint, this.#digest);
      if (next === 'unchanged') return;
      this.#pool.publish(await imageOf(next, this.#entrypoint));
      this.#digest = next.digest;
      this.#log.info(`loaded OPA policy ${path} (query ${query})`, { policy: path, entrypoint: this.#entrypoint });
    } catch (err) {
      this.#log.error(`error reloading OPA policy: ${flag} ${path}: ${(err as Error).message}`, { policy: path });
    }
  }
}
