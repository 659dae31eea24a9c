import { request, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { checkServerIdentity, connect as tlsConnect, type SecureContext } from 'node:tls';
import type { Duplex } from 'node:stream';
import { getSystemErrorMessage } from 'node:util';
import type { ClientSettings, Config } from '../config/types.ts';
import type { Address } from '../net/address.ts';
import { dialPlain } from '../net/dial.ts';
import { isIP } from '../net/ip.ts';
import { targetDialer } from '../net/target-dialer.ts';

/**
 * The live backend check behind /_status (spec §2.12): resolves when the backend is reachable,
 * rejects with the text /_status shows as backend_error. Run on every request, never cached.
 */
export type BackendCheck = () => Promise<void>;

function hostPort(host: string, port: number | undefined): string {
  const h = host.includes(':') ? `[${host}]` : host;
  return port === undefined ? h : `${h}:${port}`;
}

/** Go's net.Dial error text ("dial tcp 127.0.0.1:9080: connect: connection refused"). */
export function goDialError(target: Address, err: NodeJS.ErrnoException & { address?: string; port?: number; hostname?: string }): string {
  const network = target.kind === 'unix' ? 'unix' : 'tcp';
  if (err.code === 'ENOTFOUND' || err.code === 'EAI_AGAIN') return `dial tcp: lookup ${err.hostname ?? (target as { host?: string }).host}: no such host`;
  const where = err.address !== undefined ? hostPort(err.address, err.port) : target.kind === 'tcp' ? hostPort(target.host, target.port) : target.text.replace(/^unix:/, '');
  const reason = typeof err.errno === 'number' ? getSystemErrorMessage(err.errno) : err.message;
  return `dial ${network} ${where}: ${err.syscall ?? 'connect'}: ${reason}`;
}

function timeoutText(target: Address): string {
  return target.kind === 'tcp' ? `dial tcp ${hostPort(target.host, target.port)}: i/o timeout` : `dial unix ${target.text.replace(/^unix:/, '')}: i/o timeout`;
}

/** Waits for `socket` to connect (or to finish its TLS handshake), within `timeoutMs`. */
function connected(socket: Socket, event: 'connect' | 'secureConnect', target: Address, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(timeoutText(target)));
    }, timeoutMs);
    socket.once(event, () => {
      clearTimeout(timer);
      // A clean close (FIN, or close_notify after our Finished) rather than a reset: the target
      // sees an ordinary short connection, as after Go's Close().
      socket.on('error', () => {});
      socket.end();
      resolve();
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      socket.destroy();
      if (err.syscall === 'connect' || err.syscall === 'getaddrinfo') reject(new Error(goDialError(target, err)));
      else if (event === 'secureConnect') reject(new Error(`tls: ${err.message.split('; ')[0]}${err.code ? ` (${err.code})` : ''}`));
      else reject(err);
    });
  });
}

/** Server mode without --target-status: a plain dial to the target. */
export function tcpDialCheck(target: Address, timeoutMs: number): BackendCheck {
  return () => connected(dialPlain(target), 'connect', target, timeoutMs);
}

/**
 * Server mode with --target-status: GET the URL over a connection dialed to --target (the URL's
 * host only names the Host header and, for https, the TLS server name); 200 means healthy.
 */
export function targetStatusCheck(url: string, target: Address, timeoutMs: number): BackendCheck {
  const parsed = new URL(url);
  const servername = isIP(parsed.hostname.replace(/^\[|\]$/g, '')) === 0 ? parsed.hostname : undefined;
  return () =>
    new Promise((resolve, reject) => {
      let dialError: string | undefined;
      const createConnection = (): Socket => {
        const raw = dialPlain(target);
        raw.once('error', (err: NodeJS.ErrnoException) => {
          if (err.syscall === 'connect' || err.syscall === 'getaddrinfo') dialError = goDialError(target, err);
        });
        return parsed.protocol === 'https:' ? tlsConnect({ socket: raw, servername, minVersion: 'TLSv1.2' }) : raw;
      };
      const req = request(parsed, { method: 'GET', createConnection, timeout: timeoutMs, headers: { connection: 'close' } }, (res: IncomingMessage) => {
        res.resume();
        if (res.statusCode === 200) resolve();
        else reject(new Error(`target returned status: ${res.statusCode}`));
      });
      req.on('timeout', () => req.destroy(new Error(timeoutText(target))));
      req.on('error', (err) => reject(new Error(`Get "${url}": ${dialError ?? err.message}`)));
      req.end();
    });
}

/**
 * Client mode: a full TLS dial to the target (through --proxy when set) with the current client
 * credentials, verifying the chain and the server name the tunnel verifies. The --verify-* rules
 * and pins are the tunnel's own; a client tunnel can hand its own BackendCheck to apply them too.
 */
export function tlsDialCheck(target: Address, client: ClientSettings, context: () => SecureContext, timeoutMs: number): BackendCheck {
  const dial = targetDialer(client.proxy);
  const servername = isIP(client.serverName) === 0 ? client.serverName : undefined;
  return async () => {
    if (target.kind !== 'tcp') throw new Error(`client mode needs a TCP target, got ${target.text}`);
    const abort = AbortSignal.timeout(timeoutMs);
    let raw: Duplex;
    try {
      raw = await dial({ host: target.host, port: target.port }, abort);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      throw new Error(abort.aborted ? timeoutText(target) : e.syscall === 'connect' || e.syscall === 'getaddrinfo' ? goDialError(target, e) : e.message);
    }
    const tls = tlsConnect({ socket: raw, secureContext: context(), servername, checkServerIdentity: (_host, cert) => checkServerIdentity(client.serverName, cert), rejectUnauthorized: true });
    return connected(tls, 'secureConnect', target, timeoutMs);
  };
}

/** The check Ghostunnel runs for this mode and these flags. */
export function backendCheckFor(config: Config, context: () => SecureContext): BackendCheck {
  const timeoutMs = config.timeouts.connectMs;
  if (config.client !== undefined) return tlsDialCheck(config.target, config.client, context, timeoutMs);
  if (config.targetStatus !== undefined) return targetStatusCheck(config.targetStatus, config.target, timeoutMs);
  return tcpDialCheck(config.target, timeoutMs);
}
