import type { TlsAlpnChallenges } from '../credentials/acme/tls-alpn-challenges.ts';
import type { ConnectionHandler } from '../engine/engine.ts';
import type { ConnectionCensus } from '../tunnel/connection-table.ts';
import type { Log } from '../log/logger.ts';
import { ClientTunnel } from '../tunnel/client-tunnel.ts';
import type { TunnelEvents } from '../tunnel/events.ts';
import type { OpenConnections } from '../tunnel/open-connections.ts';
import { clientRuntime, serverRuntime, type PlaneContextCell } from '../tunnel/runtime-settings.ts';
import { ServerTunnel } from '../tunnel/server-tunnel.ts';
import type { ConnectionTracker } from '../tunnel/tracker.ts';
import type { Generation } from './generation.ts';

export interface TunnelDeps {
  readonly store: PlaneContextCell;
  readonly connections: OpenConnections;
  readonly log: Log;
  readonly tracker: ConnectionTracker;
  readonly events: TunnelEvents;
  /** --auto-acme-cert: TLS-ALPN-01 validations, answered on the tunnel's listener. */
  readonly challenges?: TlsAlpnChallenges;
}

/** A mode's tunnel and how a new generation's settings reach it: one assignment, read once per connection. */
export interface ServingTunnel {
  /** What the data plane reports each connection's phases to; it counts them by phase too. */
  readonly tunnel: ConnectionHandler & { census(): ConnectionCensus };
  readonly mode: 'server' | 'client';
  readonly publish: (generation: Generation) => void;
}

/** The server- or client-mode tunnel for a generation; the main thread and every worker build theirs here. */
export function tunnelFor(generation: Generation, deps: TunnelDeps): ServingTunnel {
  const { config } = generation;
  if (config.client === undefined) {
    const settings = { current: serverRuntime(config, generation.policy) };
    return { tunnel: new ServerTunnel({ ...deps, settings }), mode: 'server', publish: (g) => (settings.current = serverRuntime(g.config, g.policy)) };
  }
  const settings = { current: clientRuntime(config, generation.policy) };
  return { tunnel: new ClientTunnel({ ...deps, listen: config.listen.text, settings }), mode: 'client', publish: (g) => (settings.current = clientRuntime(g.config, g.policy)) };
}
