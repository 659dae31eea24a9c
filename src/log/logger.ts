import pino, { type Logger as Pino } from 'pino';
import type { QuietCategory } from '../config/types.ts';

/**
 * The daemon's log: pino JSON lines on stdout. Connection events go through their own methods so
 * that --quiet can silence each category without the callers knowing about it.
 */
export interface Log {
  info(msg: string, fields?: object): void;
  warn(msg: string, fields?: object): void;
  error(msg: string, fields?: object): void;
  /** "opening pipe" / "closed pipe" lines (quiet category conns). */
  conn(msg: string, fields: object): void;
  /** Accept, dial and copy errors (quiet category conn-errs). */
  connError(msg: string, fields?: object): void;
  /** TLS handshake failures and access denials (quiet category handshake-errs). */
  handshakeError(msg: string, fields?: object): void;
  /** Writes out anything buffered; call before exiting. */
  flush(): void;
}

export function createLog(quiet: ReadonlySet<QuietCategory> = new Set(), destination: pino.DestinationStream = pino.destination({ dest: 1, sync: false, minLength: 0 })): Log {
  const all = quiet.has('all');
  const base: Pino = pino(
    {
      level: all ? 'silent' : 'info',
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
  const on = (category: QuietCategory): boolean => !all && !quiet.has(category);
  const conns = on('conns');
  const connErrs = on('conn-errs');
  const handshakeErrs = on('handshake-errs');
  const noop = (): void => {};
  return {
    info: (msg, fields) => base.info(fields ?? {}, msg),
    warn: (msg, fields) => base.warn(fields ?? {}, msg),
    error: (msg, fields) => base.error(fields ?? {}, msg),
    conn: conns ? (msg, fields) => base.info(fields, msg) : noop,
    connError: connErrs ? (msg, fields) => base.warn(fields ?? {}, msg) : noop,
    handshakeError: handshakeErrs ? (msg, fields) => base.warn(fields ?? {}, msg) : noop,
    flush: () => {
      const dest = destination as { flushSync?: () => void };
      try {
        dest.flushSync?.();
      } catch {
        // Nothing buffered, or stdout already gone: there is nowhere left to report to.
      }
    },
  };
}
