import type { CredentialStore } from '../credentials/store.ts';
import type { Log } from '../log/logger.ts';

/** What started a reload. */
export type ReloadTrigger = 'SIGHUP' | 'SIGUSR1' | 'timer';

/** The record of one reload attempt, kept for /_status and metrics. */
export interface ReloadOutcome {
  readonly at: Date;
  readonly trigger: ReloadTrigger;
  readonly ok: boolean;
  readonly error?: string;
  /** The active certificate after the attempt (the old one when it failed). */
  readonly subject?: string;
  readonly serial?: string;
  readonly notAfter?: Date;
}

const TRIGGER_LOG: Record<ReloadTrigger, string> = {
  SIGHUP: 'received hangup, reloading TLS configuration',
  SIGUSR1: 'received user defined signal 1, reloading TLS configuration',
  timer: 'timed reload, reloading TLS configuration',
};

export function subjectLine(subject: string): string {
  return subject.split('\n').join(',');
}

/**
 * The single reload path: every trigger (signals, timer, and later file watching and the admin
 * endpoint) calls reload(). A failure leaves the current credentials in place.
 */
export class Reloader {
  #last: ReloadOutcome | undefined;
  #lastSuccess: ReloadOutcome | undefined;

  readonly #store: CredentialStore;
  readonly #log: Log;

  constructor(store: CredentialStore, log: Log) {
    this.#store = store;
    this.#log = log;
  }

  get last(): ReloadOutcome | undefined {
    return this.#last;
  }

  get lastSuccess(): ReloadOutcome | undefined {
    return this.#lastSuccess;
  }

  reload(trigger: ReloadTrigger): ReloadOutcome {
    this.#log.info(TRIGGER_LOG[trigger], { trigger });
    const at = new Date();
    let outcome: ReloadOutcome;
    try {
      const creds = this.#store.reload();
      for (const warning of creds.warnings) this.#log.warn(`warning: ${warning}`);
      const leaf = creds.identity?.leaf;
      if (leaf) this.#log.info(`loaded certificate: ${subjectLine(leaf.subject)}`, { serial: leaf.serialNumber, not_after: leaf.validToDate.toISOString() });
      outcome = { at, trigger, ok: true, subject: leaf?.subject, serial: leaf?.serialNumber, notAfter: leaf?.validToDate };
      this.#lastSuccess = outcome;
    } catch (err) {
      const message = (err as Error).message;
      this.#log.error(`error reloading TLS configuration: ${message}`, { trigger });
      const leaf = this.#store.current.identity?.leaf;
      outcome = { at, trigger, ok: false, error: message, subject: leaf?.subject, serial: leaf?.serialNumber, notAfter: leaf?.validToDate };
    }
    this.#log.info('reloading configuration complete', { trigger, ok: outcome.ok });
    this.#last = outcome;
    return outcome;
  }
}
