import type { AccessPolicy } from '../auth/access-policy.ts';
import type { Config, ProxyProtocolMode, Timeouts } from '../config/types.ts';
import { describeAddress, isIpLiteral, type Address } from '../net/address.ts';
import type { Endpoint } from '../net/tcp-connect.ts';
import type { PlaneContext } from '../engine/engine.ts';
import { proxyDialer, type ProxyDialer } from '../net/target-dialer.ts';
import type { ServerVerification } from './client-tunnel.ts';

/**
 * One atomic reference, like CredentialStore.current: a connection reads `current` once, when it
 * is accepted, and keeps what it read; a configuration reload replaces it in one assignment.
 */
export interface RuntimeCell<T> {
  readonly current: T;
}

/** The data plane's TLS context a new connection takes: the CredentialStore on the main thread, a copy in each worker. */
export type PlaneContextCell = RuntimeCell<{ readonly planeContext: PlaneContext }>;

/** What a server-mode connection takes from the configuration: everything a reload may change. */
export interface ServerRuntime {
  readonly target: Address;
  /** The target as the log lines name it. */
  readonly targetText: string;
  /** The access rules (flags, pins, OPA, SVID) combined; undefined with --disable-authentication. */
  readonly policy: AccessPolicy | undefined;
  /** Verify its chain against the trust anchors; not with --allow-spki-pin, where only the leaf's key counts. */
  readonly verifyChain: boolean;
  readonly timeouts: Timeouts;
  readonly proxyProtocol: ProxyProtocolMode | undefined;
}

/** What a client-mode connection takes from the configuration. */
export interface ClientRuntime {
  readonly endpoint: Endpoint;
  readonly targetText: string;
  /** Sent as SNI: the server name, unless it is an IP address. */
  readonly sni: string | undefined;
  readonly verification: ServerVerification;
  /** --proxy: the data plane takes over the socket connected through it; undefined: it dials the target. */
  readonly proxy: ProxyDialer | undefined;
  readonly timeouts: Timeouts;
}

export function serverRuntime(config: Config, policy: AccessPolicy | undefined): ServerRuntime {
  return {
    target: config.target,
    targetText: describeAddress(config.target),
    policy,
    verifyChain: policy !== undefined && config.clientAuth.kind !== 'pins',
    timeouts: config.timeouts,
    proxyProtocol: config.proxyProtocol,
  };
}

export function clientRuntime(config: Config, policy: AccessPolicy | undefined): ClientRuntime {
  const { target, client } = config;
  if (target.kind !== 'tcp' || client === undefined) throw new Error(`internal: client mode needs a TCP target, got ${target.text}`);
  return {
    endpoint: { host: target.host, port: target.port },
    targetText: describeAddress(target),
    sni: isIpLiteral(client.serverName) ? undefined : client.serverName,
    // chainAndName is false only for pin-only checking (--verify-spki-pin), spec §2.6.
    // With the Workload API the SVID is verified, not the name (spec §2.6).
    verification: { serverName: client.serverName, chainAndName: client.pins === undefined, skipName: config.workloadApi !== undefined, policy },
    proxy: client.proxy === undefined ? undefined : proxyDialer(client.proxy),
    timeouts: config.timeouts,
  };
}
