// --syslog: the log lines go to the local syslog daemon as RFC 3164 datagrams, the way Go's
// log/syslog writes locally: "<PRI>Mmm dd hh:mm:ss TAG[PID]: MESSAGE", facility daemon.
import { syslogUnavailable } from '../config/platform-support.ts';
import { system as thisSystem, type DatagramSocket, type System } from '../sys/platform.ts';

const FACILITY_DAEMON = 3;
const SEVERITY: Record<string, number> = { fatal: 2, error: 3, warn: 4, info: 6, debug: 7, trace: 7 };
const MAX_BACKLOG = 10_000;
const RETRY_MS = 10;
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** time.Stamp, "Jan _2 15:04:05", in local time. */
function stamp(d: Date): string {
  const two = (n: number): string => String(n).padStart(2, '0');
  return `${MONTHS[d.getMonth()]} ${String(d.getDate()).padStart(2, ' ')} ${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}

/**
 * A log destination writing each JSON log line as one syslog datagram: the message text with
 * the severity of its level. Throws at creation if no local syslog socket accepts a connection
 * (Ghostunnel exits with "unable to set up logger: …" then), or the platform has no UNIX datagrams.
 */
export class SyslogDestination {
  readonly #tag: string;
  readonly #open: (path: string) => DatagramSocket;
  readonly #paths: readonly string[];
  #socket: DatagramSocket;
  /** Lines the syslog daemon had no room for yet (its queue is short: net.unix.max_dgram_qlen). */
  readonly #backlog: Buffer[] = [];
  #retry: NodeJS.Timeout | undefined;
  #dropped = 0;

  constructor(tag = 'ghostunnel', system: System = thisSystem) {
    if (system.datagrams === undefined) throw new Error(syslogUnavailable(system));
    this.#tag = tag;
    this.#open = system.datagrams;
    this.#paths = system.syslogPaths;
    this.#socket = this.#connect();
  }

  #connect(): DatagramSocket {
    const errors: string[] = [];
    for (const path of this.#paths) {
      try {
        return this.#open(path);
      } catch (err) {
        errors.push((err as Error).message);
      }
    }
    throw new Error(`Unix syslog delivery error (${errors.join('; ')})`);
  }

  write(line: string): void {
    let level = 'info';
    let msg = line.trimEnd();
    try {
      const parsed = JSON.parse(msg) as { level?: string; msg?: string };
      level = parsed.level ?? level;
      msg = parsed.msg ?? msg;
    } catch {
      // Not one of our JSON lines: sent as it is.
    }
    const pri = FACILITY_DAEMON * 8 + (SEVERITY[level] ?? 6);
    this.#backlog.push(Buffer.from(`<${pri}>${stamp(new Date())} ${this.#tag}[${process.pid}]: ${msg}\n`));
    if (this.#backlog.length > MAX_BACKLOG) {
      this.#backlog.shift();
      this.#dropped++;
    }
    if (this.#retry === undefined) this.#flush();
  }

  /** Sends what is queued, in order; if the daemon is full, tries again shortly, never blocking. */
  #flush(): void {
    this.#retry = undefined;
    if (this.#dropped > 0) {
      const note = Buffer.from(`<${FACILITY_DAEMON * 8 + 4}>${stamp(new Date())} ${this.#tag}[${process.pid}]: ${this.#dropped} log lines dropped: syslog was not keeping up\n`);
      this.#backlog.unshift(note);
      this.#dropped = 0;
    }
    while (this.#backlog.length > 0) {
      if (!this.#send(this.#backlog[0]!)) {
        this.#retry = setTimeout(() => this.#flush(), RETRY_MS);
        this.#retry.unref();
        return;
      }
      this.#backlog.shift();
    }
  }

  /** False when the daemon's queue is full; a line that cannot be sent at all is dropped. */
  #send(datagram: Buffer): boolean {
    try {
      return this.#socket.send(datagram);
    } catch {
      // The syslog daemon restarted: reconnect once, and drop the line if it is still away.
      try {
        this.#socket.close();
        this.#socket = this.#connect();
        return this.#socket.send(datagram);
      } catch {
        return true;
      }
    }
  }

  /** Called by the log's flush before exit: waits up to ~100 ms for the daemon to take the rest. */
  flushSync(): void {
    const pause = new Int32Array(new SharedArrayBuffer(4));
    for (let i = 0; i < 20; i++) {
      clearTimeout(this.#retry);
      this.#flush();
      if (this.#backlog.length === 0) return;
      Atomics.wait(pause, 0, 0, 5);
    }
  }
}
