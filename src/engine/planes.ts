// Which data plane serves (--data-plane, docs/data-plane.md), and starting it on a thread. The
// native engine's addon is loaded only when it may serve: never with --data-plane node, never off
// Linux.
import { StartupError } from '../cli/errors.ts';
import type { DataPlaneKind } from '../config/types.ts';
import type { Acceptor } from '../net/listener.ts';
import { system } from '../sys/platform.ts';
import type { ConnectionHandler } from './engine.ts';
import { loadAddon } from './native.ts';
import { NativePlane } from './native-plane.ts';
import { NodePlane } from './node-plane.ts';

/** A thread's data plane as its listeners see it. */
export interface ServingPlane {
  /** Accepting for a Listener: TLS connections (server mode) or plain ones (client mode). */
  acceptor(mode: 'server' | 'client'): Acceptor;
}

export interface PlaneChoice {
  readonly kind: DataPlaneKind;
  /** The start-up line's explanation: what serves, and why this one. */
  readonly why: string;
}

const NATIVE = 'the C++ engine on Node.js OpenSSL';
const NODE = 'Node.js tls and net';

/** Why the native engine cannot serve here and what to do about it, or undefined when its addon loads. */
function nativeUnavailable(): { readonly why: string; readonly fix: string } | undefined {
  if (system.descriptors === undefined) return { why: `it runs on Linux only (this is ${system.name})`, fix: 'use --data-plane node' };
  try {
    loadAddon();
    return undefined;
  } catch (err) {
    return { why: `its addon did not load (${(err as Error).message})`, fix: 'build it with `npm run build:native` (needs python3, make and a C++ compiler), or use --data-plane node' };
  }
}

/**
 * The plane asked for, or the default: native where the engine loads, node elsewhere. Asking for
 * native where it cannot load is a start-up error that says why and what to do.
 */
export function chooseDataPlane(requested: DataPlaneKind | undefined): PlaneChoice {
  if (requested === 'node') return { kind: 'node', why: `${NODE}, as --data-plane asks` };
  const unavailable = nativeUnavailable();
  if (requested === 'native') {
    if (unavailable !== undefined) throw new StartupError(`--data-plane native: the native data plane cannot be used here: ${unavailable.why}; ${unavailable.fix}`);
    return { kind: 'native', why: `${NATIVE}, as --data-plane asks` };
  }
  if (unavailable === undefined) return { kind: 'native', why: NATIVE };
  return { kind: 'node', why: `${NODE}; the native engine cannot be used here: ${unavailable.why}` };
}

/** The data plane of this thread, attached to its tunnel. */
export function startDataPlane(kind: DataPlaneKind, handler: ConnectionHandler): ServingPlane {
  return kind === 'native' ? new NativePlane(handler) : new NodePlane(handler);
}
