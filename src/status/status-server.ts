import { createServer } from 'node:http';
import type { Socket } from 'node:net';
import { TLSSocket, type SecureContext } from 'node:tls';
import { StartupError } from '../cli/errors.ts';
import type { StatusSettings } from '../config/types.ts';
import type { Log } from '../log/logger.ts';
import { listen } from '../net/listen.ts';
import { socketAcceptor, type Listener } from '../net/listener.ts';
import { dispatch, type Route } from './router.ts';

export interface StatusServerOptions {
  readonly settings: StatusSettings;
  readonly routes: readonly Route[];
  /**
   * The tunnel's current TLS context, read per connection so that the status port presents the
   * certificate in use right now; undefined when the tunnel has no certificate (plain HTTP then).
   */
  readonly context: () => SecureContext | undefined;
  /** --connect-timeout: TLS handshake and request-header budget, as Ghostunnel's ReadHeaderTimeout. */
  readonly connectMs: number;
  /**
   * Takes the bound socket: starts accepting on it once the tunnel accepts (then calls `started`),
   * closes it with the drain, hands it over on upgrade.
   */
  readonly adopt: (listener: Listener, started: () => void) => void;
  /** True once the daemon drains: responses then close their connection. */
  readonly stopping: () => boolean;
  readonly log: Log;
}

/** Ghostunnel's status server timeouts: Read 30 s, Idle 120 s. */
const READ_MS = 30_000;
const IDLE_MS = 120_000;

/**
 * The status port (spec §2.12): HTTP, or HTTPS with the tunnel's own certificate. Never asks for a
 * client certificate, so load balancers and curl can use it. The socket comes from the same
 * listen() as the tunnel's (TCP with SO_REUSEPORT, unix:, systemd:, hand-off) under the status
 * role, and the daemon owns it from then on: it listens once the tunnel accepts, and stops
 * accepting when the drain starts, as Ghostunnel's status server shuts down then. Returns the
 * bound address.
 */
export async function startStatusServer(options: StatusServerOptions): Promise<string> {
  const { settings, log } = options;
  const http = createServer({ headersTimeout: options.connectMs, requestTimeout: Math.max(READ_MS, options.connectMs), keepAliveTimeout: IDLE_MS }, (req, res) => {
    if (options.stopping()) res.shouldKeepAlive = false;
    void dispatch(options.routes, req, res);
  });
  // Sockets reach this server by hand (below), never by its own listen(); 'listening' is what
  // starts its bookkeeping of connections, which the header and request timeouts need.
  http.emit('listening');
  http.on('clientError', (_err, socket) => socket.destroy());
  const https = settings.https && options.context() !== undefined;
  if (settings.https && !https) log.warn(`status port ${settings.text}: no certificate to serve HTTPS with, serving plain HTTP`);
  const onConnection = (raw: Socket): void => {
    const context = https ? options.context() : undefined;
    if (context === undefined) {
      http.emit('connection', raw);
      return;
    }
    const tls = new TLSSocket(raw, { isServer: true, secureContext: context, requestCert: false, rejectUnauthorized: false });
    const deadline = setTimeout(() => tls.destroy(), options.connectMs);
    tls.on('error', () => tls.destroy());
    tls.once('close', () => clearTimeout(deadline));
    tls.once('secure', () => {
      clearTimeout(deadline);
      http.emit('connection', tls);
    });
  };
  let listener: Listener;
  try {
    listener = await listen(settings.address, { role: 'status', acceptor: socketAcceptor(onConnection), bindOnly: true });
  } catch (err) {
    throw new StartupError(`--status ${settings.text}: ${(err as Error).message}`);
  }
  const { address } = listener;
  options.adopt(listener, () => log.info(`status server listening on ${settings.text}`, { status: settings.text, address, https }));
  return address;
}
