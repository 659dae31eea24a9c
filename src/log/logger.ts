import type { QuietCategory } from '../config/types.ts';
import { BatchedLines } from './batched-lines.ts';
import { isoTime } from './iso-time.ts';

/**
 * The daemon's log: JSON lines on stdout, as pino wrote them (`{"level":"info","time":…,"pid":…,
 * fields…,"msg":…}`). Connection events go through their own methods so that --quiet can silence
 * each category without the callers knowing about it.
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

/** Where the lines go: stdout in batches, syslog, stderr (`ghostunnel check`) or a test's array. */
export interface LogDestination {
  write(line: string): void;
  /** Hands what is waiting to the destination now. */
  flush?: () => void;
  /** Writes everything out before the process exits. */
  flushSync?: () => void;
}

type Level = 'info' | 'warn' | 'error';

/** `,"key":value` for each field, as pino wrote them: undefined and functions left out. */
function fieldsJson(fields: object | undefined): string {
  let text = '';
  for (const key in fields) {
    if (!Object.hasOwn(fields, key)) continue;
    const value: unknown = (fields as Record<string, unknown>)[key];
    const json = typeof value === 'bigint' ? String(value) : JSON.stringify(value);
    if (json !== undefined) text += `,${JSON.stringify(key)}:${json}`;
  }
  return text;
}

export function createLog(quiet: ReadonlySet<QuietCategory> = new Set(), destination: LogDestination = new BatchedLines(1)): QuietableLog {
  const pid = `,"pid":${process.pid}`;
  let silent = false;
  const line = (level: Level, msg: string, fields: object | undefined): void => {
    if (!silent) destination.write(`{"level":"${level}"${isoTime()}${pid}${fieldsJson(fields)},"msg":${JSON.stringify(msg)}}\n`);
  };
  const noop = (): void => {};
  // Lines other than the per-connection ones are rare, and someone may be waiting for them.
  const now = (): void => destination.flush?.();
  const conn: Log['conn'] = (msg, fields) => line('info', msg, fields);
  const connError: Log['connError'] = (msg, fields) => line('warn', msg, fields);
  const handshakeError: Log['handshakeError'] = (msg, fields) => line('warn', msg, fields);
  const log: QuietableLog = {
    info: (msg, fields) => {
      line('info', msg, fields);
      now();
    },
    warn: (msg, fields) => {
      line('warn', msg, fields);
      now();
    },
    error: (msg, fields) => {
      line('error', msg, fields);
      now();
    },
    conn,
    connError,
    handshakeError,
    // A silenced category is a no-op function, not a check per call: the connection path stays as cheap.
    setQuiet: (next) => {
      const all = next.has('all');
      const on = (category: QuietCategory): boolean => !all && !next.has(category);
      silent = all;
      log.conn = on('conns') ? conn : noop;
      log.connError = on('conn-errs') ? connError : noop;
      log.handshakeError = on('handshake-errs') ? handshakeError : noop;
    },
    flush: () => {
      try {
        destination.flushSync?.();
      } catch {
        // Nothing buffered, or stdout already gone: there is nowhere left to report to.
      }
    },
  };
  log.setQuiet(quiet);
  return log;
}
