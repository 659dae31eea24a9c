import { hostname } from 'node:os';
import type { Config, DataPlaneKind } from '../config/types.ts';
import type { Credentials } from '../credentials/store.ts';
import type { Phase } from '../daemon.ts';
import type { ReloadOutcome } from '../reload/reloader.ts';
import { VERSION } from '../version.ts';
import type { BackendCheck } from './backend-check.ts';
import { activeCertificates } from './certificates.ts';
import { formatGoTime } from './go-time.ts';

/** What /_status reads from the running daemon; the Daemon has these members. */
export interface StatusSource {
  readonly config: Config;
  readonly phase: Phase;
  readonly reloader: { readonly last: ReloadOutcome | undefined; readonly lastSuccess: ReloadOutcome | undefined };
  readonly store: { readonly current: Credentials };
  /** The data plane serving the tunnel's connections. */
  readonly plane: DataPlaneKind;
  /** With --config: the file's changes waiting for a restart (empty: none); undefined without --config. */
  readonly restartPending?: readonly string[] | undefined;
}

export interface CertificateReport {
  readonly role: string;
  readonly subject: string;
  readonly serial: string;
  readonly sha256_fingerprint: string;
  readonly not_before: string;
  readonly not_after: string;
}

/**
 * The /_status body: Ghostunnel's fields in Ghostunnel's order (spec §2.12), then ours: the
 * outcome of the last reload and the certificates in use.
 */
export interface StatusReport {
  readonly ok: boolean;
  readonly status: 'ok' | 'critical';
  readonly listen_address: string;
  readonly forward_address: string;
  readonly backend_ok: boolean;
  readonly backend_status: 'ok' | 'critical';
  readonly backend_error?: string;
  readonly time: string;
  /** When the last reload attempt started, whatever its outcome (Ghostunnel's meaning). */
  readonly last_reload: string;
  readonly hostname?: string;
  readonly message: Phase;
  readonly revision: string;
  readonly compiler: string;
  /** false only when the last attempt failed (the previous credentials are still in use). */
  readonly last_reload_ok: boolean;
  readonly last_reload_error?: string;
  readonly last_successful_reload: string;
  /** Which data plane carries the connections: native (the C++ engine) or node (Node.js tls and net). */
  readonly data_plane: DataPlaneKind;
  readonly certificates: readonly CertificateReport[];
  /** With --config: true while the file holds changes only a restart applies (listen, mode, status…). */
  readonly restart_pending?: boolean;
  /** What those changes are, and that a restart applies them. */
  readonly restart_pending_reason?: string;
}

function hostName(): string | undefined {
  try {
    return hostname();
  } catch {
    return undefined;
  }
}

/** Runs the live backend check and reports; `ok` only while serving and with the backend up. */
export async function statusReport(source: StatusSource, check: BackendCheck): Promise<StatusReport> {
  let backendError: string | undefined;
  try {
    await check();
  } catch (err) {
    backendError = (err as Error).message || 'backend check failed';
  }
  const { config, reloader } = source;
  const phase = source.phase;
  const backendOk = backendError === undefined;
  const ok = (phase === 'listening' || phase === 'reloading') && backendOk;
  const last = reloader.last;
  const host = hostName();
  return {
    ok,
    status: ok ? 'ok' : 'critical',
    listen_address: config.listen.text,
    forward_address: config.target.text,
    backend_ok: backendOk,
    backend_status: backendOk ? 'ok' : 'critical',
    ...(backendError === undefined ? {} : { backend_error: backendError }),
    time: formatGoTime(new Date()),
    last_reload: formatGoTime(last?.at),
    ...(host === undefined ? {} : { hostname: host }),
    message: phase,
    revision: `v${VERSION}`,
    compiler: `node${process.versions.node}`,
    last_reload_ok: last?.ok ?? true,
    ...(last?.error === undefined ? {} : { last_reload_error: last.error }),
    last_successful_reload: formatGoTime(reloader.lastSuccess?.at),
    data_plane: source.plane,
    certificates: activeCertificates(config.mode, source.store.current).map((c) => ({
      role: c.role,
      subject: c.subject,
      serial: c.serial,
      sha256_fingerprint: c.sha256,
      not_before: formatGoTime(c.notBefore, 'utc'),
      not_after: formatGoTime(c.notAfter, 'utc'),
    })),
    ...restartFields(source.restartPending),
  };
}

function restartFields(pending: readonly string[] | undefined): Pick<StatusReport, 'restart_pending' | 'restart_pending_reason'> {
  if (pending === undefined) return {};
  if (pending.length === 0) return { restart_pending: false };
  return { restart_pending: true, restart_pending_reason: `the configuration file changes ${pending.join('; ')}: restart to apply` };
}
