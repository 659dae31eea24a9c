import { lookup } from 'node:dns/promises';
import type { Socket } from 'node:net';
import { compileAccessRules, type AccessPolicy } from './auth/access-policy.ts';
import { anyOf } from './auth/any-of.ts';
import { OpaPolicy } from './auth/opa/opa-policy.ts';
import { spkiPinPolicy } from './auth/spki-pin.ts';
import { svidPolicy } from './auth/svid-peer.ts';
import { StartupError } from './cli/errors.ts';
import type { AccessRules, Config, SpkiPin } from './config/types.ts';
import { startCertificateService, type CertificateService } from './credentials/certificate-service.ts';
import { CredentialError } from './credentials/identity.ts';
import { CredentialStore, type PushedCredentials } from './credentials/store.ts';
import { drain } from './lifecycle/drain.ts';
import { ServiceNotifier } from './lifecycle/sd-notify.ts';
import { installSignalHandlers } from './lifecycle/signals.ts';
import { predecessorPid, reportReadyToPredecessor, startSuccessor, successorCommand } from './lifecycle/upgrade.ts';
import type { Log } from './log/logger.ts';
import { listen } from './net/listen.ts';
import type { Listener } from './net/listener.ts';
import { targetDialer } from './net/target-dialer.ts';
import { AutoReload, credentialPaths } from './reload/auto-reload.ts';
import { Reloader, subjectLine, type ReloadOutcome, type ReloadTrigger } from './reload/reloader.ts';
import { AcmeChallengeFilter } from './tunnel/acme-challenge-filter.ts';
import { NO_EVENTS, type TunnelEvents } from './tunnel/events.ts';
import { ClientTunnel } from './tunnel/client-tunnel.ts';
import { ServerTunnel } from './tunnel/server-tunnel.ts';
import { ConnectionTracker } from './tunnel/tracker.ts';

/** The daemon's phase, as /_status reports it ("message"). */
export type Phase = 'initializing' | 'listening' | 'reloading' | 'stopping';

/** Server mode: the --allow-* rules on clients. Client mode: the --verify-* rules on the server. */
function accessRules(config: Config): AccessRules | undefined {
  return config.client !== undefined ? config.client.verify : config.clientAuth.kind === 'rules' ? config.clientAuth.rules : undefined;
}

/** --allow-spki-pin / --verify-spki-pin: exclusive with every other rule (spec §2.7). */
function spkiPins(config: Config): readonly SpkiPin[] | undefined {
  return config.client !== undefined ? config.client.pins : config.clientAuth.kind === 'pins' ? config.clientAuth.pins : undefined;
}

function accessPolicy(config: Config): AccessPolicy | undefined {
  const pins = spkiPins(config);
  if (pins !== undefined) return spkiPinPolicy(pins);
  const rules = accessRules(config);
  if (rules === undefined) return undefined;
  try {
    return compileAccessRules(rules);
  } catch (err) {
    throw new StartupError(`invalid access control pattern: ${(err as Error).message}`);
  }
}

/** --allow-policy / --verify-policy, loaded after the credentials as in Ghostunnel (spec §1.7 step 6). */
async function opaPolicy(config: Config, log: Log): Promise<OpaPolicy | undefined> {
  const source = accessRules(config)?.policy;
  if (source === undefined) return undefined;
  try {
    return await OpaPolicy.load(source, { timeoutMs: config.timeouts.connectMs, log });
  } catch (err) {
    throw new StartupError(`Invalid rego policy or query: ${(err as Error).message}`);
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

/**
 * --use-workload-api: peers must present an X.509-SVID, then the rules (and OPA) decide. Server
 * mode without rules (--disable-authentication) requests no client certificate at all.
 */
function withSvidCheck(config: Config, policy: AccessPolicy | undefined): AccessPolicy | undefined {
  if (config.workloadApi === undefined || (config.client === undefined && policy === undefined)) return policy;
  return svidPolicy(policy);
}

/** The SPIFFE Workload API or ACME, when the identity comes from there (spec §2.3). */
async function certificateService(config: Config, log: Log): Promise<CertificateService | undefined> {
  try {
    return await startCertificateService(config, log);
  } catch (err) {
    if (err instanceof CredentialError) throw new StartupError(err.message);
    throw err;
  }
}

function loadStore(config: Config, pushed?: PushedCredentials): CredentialStore {
  try {
    return new CredentialStore(config.credentials, config.tls, pushed);
  } catch (err) {
    if (err instanceof CredentialError) throw new StartupError(err.message);
    throw err;
  }
}

/** What the listener hands each accepted connection to. */
interface Tunnel {
  handle(socket: Socket, listenAddress: string): void;
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
  /** Every listening socket (tunnel, status): drained together, handed over together. */
  readonly listeners: Listener[] = [];
  #phase: Phase = 'initializing';
  readonly #notifier: ServiceNotifier;
  readonly #events: TunnelEvents;
  #upgrading = false;
  #exit: Promise<number> | undefined;
  #resolveExit!: (code: number) => void;
  #timer: NodeJS.Timeout | undefined;
  #autoReload: AutoReload | undefined;
  readonly #extraWatched: string[] = [];
  readonly #tunnel: Tunnel;
  #opa: OpaPolicy | undefined;
  readonly #service: CertificateService | undefined;

  private constructor(config: Config, log: Log, store: CredentialStore, policy: AccessPolicy | undefined, events: TunnelEvents, service?: CertificateService) {
    this.config = config;
    this.log = log;
    this.store = store;
    this.reloader = new Reloader(store, log);
    this.#notifier = new ServiceNotifier(log);
    this.#events = events;
    const tracker = this.tracker;
    this.#tunnel =
      config.client === undefined
        ? new ServerTunnel({ config, store, policy, log, tracker, events })
        : new ClientTunnel({
            config,
            store,
            // chainAndName is false only for pin-only checking (--verify-spki-pin), spec §2.6.
            // With the Workload API the SVID is verified, not the name (spec §2.6).
            verification: { serverName: config.client.serverName, chainAndName: spkiPins(config) === undefined, skipName: config.workloadApi !== undefined, policy },
            dialer: targetDialer(config.client.proxy),
            log,
            tracker,
            events,
          });
    this.#service = service;
    // --auto-acme-cert: TLS-ALPN-01 validations are answered before the tunnel sees the connection.
    if (service?.challenges !== undefined) this.#tunnel = new AcmeChallengeFilter(this.#tunnel, service.challenges, log, config.timeouts.connectMs);
  }

  /** Validates what needs I/O (target name, credentials, patterns); nothing is bound yet. */
  static async create(config: Config, log: Log, events: TunnelEvents = NO_EVENTS): Promise<Daemon> {
    const policy = accessPolicy(config);
    await checkTargetResolves(config);
    const service = await certificateService(config, log);
    const store = loadStore(config, service?.initial);
    const leaf = store.current.identity?.leaf;
    if (leaf) log.info(`loaded certificate: ${subjectLine(leaf.subject)}`, { serial: leaf.serialNumber, not_after: leaf.validToDate.toISOString() });
    for (const warning of store.current.warnings) log.warn(`warning: ${warning}`);
    const opa = await opaPolicy(config, log);
    const daemon = new Daemon(config, log, store, withSvidCheck(config, opa && policy ? anyOf([policy, opa]) : policy), events, service);
    if (opa !== undefined) {
      daemon.#opa = opa;
      daemon.watchPaths([accessRules(config)!.policy!.bundle]);
    }
    return daemon;
  }

  get phase(): Phase {
    return this.#phase === 'listening' && this.reloader.busy ? 'reloading' : this.#phase;
  }

  /** More files whose change reloads (with --auto-reload or --auto-reload-interval), e.g. policy bundles. */
  watchPaths(paths: readonly string[]): void {
    this.#extraWatched.push(...paths);
    this.#autoReload?.add(paths);
  }

  /** Binds the listener and starts serving; resolves with the exit code after the drain. */
  async run(): Promise<number> {
    this.#exit = new Promise((resolve) => (this.#resolveExit = resolve));
    // Before anything is announced: a signal that arrives right after "listening" must find them.
    installSignalHandlers({ reload: (t) => void this.reload(t), shutdown: (sig) => this.shutdown(`received ${sig}`), upgrade: () => void this.upgrade() });
    const listener = await listen(this.config.listen, {
      role: 'listen',
      onConnection: (s, l) => this.#tunnel.handle(s, l.address),
      onAcceptError: (err, retryMs) => {
        this.#events.acceptError();
        this.log.connError(`error accepting connection: ${err.message} (retrying in ${retryMs} ms)`);
      },
    });
    this.#limitConnections(listener);
    this.addListener(listener);
    await this.#startCertificateService(listener.address);
    if (this.#stopping()) return this.#exit;
    const from = predecessorPid();
    this.log.info(`listening for connections on ${this.config.listen.text}`, {
      listen: this.config.listen.text,
      address: listener.address,
      target: this.config.target.text,
      ...(from === undefined ? {} : { taken_over_from: from }),
    });
    if (this.config.timedReloadMs > 0) this.#timer = setInterval(() => this.reload('timer'), this.config.timedReloadMs);
    this.#phase = 'listening';
    reportReadyToPredecessor();
    this.#notifier.ready(this.#statusLine('listening'), from === undefined ? undefined : process.pid);
    this.#notifier.startWatchdog();
    const { autoReload } = this.config;
    if (autoReload.watch || autoReload.pollMs > 0) {
      this.#autoReload = new AutoReload({
        settings: autoReload,
        paths: [...credentialPaths(this.config.credentials), ...this.#extraWatched],
        log: this.log,
        reload: (t) => void this.reload(t),
      });
      await this.#autoReload.start();
    }
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
      const outcome = await this.reloader.reload(trigger);
      // Ghostunnel reloads the OPA policy with the credentials, after them; a broken one is logged and kept.
      await this.#opa?.reload();
      return outcome;
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

  /** Registers a listening socket (the status server's too) and starts accepting on it. */
  addListener(listener: Listener): void {
    this.listeners.push(listener);
    if (this.#phase === 'stopping') listener.close();
    else listener.start();
  }

  /** --max-concurrent-conns: when full, stop accepting; new connections wait in the kernel backlog. */
  #limitConnections(listener: Listener): void {
    const max = this.config.lifecycle.maxConcurrentConns;
    if (max <= 0) return;
    this.tracker.onChange((open) => (open >= max ? listener.pause('full') : listener.resume('full')));
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
    this.#upgrading = true;
    const command = successorCommand(this.config.lifecycle.upgradeExec);
    this.log.info(`upgrade: starting successor ${command.file}`, { sockets: this.listeners.map((l) => l.name) });
    try {
      const child = await startSuccessor(command, this.listeners);
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
    void drain(this.listeners, this.tracker, { timeoutMs: this.config.timeouts.shutdownMs, handedOver }, this.log).then(this.#resolveExit);
  }
}
