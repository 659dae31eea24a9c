// systemd's readiness protocol (sd_notify(3)): newline-separated KEY=VALUE datagrams to the
// NOTIFY_SOCKET (a path, or an abstract name starting with "@"), and the watchdog ping.
import type { Log } from '../log/logger.ts';
import { system as thisSystem, unavailable, type DatagramSocket, type System } from '../sys/platform.ts';

/** CLOCK_MONOTONIC in microseconds, which RELOADING=1 carries (process.hrtime is that clock). */
function monotonicUsec(): bigint {
  return process.hrtime.bigint() / 1000n;
}

/**
 * Tells the service manager about the daemon's state. Without NOTIFY_SOCKET every call does
 * nothing. A failed send is logged once and never stops the daemon: the tunnel matters more. Where
 * the platform has no UNIX datagrams, a NOTIFY_SOCKET is reported once and ignored: it comes from
 * the environment, not from a flag, and no service manager there waits for it.
 */
export class ServiceNotifier {
  /** NOTIFY_SOCKET, and how to open it. */
  readonly #target: { readonly path: string; readonly open: (path: string) => DatagramSocket } | undefined;
  readonly #log: Log;
  readonly #watchdogMs: number;
  #socket: DatagramSocket | undefined;
  #watchdog: NodeJS.Timeout | undefined;
  #warned = false;

  constructor(log: Log, env: NodeJS.ProcessEnv = process.env, system: System = thisSystem) {
    this.#log = log;
    const path = env.NOTIFY_SOCKET || undefined;
    const open = system.datagrams;
    if (path !== undefined && open === undefined) log.warn(`warning: ignoring NOTIFY_SOCKET: ${unavailable('sd_notify', system, 'readiness is /_status answering 200')}`);
    this.#target = path === undefined || open === undefined ? undefined : { path, open };
    const usec = Number(env.WATCHDOG_USEC ?? '0');
    const forUs = env.WATCHDOG_PID === undefined || Number(env.WATCHDOG_PID) === process.pid;
    this.#watchdogMs = Number.isFinite(usec) && usec > 0 && forUs ? usec / 2000 : 0;
  }

  get enabled(): boolean {
    return this.#target !== undefined;
  }

  /** Sends one message: the lines, newline-separated. */
  notify(...lines: string[]): void {
    const target = this.#target;
    if (target === undefined) return;
    try {
      this.#socket ??= target.open(target.path);
      this.#socket.send(Buffer.from(lines.join('\n')));
    } catch (err) {
      this.#socket?.close();
      this.#socket = undefined;
      if (!this.#warned) this.#log.warn(`warning: unable to notify systemd at ${target.path}: ${(err as Error).message}`);
      this.#warned = true;
    }
  }

  ready(status: string, mainPid?: number): void {
    this.notify(...(mainPid === undefined ? [] : [`MAINPID=${mainPid}`]), 'READY=1', `STATUS=${status}`);
  }

  reloading(status: string): void {
    this.notify('RELOADING=1', `MONOTONIC_USEC=${monotonicUsec()}`, `STATUS=${status}`);
  }

  stopping(status: string): void {
    this.notify('STOPPING=1', `STATUS=${status}`);
  }

  /** WATCHDOG=1 every half WATCHDOG_USEC, until stopWatchdog(); liveness only, as in Ghostunnel. */
  startWatchdog(): void {
    if (this.#watchdogMs <= 0 || this.#target === undefined || this.#watchdog) return;
    this.notify('WATCHDOG=1');
    this.#watchdog = setInterval(() => this.notify('WATCHDOG=1'), this.#watchdogMs);
    this.#watchdog.unref();
  }

  stopWatchdog(): void {
    clearInterval(this.#watchdog);
    this.#watchdog = undefined;
  }
}
