import { StartupError } from './cli/errors.ts';
import type { ParsedArgs } from './cli/parse.ts';
import type { ConfigFollower } from './config/config-follower.ts';
import type { ConfigSource } from './config/config-source.ts';
import type { Config, DataPlaneKind } from './config/types.ts';
import { startCertificateService, type CertificateService } from './credentials/certificate-service.ts';
import { CredentialError } from './credentials/identity.ts';
import { keyFileModeWarnings } from './credentials/key-file-mode.ts';
import { CredentialStore, type PushedCredentials } from './credentials/store.ts';
import { drain } from './lifecycle/drain.ts';
import { ServiceNotifier } from './lifecycle/sd-notify.ts';
import { installSignalHandlers } from './lifecycle/signals.ts';
import { predecessorPid, reportReadyToPredecessor, startSuccessor, successorCommand } from './lifecycle/upgrade.ts';
import type { Log } from './log/logger.ts';
import { chooseDataPlane, startDataPlane } from './engine/planes.ts';
import { listen } from './net/listen.ts';
import type { Listener } from './net/listener.ts';
import { AutoReload, credentialPaths } from './reload/auto-reload.ts';
import { Reloader, subjectLine, type ReloadOutcome, type ReloadTrigger } from './reload/reloader.ts';
import { flagPolicy, policySource } from './runtime/access-control.ts';
import { ConfigurationReload, type ConfigChange } from './runtime/configuration-reload.ts';
import { checkTargetResolves, firstGeneration, type Generation } from './runtime/generation.ts';
import { logReauthorized, reauthorize, type Reauthorized } from './runtime/reauthorize.ts';
import { tunnelFor, type ServingTunnel } from './runtime/tunnel-for.ts';
import { unitsOfWork, type LoopUnits } from './runtime/units-of-work.ts';
import { queuedConnectionsMigrate } from './sys/accept-queue.ts';
import { system, unavailable } from './sys/platform.ts';
import { NO_EVENTS, type TunnelEvents } from './tunnel/events.ts';
import { OpenConnections } from './tunnel/open-connections.ts';
import { ConnectionTracker } from './tunnel/tracker.ts';
import { contextMaterial } from './workers/protocol.ts';
import type { WorkerPool } from './workers/worker-pool.ts';

/** The daemon's phase, as /_status reports it ("message"). */
export type Phase = 'initializing' | 'listening' | 'reloading' | 'stopping';

/** The SPIFFE Workload API or ACME, when the identity comes from there (spec §2.3). */
async function certificateService(config: Config, log: Log, plane: DataPlaneKind): Promise<CertificateService | undefined> {
  try {
    return await startCertificateService(config, log, plane);
  } catch (err) {
    if (err instanceof CredentialError) throw new StartupError(err.message);
    throw err;
  }
}

function loadStore(config: Config, plane: DataPlaneKind, pushed?: PushedCredentials): CredentialStore {
  try {
    return new CredentialStore(config.credentials, config.tls, plane, pushed);
  } catch (err) {
    if (err instanceof CredentialError) throw new StartupError(err.message);
    throw err;
  }
}

/**
 * One running tunnel daemon: credentials, reload, listener and drain, wired together. Status,
 * metrics and service-manager integration read its state; they never reach into the tunnel.
 */
export class Daemon {
  readonly log: Log;
  /** The data plane serving the tunnel's connections (--data-plane, or this machine's default). */
  readonly plane: DataPlaneKind;
  readonly store: CredentialStore;
  readonly reloader: Reloader;
  readonly tracker = new ConnectionTracker();
  /** Piping connections with a peer certificate, checked again by --reauthorize-open-connections. */
  readonly connections = new OpenConnections();
  /** Every listening socket (tunnel, status): drained together, handed over together. */
  readonly listeners: Listener[] = [];
  /** Sockets registered before the tunnel listens, to start once it does. */
  readonly #waiting: Array<{ listener: Listener; started: (() => void) | undefined }> = [];
  #phase: Phase = 'initializing';
  readonly #notifier: ServiceNotifier;
  readonly #events: TunnelEvents;
  #upgrading = false;
  #exit: Promise<number> | undefined;
  #resolveExit!: (code: number) => void;
  #markListening!: () => void;
  /** Resolves once the tunnel accepts connections (its listener is in `listeners` then). */
  readonly listening = new Promise<void>((resolve) => (this.#markListening = resolve));
  #timer: NodeJS.Timeout | undefined;
  #autoReload: AutoReload | undefined;
  /** Restarts of the file watching, one after the other. */
  #autoReloadTurn: Promise<void> = Promise.resolve();
  readonly #extraWatched: string[] = [];
  readonly #serving: ServingTunnel;
  /** The configuration in use and what was built from it; a --config reload replaces it. */
  #generation: Generation;
  /** Hands a new generation's settings to the tunnel: one assignment, read once per connection. */
  readonly #publishRuntime: (generation: Generation) => void;
  readonly #configuration: ConfigurationReload | undefined;
  readonly #followers: ConfigFollower[] = [];
  #relimit: (() => void) | undefined;
  readonly #service: CertificateService | undefined;
  /** --workers above 1: the other event loops. */
  #pool: WorkerPool | undefined;

  private constructor(generation: Generation, log: Log, plane: DataPlaneKind, store: CredentialStore, events: TunnelEvents, service?: CertificateService, source?: ConfigSource) {
    this.#generation = generation;
    this.log = log;
    this.plane = plane;
    this.store = store;
    this.#configuration =
      source?.path === undefined
        ? undefined
        : new ConfigurationReload({ source, log, current: () => this.#generation, followers: () => this.#followers, apply: (next, change) => this.#apply(next, change) });
    this.reloader = new Reloader(store, log, {
      configuration: this.#configuration,
      replicate: async (candidate, settings) => this.#pool?.installCredentials(contextMaterial(candidate, settings?.tls ?? this.config.tls)),
      // One OPA policy serves every loop (the workers ask this thread): in force everywhere once published here.
      reloadPolicies: async () => this.#generation.opa?.reload(),
    });
    this.#notifier = new ServiceNotifier(log);
    this.#events = events;
    // --auto-acme-cert: TLS-ALPN-01 validations are answered on the tunnel's own listener.
    const challenges = service?.challenges;
    this.#serving = tunnelFor(generation, { store, connections: this.connections, log, tracker: this.tracker, events, ...(challenges ? { challenges } : {}) });
    this.#publishRuntime = this.#serving.publish;
    this.#service = service;
  }

  /**
   * Validates what needs I/O (target name, credentials, patterns); nothing is bound yet. With
   * `source` (a --config file), every reload reads the file again and applies its changes.
   */
  static async create(config: Config, args: ParsedArgs, log: Log, events: TunnelEvents = NO_EVENTS, source?: ConfigSource): Promise<Daemon> {
    const flags = flagPolicy(config);
    await checkTargetResolves(config);
    const plane = chooseDataPlane(config.lifecycle.dataPlane);
    log.info(`data plane: ${plane.kind} (${plane.why})`, { data_plane: plane.kind });
    const service = await certificateService(config, log, plane.kind);
    const store = loadStore(config, plane.kind, service?.initial);
    const leaf = store.current.identity?.leaf;
    if (leaf) log.info(`loaded certificate: ${subjectLine(leaf.subject)}`, { serial: leaf.serialNumber, not_after: leaf.validToDate.toISOString() });
    for (const warning of store.current.warnings) log.warn(`warning: ${warning}`);
    for (const warning of keyFileModeWarnings(config.credentials)) log.warn(`warning: ${warning}`);
    const generation = await firstGeneration(config, args, flags, log);
    const daemon = new Daemon(generation, log, plane.kind, store, events, service, source);
    const bundle = policySource(config)?.bundle;
    if (bundle !== undefined) daemon.watchPaths([bundle]);
    if (source?.path !== undefined) daemon.watchPaths([source.path]);
    return daemon;
  }

  /** The configuration in use: the one at start, or the last one a --config reload applied. */
  get config(): Config {
    return this.#generation.config;
  }

  /** With --config: the file's changes that wait for a restart (none: empty). undefined without --config. */
  get restartPending(): readonly string[] | undefined {
    return this.#configuration?.restartPending;
  }

  get phase(): Phase {
    return this.#phase === 'listening' && this.reloader.busy ? 'reloading' : this.#phase;
  }

  /** More files whose change reloads (with --auto-reload or --auto-reload-interval), e.g. policy bundles. */
  watchPaths(paths: readonly string[]): void {
    const added = paths.filter((p) => !this.#extraWatched.includes(p));
    this.#extraWatched.push(...added);
    if (added.length > 0) this.#autoReload?.add(added);
  }

  /** Follows the configuration through --config reloads: checked with every candidate, applied with it. */
  follow(follower: ConfigFollower): void {
    this.#followers.push(follower);
  }

  /**
   * Makes a reloaded configuration current (from within the reload attempt, after the credentials);
   * resolves once the workers have it too, so the reload is reported when every loop serves it.
   */
  async #apply(next: Generation, change: ConfigChange): Promise<void> {
    const previous = this.#generation;
    this.#generation = next;
    this.#publishRuntime(next);
    const { config } = next;
    const old = previous.opa;
    // Evaluations already under way finish with the old policy: it goes once they have timed out at the latest.
    if (old !== undefined && old !== next.opa) setTimeout(() => void old.close(), previous.config.timeouts.connectMs).unref();
    const bundle = policySource(config)?.bundle;
    this.watchPaths([...credentialPaths(config.credentials), ...(bundle === undefined ? [] : [bundle])]);
    const changed = new Set(change.changed);
    if (changed.has('timed-reload')) this.#startTimer();
    if (changed.has('auto-reload') || changed.has('auto-reload-interval')) void this.#startAutoReload();
    if (changed.has('max-concurrent-conns')) this.#relimit?.();
    await this.#pool?.reconfigure(next.args).catch((err: Error) => this.log.error(`error applying the configuration on the workers: ${err.message}`));
    if (change.accessChanged && config.reauthorizeOpenConnections) void this.#reauthorize(next);
  }

  /** --reauthorize-open-connections on every event loop, summed up in one log line. */
  async #reauthorize(next: Generation): Promise<void> {
    const none = { checked: 0, closed: 0 };
    const onWorkers = async (pool: WorkerPool): Promise<Reauthorized> => {
      try {
        return await pool.reauthorize();
      } catch (err) {
        this.log.error(`error re-authorizing on the workers: ${(err as Error).message}`);
        return none;
      }
    };
    const [here, workers] = await Promise.all([reauthorize(this.connections, next.policy, this.log), this.#pool === undefined ? none : onWorkers(this.#pool)]);
    logReauthorized(this.log, { checked: here.checked + workers.checked, closed: here.closed + workers.closed });
  }

  /** --timed-reload, (re)started with the current interval. */
  #startTimer(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    if (this.#phase !== 'listening' || this.config.timedReloadMs <= 0) return;
    this.#timer = setInterval(() => this.reload('timer'), this.config.timedReloadMs);
  }

  /** --auto-reload and --auto-reload-interval, (re)started with the current settings and files. */
  #startAutoReload(): Promise<void> {
    const restart = (): Promise<void> => this.#restartAutoReload();
    this.#autoReloadTurn = this.#autoReloadTurn.then(restart, restart);
    return this.#autoReloadTurn;
  }

  async #restartAutoReload(): Promise<void> {
    const previous = this.#autoReload;
    this.#autoReload = undefined;
    await previous?.close();
    const { autoReload } = this.config;
    if (this.#phase !== 'listening' || !(autoReload.watch || autoReload.pollMs > 0)) return;
    const next = new AutoReload({
      settings: autoReload,
      paths: [...credentialPaths(this.config.credentials), ...this.#extraWatched],
      log: this.log,
      reload: (t) => void this.reload(t),
    });
    this.#autoReload = next;
    await next.start();
  }

  /** Binds the listener and starts serving; resolves with the exit code after the drain. */
  async run(): Promise<number> {
    this.#exit = new Promise((resolve) => (this.#resolveExit = resolve));
    // Before anything is announced: a signal that arrives right after "listening" must find them.
    installSignalHandlers({ reload: (t) => void this.reload(t), shutdown: (sig) => this.shutdown(`received ${sig}`), upgrade: () => void this.upgrade() });
    const plane = startDataPlane(this.plane, this.#serving.tunnel);
    const listener = await listen(this.config.listen, {
      role: 'listen',
      acceptor: plane.acceptor(this.#serving.mode),
      onAcceptError: (err, retryMs) => {
        this.#events.acceptError();
        this.log.connError(`error accepting connection: ${err.message} (retrying in ${retryMs} ms)`);
      },
    });
    const validationPort = await this.#validationPort(listener.address);
    this.#limitConnections(listener);
    this.#serve(listener);
    // At once, unlike the status port: the first certificate may be obtained through it.
    if (validationPort !== undefined) this.#serve(validationPort);
    await this.#startWorkers(listener);
    await this.#startCertificateService(listener.address);
    if (this.#stopping()) return this.#exit;
    const from = predecessorPid();
    if (this.config.listen.kind === 'tcp' && queuedConnectionsMigrate() === false) {
      this.log.warn(
        'net.ipv4.tcp_migrate_req is 0: connections still queued when this process stops listening are reset instead of moving to a reusePort successor; set it to 1 for replacements without failed connections (docs/upgrades.md)',
      );
    }
    this.log.info(`listening for connections on ${this.config.listen.text}`, {
      listen: this.config.listen.text,
      address: listener.address,
      target: this.config.target.text,
      ...(from === undefined ? {} : { taken_over_from: from }),
    });
    this.#phase = 'listening';
    // The status port opens only now: whoever waits for it finds the tunnel accepting.
    for (const { listener: waiting, started } of this.#waiting.splice(0)) this.#startListener(waiting, started);
    this.#startTimer();
    this.#markListening();
    reportReadyToPredecessor();
    this.#notifier.ready(this.#statusLine('listening'), from === undefined ? undefined : process.pid);
    this.#notifier.startWatchdog();
    await this.#startAutoReload();
    return this.#exit;
  }

  /**
   * The one entry point for every reload trigger; ignored while draining. Resolves with the
   * outcome once the candidate was read, validated and swapped in (or refused).
   */
  async reload(trigger: ReloadTrigger): Promise<ReloadOutcome | undefined> {
    if (this.#phase === 'stopping') {
      this.log.info(`ignoring reload (${trigger}) during shutdown`);
      return undefined;
    }
    this.#notifier.reloading(this.#statusLine('reloading'));
    try {
      return await this.reloader.reload(trigger);
    } finally {
      if (!this.#stopping()) this.#notifier.ready(this.#statusLine('listening'));
    }
  }

  /**
   * Updates from the Workload API or ACME swap in through the reloader, like a reload: validated
   * first, recorded in the outcome, never replacing good credentials with broken ones. ACME
   * obtains its first certificate here, answering the challenge on the listener just bound.
   */
  async #startCertificateService(listenAddress: string): Promise<void> {
    const service = this.#service;
    if (service === undefined) return;
    const install = async (pushed: PushedCredentials): Promise<boolean> => {
      this.store.offer(pushed);
      const outcome = await this.reloader.reload(service.trigger);
      return outcome.ok;
    };
    try {
      await service.start(install, listenAddress);
    } catch (err) {
      if (err instanceof CredentialError) throw new StartupError(err.message);
      throw err;
    }
  }

  /**
   * --auto-acme-alt-tls-alpn-port: a listener that answers TLS-ALPN-01 validations only, bound
   * before the tunnel accepts (a failed bind ends start-up first); from then on one of `listeners`
   * (closed by the drain, passed on by a hand-off). undefined without the flag, or when it names
   * the listening port.
   */
  async #validationPort(listenAddress: string): Promise<Listener | undefined> {
    const port = this.config.acme?.altTlsAlpnPort;
    const challenges = this.#service?.challenges;
    if (port === undefined || challenges === undefined) return undefined;
    const { startValidationPort } = await import('./credentials/acme/validation-port.ts');
    return startValidationPort({ port, listen: this.config.listen, listenAddress, challenges, handshakeMs: this.config.timeouts.connectMs, log: this.log });
  }

  /**
   * Registers a socket beside the tunnel's (the status port), drained and handed over with it. It
   * starts accepting once the tunnel does, with its credentials loaded (at once if it does
   * already); `started` is called then.
   */
  addListener(listener: Listener, started?: () => void): void {
    this.listeners.push(listener);
    if (this.#phase === 'stopping') listener.close();
    else if (this.#phase === 'listening') this.#startListener(listener, started);
    else this.#waiting.push({ listener, started });
  }

  /** Registers one of the tunnel's own sockets and starts accepting on it now. */
  #serve(listener: Listener): void {
    this.listeners.push(listener);
    if (this.#stopping()) listener.close();
    else listener.start();
  }

  #startListener(listener: Listener, started: (() => void) | undefined): void {
    listener.start();
    started?.();
  }

  /**
   * --max-concurrent-conns: when full, stop accepting; new connections wait in the kernel backlog.
   * With --config the limit can change at a reload, so it is looked up at every change.
   */
  #limitConnections(listener: Listener): void {
    if (this.config.lifecycle.maxConcurrentConns <= 0 && this.#configuration === undefined) return;
    let full = false;
    const limit = (open: number): void => {
      const max = this.config.lifecycle.maxConcurrentConns;
      if (full === (max > 0 && open >= max)) return;
      full = !full;
      if (full) {
        listener.pause('full');
        this.#pool?.pause();
      } else {
        listener.resume('full');
        this.#pool?.resume();
      }
    };
    this.tracker.onChange(limit);
    this.#relimit = () => limit(this.tracker.open);
  }

  /**
   * --workers N: N − 1 more event loops on the same listening socket, started before "listening"
   * is announced. Loaded only then: a single-loop daemon never imports the pool.
   */
  async #startWorkers(listener: Listener): Promise<void> {
    const count = this.config.lifecycle.workers - 1;
    if (count <= 0) return;
    const { WorkerPool } = await import('./workers/worker-pool.ts');
    const material = contextMaterial(this.store.current, this.config.tls);
    // One OPA policy for all loops, this thread's: it reloads once, and its evaluator threads are not multiplied.
    const authorize = (der: Uint8Array): Promise<boolean> => this.#generation.opa?.decide(der) ?? Promise.resolve(false);
    this.#pool = await WorkerPool.start({ count, args: this.#generation.args, plane: this.plane, material, listener, log: this.log, events: this.#events, tracker: this.tracker, authorize });
  }

  /** Every event loop's units of work, this thread's first; with --workers each worker reports its own. */
  async unitsOfWork(): Promise<readonly LoopUnits[]> {
    const here = unitsOfWork(this.#serving.tunnel.census());
    return [here, ...((await this.#pool?.unitsOfWork()) ?? [])];
  }

  /** A method, not a field read, so that TypeScript does not carry a narrowing across an await. */
  #stopping(): boolean {
    return this.#phase === 'stopping';
  }

  /** "listening | server proxying 127.0.0.1:8443 => 127.0.0.1:8080", systemd's STATUS=. */
  #statusLine(state: string): string {
    return `${state} | ${this.config.mode} proxying ${this.config.listen.text} => ${this.config.target.text}`;
  }

  /**
   * SIGUSR2: starts the successor with our listening sockets, and once it accepts on them, stops
   * accepting and drains. If the successor fails to come up, we keep serving as before.
   */
  async upgrade(): Promise<void> {
    if (this.#phase !== 'listening' || this.#upgrading) {
      const why = this.#upgrading ? 'an upgrade is in progress' : this.#phase === 'stopping' ? 'shutting down' : 'not listening yet';
      this.log.info(`ignoring upgrade request (SIGUSR2): ${why}`);
      return;
    }
    if (system.descriptors === undefined) {
      this.log.info(`ignoring upgrade request (SIGUSR2): ${unavailable('the hand-off upgrade', system, 'restart the service to upgrade (it drains first)')}`);
      return;
    }
    this.#upgrading = true;
    const command = successorCommand(this.config.lifecycle.upgradeExec);
    this.log.info(`upgrade: starting successor ${command.file}`, { sockets: this.listeners.map((l) => l.name) });
    try {
      const sockets = this.listeners.flatMap(({ fd, name }) => (fd === undefined ? [] : [{ fd, name }]));
      const child = await startSuccessor(command, sockets);
      child.unref();
      if (this.#stopping()) {
        this.log.info(`upgrade: shutdown requested meanwhile, stopping successor pid ${child.pid}`);
        child.kill('SIGTERM');
        return;
      }
      this.log.info(`upgrade: successor pid ${child.pid} is accepting, handing over`, { successor: child.pid });
      this.#stop({ handedOver: true });
    } catch (err) {
      this.log.error(`upgrade failed: ${(err as Error).message}; still serving`);
    } finally {
      this.#upgrading = false;
    }
  }

  /** Starts the graceful drain (once); run() then resolves with 0, or 1 on --shutdown-timeout. */
  shutdown(why: string): void {
    if (this.#phase === 'stopping') return;
    this.log.info(`${why}, shutting down`);
    this.#stop({ handedOver: false });
  }

  /**
   * After a hand-off the successor is the service's main process: we send systemd nothing more
   * (a STOPPING=1 would stop the service) and stop the watchdog, which is the successor's now.
   */
  #stop({ handedOver }: { handedOver: boolean }): void {
    this.#phase = 'stopping';
    clearInterval(this.#timer);
    this.#service?.close();
    void this.#autoReload?.close();
    if (handedOver) this.#notifier.stopWatchdog();
    else this.#notifier.stopping(this.#statusLine('stopping'));
    const pool = this.#pool;
    const { tracker } = this;
    // The workers' connections are counted on this thread too; they are all gone once every worker
    // reported drained (its last events arrive before that report) and the count is back to 0.
    const connections = pool === undefined ? tracker : { get open() { return tracker.open; }, idle: async () => { await pool.drained(); await tracker.idle(); } };
    const closing = pool === undefined ? this.listeners : [...this.listeners, pool];
    void drain(closing, connections, { timeoutMs: this.config.timeouts.shutdownMs, handedOver }, this.log).then(this.#resolveExit);
  }
}
