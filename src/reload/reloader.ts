import { setTimeout as sleep } from 'node:timers/promises';
import type { Credentials, CredentialSettings, CredentialStore } from '../credentials/store.ts';
import { validateCandidate } from '../credentials/validate.ts';
import type { Log } from '../log/logger.ts';

/**
 * What started a reload: signals and the timer as in Ghostunnel; file events, polling and POST /_reload beyond it;
 * a push from the SPIFFE Workload API, or a certificate obtained over ACME.
 */
export type ReloadTrigger = 'SIGHUP' | 'SIGUSR1' | 'timer' | 'file' | 'poll' | 'api' | 'workload-api' | 'acme';

/** The record of one reload attempt, kept for /_status and metrics. */
export interface ReloadOutcome {
  readonly at: Date;
  readonly trigger: ReloadTrigger;
  /** True when the attempt ended with good credentials in place, new or unchanged. */
  readonly ok: boolean;
  /** True when new credentials (or a new TLS context) were swapped in; false when the files were unchanged or broken. */
  readonly changed: boolean;
  /** With --config: true when the configuration file's changes were applied. */
  readonly configChanged?: boolean;
  readonly error?: string;
  /** The active certificate after the attempt (the old one when it failed or nothing changed). */
  readonly subject?: string;
  readonly serial?: string;
  readonly notAfter?: Date;
}

export interface ReloaderOptions {
  /** How long a file-triggered reload retries a candidate that does not load yet. */
  readonly settleMs?: number;
  /** --config: the configuration file, read and checked before the credentials at every attempt. */
  readonly configuration?: ConfigurationStep;
  /**
   * Hands a validated candidate to the other event loops (--workers) before it is published, so
   * that once the reload is reported every loop serves it. A rejection fails the attempt.
   */
  readonly replicate?: (candidate: Credentials, settings: CredentialSettings | undefined) => Promise<void>;
  /**
   * Reads the access policies (OPA) again, whatever became of the credentials, as Ghostunnel does
   * after them; resolves once new connections are decided by what it read. A broken policy is
   * logged and the previous one stays: it never rejects. The outcome is published after it.
   */
  readonly reloadPolicies?: () => Promise<void>;
}

/**
 * The configuration file's share of a reload attempt. All or nothing: a file that does not
 * validate, or credentials that do not load under it, leave the previous configuration in place.
 */
export interface ConfigurationStep {
  /** Reads and checks the configuration; throws, naming the file and line, when it cannot be used. Applies nothing. */
  prepare(): Promise<PreparedConfiguration>;
}

export interface PreparedConfiguration {
  /** The credential files and TLS settings the candidate names. */
  readonly credentials: CredentialSettings;
  /** Build a new TLS context even if the files are unchanged: access rules or TLS parameters changed, and fresh session-ticket keys keep old sessions from resuming past them. */
  readonly renewContext: boolean;
  /** Something in the configuration changed. */
  readonly changed: boolean;
  /** Makes the candidate current, once the credentials are in place; resolves once every event loop has it. */
  apply(): Promise<void>;
  /** Drops what prepare() built, when the attempt failed after it. */
  discard(): void;
}

const TRIGGER_LOG: Record<ReloadTrigger, string> = {
  SIGHUP: 'received hangup, reloading TLS configuration',
  SIGUSR1: 'received user defined signal 1, reloading TLS configuration',
  timer: 'timed reload, reloading TLS configuration',
  file: 'credential files changed, reloading TLS configuration',
  poll: 'credential files changed (seen by polling), reloading TLS configuration',
  api: 'reload requested on the status port, reloading TLS configuration',
  'workload-api': 'received an update from the SPIFFE Workload API, reloading TLS configuration',
  acme: 'obtained a certificate over ACME, reloading TLS configuration',
};

/**
 * Triggers that fire while a rotator may still be writing (a certificate written before its key):
 * a candidate that does not load is retried for a while before the attempt counts as failed.
 */
const SETTLING: ReadonlySet<ReloadTrigger> = new Set(['file', 'poll']);
export const ROTATION_SETTLE_MS = 5000;
const RETRY_MS = 100;

export function subjectLine(subject: string): string {
  return subject.split('\n').join(',');
}

interface Waiter {
  readonly ticket: number;
  readonly trigger: ReloadTrigger;
  readonly resolve: (outcome: ReloadOutcome) => void;
}

/**
 * The single reload path: every trigger (signals, timer, file events, polling, POST /_reload)
 * calls reload(). Attempts run one at a time; a trigger that arrives while one runs is answered by
 * the next attempt that reads the files after it arrived, so a burst of triggers costs at most two
 * attempts. An attempt rotates only when the files' content changed, and only to a candidate that
 * passed validation; otherwise the current credentials stay.
 */
export class Reloader {
  #last: ReloadOutcome | undefined;
  #lastSuccess: ReloadOutcome | undefined;
  #requested = 0;
  #waiters: Waiter[] = [];
  #running = false;
  readonly #observers: Array<(outcome: ReloadOutcome) => void> = [];

  readonly #store: CredentialStore;
  readonly #log: Log;
  readonly #settleMs: number;
  readonly #configuration: ConfigurationStep | undefined;
  readonly #replicate: ReloaderOptions['replicate'];
  readonly #reloadPolicies: ReloaderOptions['reloadPolicies'];

  constructor(store: CredentialStore, log: Log, options: ReloaderOptions = {}) {
    this.#store = store;
    this.#log = log;
    this.#settleMs = options.settleMs ?? ROTATION_SETTLE_MS;
    this.#configuration = options.configuration;
    this.#replicate = options.replicate;
    this.#reloadPolicies = options.reloadPolicies;
  }

  get last(): ReloadOutcome | undefined {
    return this.#last;
  }

  /** The last attempt that ended with good credentials in place (rotated or unchanged). */
  get lastSuccess(): ReloadOutcome | undefined {
    return this.#lastSuccess;
  }

  /** True while an attempt runs (including retries of a rotation in progress). */
  get busy(): boolean {
    return this.#running;
  }

  /** Calls `observer` with the outcome of every attempt (metrics count them). */
  onOutcome(observer: (outcome: ReloadOutcome) => void): void {
    this.#observers.push(observer);
  }

  reload(trigger: ReloadTrigger): Promise<ReloadOutcome> {
    const ticket = ++this.#requested;
    const outcome = new Promise<ReloadOutcome>((resolve) => this.#waiters.push({ ticket, trigger, resolve }));
    void this.#run();
    return outcome;
  }

  async #run(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    try {
      while (this.#waiters.length > 0) {
        const { outcome, covers } = await this.#attempt(this.#waiters[0]!.trigger);
        this.#last = outcome;
        if (outcome.ok) this.#lastSuccess = outcome;
        for (const observe of this.#observers) observe(outcome);
        const answered = this.#waiters.filter((w) => w.ticket <= covers);
        this.#waiters = this.#waiters.filter((w) => w.ticket > covers);
        for (const w of answered) w.resolve(outcome);
      }
    } finally {
      this.#running = false;
    }
  }

  /** One attempt; `covers` is the last trigger whose request it answers (it read the files after). */
  async #attempt(trigger: ReloadTrigger): Promise<{ outcome: ReloadOutcome; covers: number }> {
    this.#log.info(TRIGGER_LOG[trigger], { trigger });
    const at = new Date();
    const deadline = SETTLING.has(trigger) ? Date.now() + this.#settleMs : 0;
    let waitLogged = false;
    for (;;) {
      const covers = this.#requested;
      let prepared: PreparedConfiguration | undefined;
      // What failed, for the log: the configuration file, or the credentials.
      let what = this.#configuration === undefined ? 'credentials' : 'configuration';
      try {
        prepared = await this.#configuration?.prepare();
        what = 'credentials';
        const changed = await this.#swapCredentials(trigger, prepared);
        await prepared?.apply();
        await this.#reloadPolicies?.();
        return { outcome: this.#finish(at, trigger, true, changed, undefined, prepared?.changed), covers };
      } catch (err) {
        prepared?.discard();
        const message = (err as Error).message;
        if (Date.now() + RETRY_MS < deadline) {
          if (!waitLogged) {
            const waiting = what === 'credentials' ? 'new credentials do not load yet' : 'the new configuration does not load yet';
            this.#log.warn(`${waiting}, retrying for up to ${this.#settleMs / 1000}s while the current ${what === 'credentials' ? 'certificate' : 'one'} keeps serving: ${message}`, { trigger });
            waitLogged = true;
          }
          await sleep(RETRY_MS);
          continue;
        }
        if (what === 'configuration') this.#log.error(`error reloading configuration: ${message} (the previous configuration and credentials stay in use)`, { trigger });
        else this.#log.error(`error reloading TLS configuration: ${message}`, { trigger });
        await this.#reloadPolicies?.();
        return { outcome: this.#finish(at, trigger, false, false, message), covers };
      }
    }
  }

  /** Reads the credentials (under the prepared configuration, if any); swaps in a validated candidate when they changed. */
  async #swapCredentials(trigger: ReloadTrigger, prepared: PreparedConfiguration | undefined): Promise<boolean> {
    const settings = prepared?.credentials;
    const material = this.#store.read(settings);
    const filesChanged = material.digest !== this.#store.current.digest;
    if (!filesChanged && prepared?.renewContext !== true) {
      this.#log.info('credentials unchanged, nothing to reload', { trigger });
      return false;
    }
    const candidate = this.#store.build(material, settings);
    await validateCandidate(candidate, this.#store.label);
    await this.#replicate?.(candidate, settings);
    this.#store.publish(candidate, settings);
    if (!filesChanged) {
      this.#log.info('credentials unchanged; new TLS context for the changed configuration (sessions from before cannot resume)', { trigger });
      return true;
    }
    for (const warning of candidate.warnings) this.#log.warn(`warning: ${warning}`);
    const leaf = candidate.identity?.leaf;
    if (leaf) this.#log.info(`loaded certificate: ${subjectLine(leaf.subject)}`, { serial: leaf.serialNumber, not_after: leaf.validToDate.toISOString() });
    return true;
  }

  #finish(at: Date, trigger: ReloadTrigger, ok: boolean, changed: boolean, error?: string, configChanged?: boolean): ReloadOutcome {
    this.#log.info('reloading configuration complete', { trigger, ok, changed, ...(configChanged === undefined ? {} : { config_changed: configChanged }) });
    const leaf = this.#store.current.identity?.leaf;
    return { at, trigger, ok, changed, ...(configChanged === undefined ? {} : { configChanged }), error, subject: leaf?.subject, serial: leaf?.serialNumber, notAfter: leaf?.validToDate };
  }
}
