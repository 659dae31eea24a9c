import type { WorkloadApiSettings } from '../../config/types.ts';
import type { Log } from '../../log/logger.ts';
import { CredentialError } from '../credential-file.ts';
import type { PushedCredentials } from '../store.ts';
import { svidCredentials } from './svid-credentials.ts';
import { X509SvidStream } from './x509-svid-stream.ts';

/** Ghostunnel's words (spec §2.3), so that scripts watching for them keep working. */
export const INITIAL_UPDATE_FAILED = 'timed out or failed waiting for initial SPIFFE Workload API update (is the agent reachable and is there a registration entry?)';

export interface WorkloadApiSourceOptions {
  readonly settings: WorkloadApiSettings;
  /** False in client mode with --disable-authentication: the bundle verifies the server, no SVID is presented. */
  readonly presentIdentity: boolean;
  readonly log: Log;
}

/**
 * X.509-SVIDs and trust bundles as the SPIFFE Workload API pushes them. start() waits (up to
 * --use-workload-api-timeout) for the first usable message; every later one is handed to the
 * update listener, which swaps it in like a reload. A message that cannot be served (no SVID,
 * key not matching) is logged and skipped: the credentials in use stay.
 */
export class WorkloadApiSource {
  readonly #stream: X509SvidStream;
  readonly #log: Log;
  #latest: PushedCredentials | undefined;
  #listener: ((pushed: PushedCredentials) => void) | undefined;
  #first: ((pushed: PushedCredentials) => void) | undefined;

  private constructor(options: WorkloadApiSourceOptions) {
    this.#log = options.log;
    this.#stream = new X509SvidStream(options.settings.address, {
      update: (response) => {
        let pushed: PushedCredentials;
        try {
          pushed = svidCredentials(response, options.presentIdentity);
        } catch (err) {
          this.#log.error(`error: ignoring SPIFFE Workload API update: ${(err as Error).message}`);
          return;
        }
        this.#latest = pushed;
        this.#first?.(pushed);
        this.#listener?.(pushed);
      },
      error: (err, retryInMs) => {
        this.#log.warn(`SPIFFE Workload API at ${options.settings.address}: ${err.message} (retrying in ${retryInMs} ms)`, { address: options.settings.address });
      },
    });
  }

  /** Connects; resolves once the first SVID arrived, or throws CredentialError on --use-workload-api-timeout. */
  static async start(options: WorkloadApiSourceOptions): Promise<WorkloadApiSource> {
    const source = new WorkloadApiSource(options);
    const { timeoutMs, address } = options.settings;
    options.log.info(`waiting for the first X.509-SVID from the SPIFFE Workload API at ${address}`, { address, timeout_ms: timeoutMs });
    let timer: NodeJS.Timeout | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        source.#first = () => resolve();
        if (timeoutMs > 0) timer = setTimeout(() => reject(new CredentialError(INITIAL_UPDATE_FAILED)), timeoutMs);
      });
    } catch (err) {
      source.close();
      throw err;
    } finally {
      clearTimeout(timer);
      source.#first = undefined;
    }
    return source;
  }

  /** The last usable message: the first one until start() has resolved. */
  get current(): PushedCredentials {
    if (this.#latest === undefined) throw new Error('internal: no SPIFFE Workload API update yet');
    return this.#latest;
  }

  /** Receives every later usable message; one that arrived since `current` was read is handed over at once. */
  onUpdate(listener: (pushed: PushedCredentials) => void, since: PushedCredentials): void {
    this.#listener = listener;
    if (this.#latest !== undefined && this.#latest !== since) listener(this.#latest);
  }

  close(): void {
    this.#stream.close();
  }
}
