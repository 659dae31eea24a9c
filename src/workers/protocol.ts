// What the main thread and the tunnel workers (--workers) say to each other. Everything here is
// plain data: it crosses threads by structured clone.
import type { ParsedArgs } from '../cli/parse.ts';
import type { DataPlaneKind, TlsSettings } from '../config/types.ts';
import type { Credentials } from '../credentials/store.ts';
import type { Reauthorized } from '../runtime/reauthorize.ts';
import type { LoopUnits } from '../runtime/units-of-work.ts';

/** What a worker builds its TLS context from: the main thread's validated candidate, never the files again. */
export interface ContextMaterial {
  readonly chainPem: string | undefined;
  readonly keyPem: string | undefined;
  readonly caPems: readonly string[];
  /** Session-ticket keys shared by every loop, so that a ticket from one loop resumes on another. */
  readonly ticketKeys: Buffer;
  readonly tls: TlsSettings;
}

/** The listening socket a worker accepts on: its own duplicate of the main thread's descriptor. */
export interface WorkerSocket {
  readonly fd: number;
  readonly address: string;
  readonly name: string;
}

/** workerData. */
export interface WorkerInit {
  /** 1, 2, …: the main thread is loop 0. */
  readonly index: number;
  readonly args: ParsedArgs;
  /** The main thread's data plane, which this loop runs too. */
  readonly plane: DataPlaneKind;
  readonly material: ContextMaterial;
  readonly socket: WorkerSocket;
}

/** Requests answered with an Ack carrying the same id, in the order they were sent. */
export type Request =
  | { readonly kind: 'credentials'; readonly id: number; readonly material: ContextMaterial }
  | { readonly kind: 'generation'; readonly id: number; readonly args: ParsedArgs }
  /** --reauthorize-open-connections, against the generation in force; answered with `reauthorized`. */
  | { readonly kind: 'reauthorize'; readonly id: number }
  /** Its units of work (/debug/pprof/goroutine); answered with `units`. */
  | { readonly kind: 'units'; readonly id: number };

export type ToWorker =
  | Request
  | { readonly kind: 'pause' }
  | { readonly kind: 'resume' }
  | { readonly kind: 'verdict'; readonly id: number; readonly allowed: boolean; readonly error?: string }
  /** Stop accepting and report 'drained' once the last connection closed; `handedOver`: a successor accepts on the same socket. */
  | { readonly kind: 'drain'; readonly handedOver: boolean };

export type FromWorker =
  | { readonly kind: 'ready' }
  | { readonly kind: 'ack'; readonly id: number; readonly error?: string; readonly reauthorized?: Reauthorized; readonly units?: LoopUnits }
  | { readonly kind: 'events'; readonly batch: readonly number[] }
  /** The OPA policy lives on the main thread (one policy, one reload): a worker asks it about a peer certificate. */
  | { readonly kind: 'authorize'; readonly id: number; readonly der: Uint8Array }
  /** It stopped accepting (after a drain request). */
  | { readonly kind: 'closed' }
  | { readonly kind: 'drained' };

export function contextMaterial(credentials: Credentials, tls: TlsSettings): ContextMaterial {
  const key = credentials.identity?.key;
  if (key !== undefined && key.kind !== 'pem') throw new Error('internal: --workers needs the private key in memory (PKCS#11 keys stay on the main thread)');
  return { chainPem: credentials.identity?.chainPem, keyPem: key?.pem, caPems: credentials.trust.pems, ticketKeys: credentials.ticketKeys, tls };
}
