// The data plane in C++ (native/, built at install into build/Release/ghostunnel_engine.node),
// declared for TypeScript. It accepts, runs TLS, dials and moves bytes; everything it does is on an
// instruction from here, and it reports each connection's phases through EngineCallbacks.
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { StartupError } from '../cli/errors.ts';
import { PACKAGE_ROOT } from '../package-root.ts';
import type { EndKind, Engine, Verdict } from './engine.ts';

/** What a native TLS context is built from (native/context.cc). */
export interface ContextDescription {
  readonly server: boolean;
  /** PEM: the leaf first, then its chain. */
  readonly chain?: string;
  /** PEM private key; or `engine` and `keyUri` for a key that stays on a PKCS#11 token. */
  readonly key?: string;
  readonly engine?: string;
  readonly keyUri?: string;
  /** PEM CA certificates that peers are verified against. */
  readonly cas: readonly string[];
  /** Name them in the CertificateRequest (server). */
  readonly caNames: boolean;
  /** Server: ask for a client certificate and refuse a client without one. */
  readonly requireCertificate?: boolean;
  /** 0x0303 TLS 1.2, 0x0304 TLS 1.3. */
  readonly minVersion: number;
  readonly maxVersion: number;
  /** OpenSSL cipher list for TLS 1.2 and below; TLS 1.3 suites; key exchange groups. */
  readonly ciphers: string;
  readonly suites: string;
  readonly groups: string;
  readonly sessionIdContext?: string;
  /** 80 bytes: ticket name, HMAC and AES keys, shared by every event loop of the process. */
  readonly ticketKeys?: Buffer;
  /** Session tickets per full handshake to a client that can resume (default 1, as Go); 0: none. */
  readonly tickets?: number;
  /** Server: ALPN protocols to select (acme-tls/1 for challenge contexts). */
  readonly alpn?: readonly string[];
}

/** An OpenSSL context inside the addon; a connection keeps the one it started with. */
export interface NativeContext {
  readonly nativeContext: never;
}

/** Listener modes: TLS on the accepted side (server), or plain (client). */
export const ListenMode = { server: 0, client: 1 } as const;

export interface EngineCallbacks {
  /** A connection was accepted; returns --connect-timeout in ms (0: none). */
  accept(id: number, listener: number, remote: string, remotePort: number, local: string, localPort: number): number;
  /** During the handshake: the peer's leaf (DER) and OpenSSL's verdict on its chain; the verdict now, or undefined for verdict() later. */
  verify(id: number, verifyCode: string | null, verifyText: string | null, peerDer: Buffer, resumed: boolean): Verdict | undefined;
  /** The TLS handshake finished. */
  handshake(id: number, version: string, serverName: string | null, alpn: string | null, resumed: boolean, challenge: boolean): void;
  /** Bytes started to flow. */
  piping(id: number): void;
  /** The connection is gone; byte counts are plaintext, forwarded = accepted → dialed. */
  end(id: number, kind: EndKind, message: string | null, forwarded: number, returned: number, timedOut: boolean): void;
  /** accept() failed (EMFILE and the like): stop accepting for a while. */
  acceptError(listener: number, code: string, message: string): void;
  /** A TLS-ALPN-01 validation for `serverName`: the challenge context, or null when none is pending. */
  challenge?(id: number, serverName: string): NativeContext | null;
}

/** The addon's engine: the Engine's instructions, but a proxied socket passes as a descriptor. */
export interface NativeEngine extends Omit<Engine, 'connectTls'> {
  /** Client mode: dial the target (or take a duplicate of `adoptedFd`, connected through a proxy) and run the TLS handshake. */
  connectTls(id: number, hosts: readonly string[], port: number, adoptedFd: number, context: NativeContext, serverName: string, noFin: boolean): boolean;
  /** Accepts on `fd`, which the engine owns from now on; returns the listener id. */
  listen(fd: number, mode: (typeof ListenMode)[keyof typeof ListenMode]): number;
  /** Stops accepting and closes the listener's descriptor (queued connections stay in the backlog). */
  unlisten(listener: number): void;
}

/**
 * System calls served by the addon (native/syscalls.cc) for src/sys/linux.ts: each returns what the
 * call returns, -1 on failure with the reason in errno().
 */
export interface AddonSyscalls {
  fcntl(fd: number, cmd: number, arg: number): number;
  close(fd: number): number;
  socket(domain: number, type: number, protocol: number): number;
  bind(fd: number, addr: Buffer): number;
  listen(fd: number, backlog: number): number;
  setsockopt(fd: number, level: number, name: number, value: Buffer): number;
  connect(fd: number, addr: Buffer): number;
  send(fd: number, data: Buffer, flags: number): number;
  /** The address's length, or -1. */
  getsockname(fd: number, addr: Buffer): number;
  /** 0 when there is no interface of that name. */
  ifNameToIndex(name: string): number;
  errno(): number;
}

interface Addon {
  createEngine(callbacks: EngineCallbacks): NativeEngine;
  createContext(description: ContextDescription): NativeContext;
  /** Absent from an addon built before it had them. */
  syscalls?: AddonSyscalls;
}

const ADDON = join(PACKAGE_ROOT, 'build', 'Release', 'ghostunnel_engine.node');

let addon: Addon | undefined;

/** Loads the addon (once); throws the loader's reason, first line only. */
export function loadAddon(): void {
  if (addon !== undefined) return;
  try {
    addon = createRequire(import.meta.url)(ADDON) as Addon;
  } catch (err) {
    throw new Error(`${ADDON}: ${(err as Error).message.split('\n')[0]}`);
  }
}

function load(): Addon {
  try {
    loadAddon();
  } catch (err) {
    throw new StartupError(`the native data plane is not built (${(err as Error).message}); build it with \`npm run build:native\` (or \`npm ci\`), which needs python3, make and a C++ compiler, or use --data-plane node`);
  }
  return addon!;
}

/** Whether the addon is loaded already (the native plane serves): nothing else loads it. */
export function addonLoaded(): boolean {
  return addon !== undefined;
}

/**
 * The addon's system calls if the addon is loaded already (the native plane serves), else
 * undefined: src/sys/linux.ts never loads it for them, so --data-plane node maps no engine.
 */
export function loadedAddonSyscalls(): AddonSyscalls | undefined {
  return addon?.syscalls;
}

export function createEngine(callbacks: EngineCallbacks): NativeEngine {
  return load().createEngine(callbacks);
}

/** Throws with OpenSSL's reason when the description does not make a usable context. */
export function createNativeContext(description: ContextDescription): NativeContext {
  return load().createContext(description);
}
