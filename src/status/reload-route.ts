import type { ReloadOutcome, ReloadTrigger } from '../reload/reloader.ts';
import { formatGoTime } from './go-time.ts';
import { sendJson, type Route } from './router.ts';

/** The body of a POST /_reload answer. */
export interface ReloadAnswer {
  readonly ok: boolean;
  /** False when the files were unchanged (nothing rotated) or the reload failed. */
  readonly changed: boolean;
  /** With --config: whether the configuration file's changes were applied. */
  readonly config_changed?: boolean;
  readonly error?: string;
  /** The certificate serving after the attempt: the new one, or the old one kept. */
  readonly serial?: string;
  readonly not_after?: string;
}

export function reloadAnswer(outcome: ReloadOutcome): ReloadAnswer {
  return {
    ok: outcome.ok,
    changed: outcome.changed,
    ...(outcome.configChanged === undefined ? {} : { config_changed: outcome.configChanged }),
    ...(outcome.error === undefined ? {} : { error: outcome.error }),
    ...(outcome.serial === undefined ? {} : { serial: outcome.serial }),
    ...(outcome.notAfter === undefined ? {} : { not_after: formatGoTime(outcome.notAfter, 'utc') }),
  };
}

/**
 * --enable-reload: POST /_reload runs the same reload as SIGHUP and answers once it is done, with
 * its outcome (like Caddy's admin API): 200 when good credentials are in place, 500 when the new
 * ones were refused (the old ones keep serving), 503 while shutting down. Other methods: 405.
 */
export function reloadRoute(reload: (trigger: ReloadTrigger) => Promise<ReloadOutcome | undefined>): Route {
  return {
    path: '/_reload',
    methods: ['POST'],
    handle: async (_req, res) => {
      const outcome = await reload('api');
      if (outcome === undefined) return sendJson(res, 503, { ok: false, changed: false, error: 'shutting down: reload ignored' });
      sendJson(res, outcome.ok ? 200 : 500, reloadAnswer(outcome));
    },
  };
}
