import pino, { type Logger as Pino } from 'pino';
import type { QuietCategory } from '../config/types.ts';
import { BatchedLines } from './batched-lines.ts';
import { isoTime } from './iso-time.ts';

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

/** The daemon's own log, whose --quiet categories a configuration reload can change. */
export interface QuietableLog extends Log {
  /** From now on, silences these categories (and no others). */
  setQuiet(quiet: ReadonlySet<QuietCategory>): void;
}

interface Flushable {
  flush?: () => void;
  flushSync?: () => void;
}

export function createLog(quiet: ReadonlySet<QuietCategory> = new Set(), destination: pino.DestinationStream = new BatchedLines(1)): QuietableLog {
  const base: Pino = pino(
    {
      level: 'info',
      base: { pid: process.pid },
      timestamp: isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
  const noop = (): void => {};
  const dest = destination as Flushable;
  // Lines other than the per-connection ones are rare, and someone may be waiting for them.
  const now = (): void => dest.flush?.();
  const conn: Log['conn'] = (msg, fields) => base.info(fields, msg);
  const connError: Log['connError'] = (msg, fields) => base.warn(fields ?? {}, msg);
  const handshakeError: Log['handshakeError'] = (msg, fields) => base.warn(fields ?? {}, msg);
  const log: QuietableLog = {
    info: (msg, fields) => {
      base.info(fields ?? {}, msg);
      now();
    },
    warn: (msg, fields) => {
      base.warn(fields ?? {}, msg);
      now();
    },
    error: (msg, fields) => {
      base.error(fields ?? {}, msg);
      now();
    },
    conn,
    connError,
    handshakeError,
    // A silenced category is a no-op function, not a check per call: the connection path stays as cheap.
    setQuiet: (next) => {
      const all = next.has('all');
      const on = (category: QuietCategory): boolean => !all && !next.has(category);
      base.level = all ? 'silent' : 'info';
      log.conn = on('conns') ? conn : noop;
      log.connError = on('conn-errs') ? connError : noop;
      log.handshakeError = on('handshake-errs') ? handshakeError : noop;
    },
    flush: () => {
      try {
        dest.flushSync?.();
      } catch {
        // Nothing buffered, or stdout already gone: there is nowhere left to report to.
      }
    },
  };
  log.setQuiet(quiet);
  return log;
}
