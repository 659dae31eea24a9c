import { lookup } from 'node:dns/promises';
import type { Server } from 'node:net';
import { compileAccessRules, type AccessPolicy } from './auth/access-policy.ts';
import { StartupError } from './cli/errors.ts';
import type { Config } from './config/types.ts';
import { CredentialError } from './credentials/identity.ts';
import { CredentialStore } from './credentials/store.ts';
import { drain } from './lifecycle/drain.ts';
import { installSignalHandlers } from './lifecycle/signals.ts';
import type { Log } from './log/logger.ts';
import { listen } from './net/listen.ts';
import { Reloader, subjectLine, type ReloadOutcome, type ReloadTrigger } from './reload/reloader.ts';
import { NO_EVENTS, type TunnelEvents } from './tunnel/events.ts';
import { ServerTunnel } from './tunnel/server-tunnel.ts';
import { ConnectionTracker } from './tunnel/tracker.ts';

/** The daemon's phase, as /_status reports it ("message"). */
export type Phase = 'initializing' | 'listening' | 'reloading' | 'stopping';

function accessPolicy(config: Config): AccessPolicy | undefined {
  if (config.clientAuth.kind === 'none') return undefined;
  try {
    return compileAccessRules(config.clientAuth.rules);
  } catch (err) {
    throw new StartupError(`invalid access control pattern: ${(err as Error).message}`);
  }
}

async function checkTargetResolves(config: Config): Promise<void> {
  if (config.skipResolve || config.target.kind !== 'tcp') return;
  try {
    await lookup(config.target.host);
  } catch (err) {
    throw new StartupError(`unable to resolve --target ${config.target.text}: ${(err as Error).message}`);
  }
}

function loadStore(config: Config): CredentialStore {
  try {
    return new CredentialStore(config.credentials, config.tls);
  } catch (err) {
    if (err instanceof CredentialError) throw new StartupError(err.message);
    throw err;
  }
}

/** The address actually bound ("127.0.0.1:41234" for a port-0 listen, or the socket path). */
export function boundAddress(server: Server): string {
  const a = server.address();
  if (a === null || typeof a === 'string') return a ?? '';
  return a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
}

/**
 * One running tunnel daemon: credentials, reload, listener and drain, wired together. Status,
 * metrics and service-manager integration read its state; they never reach into the tunnel.
 */
export class Daemon {
  readonly config: Config;
  readonly log: Log;
  readonly store: CredentialStore;
  readonly reloader: Reloader;
  readonly tracker = new ConnectionTracker();
  readonly listeners: Server[] = [];
  #phase: Phase = 'initializing';
  #exit: Promise<number> | undefined;
  #resolveExit!: (code: number) => void;
  #timer: NodeJS.Timeout | undefined;
  readonly #tunnel: ServerTunnel;

  private constructor(config: Config, log: Log, store: CredentialStore, policy: AccessPolicy | undefined, events: TunnelEvents) {
    this.config = config;
    this.log = log;
    this.store = store;
    this.reloader = new Reloader(store, log);
    this.#tunnel = new ServerTunnel({ config, store, policy, log, tracker: this.tracker, events });
  }

  /** Validates what needs I/O (target name, credentials, patterns); nothing is bound yet. */
  static async create(config: Config, log: Log, events: TunnelEvents = NO_EVENTS): Promise<Daemon> {
    const policy = accessPolicy(config);
    await checkTargetResolves(config);
    const store = loadStore(config);
    const leaf = store.current.identity?.leaf;
    if (leaf) log.info(`loaded certificate: ${subjectLine(leaf.subject)}`, { serial: leaf.serialNumber, not_after: leaf.validToDate.toISOString() });
    for (const warning of store.current.warnings) log.warn(`warning: ${warning}`);
    return new Daemon(config, log, store, policy, events);
  }

  get phase(): Phase {
    return this.#phase;
  }

  /** Binds the listener and starts serving; resolves with the exit code after the drain. */
  async run(): Promise<number> {
    this.#exit = new Promise((resolve) => (this.#resolveExit = resolve));
    const listener = await listen(this.config.listen, { onConnection: (s) => this.#tunnel.handle(s) });
    this.listeners.push(listener);
    this.log.info(`listening for connections on ${this.config.listen.text}`, { listen: this.config.listen.text, address: boundAddress(listener), target: this.config.target.text });
    if (this.config.timedReloadMs > 0) this.#timer = setInterval(() => this.reload('timer'), this.config.timedReloadMs);
    installSignalHandlers({ reload: (t) => this.reload(t), shutdown: (sig) => this.shutdown(`received ${sig}`) });
    this.#phase = 'listening';
    return this.#exit;
  }

  /** The one entry point for every reload trigger; ignored while draining. */
  reload(trigger: ReloadTrigger): ReloadOutcome | undefined {
    if (this.#phase === 'stopping') {
      this.log.info(`ignoring reload (${trigger}) during shutdown`);
      return undefined;
    }
    this.#phase = 'reloading';
    try {
      return this.reloader.reload(trigger);
    } finally {
      this.#phase = 'listening';
    }
  }

  /** Starts the graceful drain (once); run() then resolves with 0, or 1 on --shutdown-timeout. */
  shutdown(why: string): void {
    if (this.#phase === 'stopping') return;
    this.#phase = 'stopping';
    clearInterval(this.#timer);
    this.log.info(`${why}, shutting down`);
    void drain(this.listeners, this.tracker, this.config.timeouts.shutdownMs, this.log).then(this.#resolveExit);
  }
}
