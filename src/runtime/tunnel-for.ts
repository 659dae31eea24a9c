import type { Socket } from 'node:net';
import type { Log } from '../log/logger.ts';
import { ClientTunnel } from '../tunnel/client-tunnel.ts';
import type { TunnelEvents } from '../tunnel/events.ts';
import type { OpenConnections } from '../tunnel/open-connections.ts';
import { clientRuntime, serverRuntime, type ContextCell } from '../tunnel/runtime-settings.ts';
import { ServerTunnel } from '../tunnel/server-tunnel.ts';
import type { ConnectionTracker } from '../tunnel/tracker.ts';
import type { Generation } from './generation.ts';

/** What a listener hands each accepted connection to. */
export interface Tunnel {
  handle(socket: Socket, listenAddress: string): void;
}

export interface TunnelDeps {
  readonly store: ContextCell;
  readonly connections: OpenConnections;
  readonly log: Log;
  readonly tracker: ConnectionTracker;
  readonly events: TunnelEvents;
}

/** A mode's tunnel and how a new generation's settings reach it: one assignment, read once per connection. */
export interface ServingTunnel {
  readonly tunnel: Tunnel;
  readonly publish: (generation: Generation) => void;
}

/** The server- or client-mode tunnel for a generation; the main thread and every worker build theirs here. */
export function tunnelFor(generation: Generation, deps: TunnelDeps): ServingTunnel {
  const { config } = generation;
  if (config.client === undefined) {
    const settings = { current: serverRuntime(config, generation.policy) };
    return { tunnel: new ServerTunnel({ ...deps, settings }), publish: (g) => (settings.current = serverRuntime(g.config, g.policy)) };
  }
  const settings = { current: clientRuntime(config, generation.policy) };
  return { tunnel: new ClientTunnel({ ...deps, listen: config.listen.text, settings }), publish: (g) => (settings.current = clientRuntime(g.config, g.policy)) };
}
