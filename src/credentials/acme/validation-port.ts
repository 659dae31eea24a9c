import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import { StartupError } from '../../cli/errors.ts';
import type { Address } from '../../net/address.ts';
import type { Log } from '../../log/logger.ts';
import { listen } from '../../net/listen.ts';
import { socketAcceptor, type Listener } from '../../net/listener.ts';
import { readClientHello, type HelloNames } from '../../engine/client-hello.ts';
import { ACME_TLS_ALPN } from '../../engine/engine.ts';
import type { TlsAlpnChallenges } from './tls-alpn-challenges.ts';

export interface ValidationPortOptions {
  /** --auto-acme-alt-tls-alpn-port. */
  readonly port: number;
  /** --listen: its host is the one bound (all interfaces for unix: and systemd: listeners). */
  readonly listen: Address;
  /** The tunnel listener's bound address ("127.0.0.1:8443"). */
  readonly listenAddress: string;
  readonly challenges: TlsAlpnChallenges;
  /** --connect-timeout: how long a validation connection may take. */
  readonly handshakeMs: number;
  readonly log: Log;
}

/** TLS alert descriptions (RFC 8446 §6.2). */
const UNRECOGNIZED_NAME = 112;
const NO_APPLICATION_PROTOCOL = 120;
const DECODE_ERROR = 50;

/** A fatal alert in a plaintext record: what a server sends when it refuses a ClientHello. */
function alertRecord(description: number): Buffer {
  return Buffer.from([21, 3, 3, 0, 2, 2, description]);
}

/** Why a ClientHello gets no challenge certificate (and which alert says so); undefined: it gets one. */
function refusal(hello: HelloNames, challenges: TlsAlpnChallenges): { reason: string; alert: number } | undefined {
  if (hello.alpn.length !== 1 || hello.alpn[0] !== ACME_TLS_ALPN) {
    return { reason: `this port answers TLS-ALPN-01 validations only (ALPN exactly ${ACME_TLS_ALPN}), the client offered ${hello.alpn.length === 0 ? 'no ALPN' : hello.alpn.join(', ')}`, alert: NO_APPLICATION_PROTOCOL };
  }
  if (hello.serverName === undefined || challenges.secureContextFor(hello.serverName) === undefined) {
    return { reason: `no pending TLS-ALPN-01 challenge for ${hello.serverName ?? '(no SNI)'}`, alert: UNRECOGNIZED_NAME };
  }
  return undefined;
}

/**
 * One connection to the validation port: the ClientHello is read first, and only one with ALPN
 * exactly ["acme-tls/1"] and the SNI of a pending challenge gets a handshake, with that
 * challenge's certificate; anything else gets a fatal alert. Either way the connection closes
 * after the handshake: no tunnel traffic, no backend, no client certificate asked for.
 */
function answer(raw: Socket, listener: Listener, options: ValidationPortOptions): void {
  const { challenges, log } = options;
  const from = `tcp:${raw.remoteAddress}:${raw.remotePort}`;
  const failed = (reason: string): void => log.handshakeError(`error on TLS handshake from ${from} (TLS-ALPN-01 port ${listener.address}): ${reason}`, { peer: from });
  // The socket in use: the raw one until the hello is read, then the TLS socket over it.
  let current: Socket = raw;
  const deadline = setTimeout(() => {
    failed('timed out (--connect-timeout)');
    current.destroy();
  }, options.handshakeMs);
  const done = (): void => clearTimeout(deadline);
  raw.once('close', done);
  raw.on('error', () => raw.destroy());
  const refuse = (reason: string, alert: number): void => {
    failed(reason);
    raw.write(alertRecord(alert));
    raw.destroySoon();
  };
  let bytes = Buffer.alloc(0);
  const onData = (chunk: Buffer): void => {
    bytes = Buffer.concat([bytes, chunk]);
    const hello = readClientHello(bytes);
    if (hello === undefined) return;
    raw.off('data', onData);
    raw.pause();
    if (hello === 'malformed') return refuse('not a TLS ClientHello', DECODE_ERROR);
    const refused = refusal(hello, challenges);
    if (refused !== undefined) return refuse(refused.reason, refused.alert);
    const fqdn = hello.serverName!;
    // The hello goes back in front of the stream: a TLSSocket reads what its socket holds first.
    raw.unshift(bytes);
    const tls = new TLSSocket(raw, { isServer: true, secureContext: challenges.secureContextFor(fqdn)!, ALPNProtocols: [ACME_TLS_ALPN], requestCert: false });
    current = tls;
    let answered = false;
    tls.once('close', done);
    tls.on('error', (err: Error) => {
      if (!answered) failed(err.message);
      tls.destroy();
    });
    tls.once('secure', () => {
      answered = true;
      done();
      log.info(`answered TLS-ALPN-01 challenge for ${fqdn} from ${from}`, { peer: from, fqdn, address: listener.address });
      tls.destroySoon();
    });
  };
  raw.on('data', onData);
}

/** "host:port" as net.Server binds it, brackets around an IPv6 host. */
function addressText(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * --auto-acme-alt-tls-alpn-port: a listener that answers TLS-ALPN-01 validations only, for when
 * the public port 443 is forwarded to it rather than to --listen (whose own answering stays as it
 * is: both answer). Bound on --listen's host (all interfaces for unix: and systemd: listeners)
 * with SO_REUSEPORT, like --listen, and handed to a successor under its own name. The daemon owns
 * the returned Listener: it accepts for as long as the tunnel does, and closes with the drain.
 * Undefined when the port is --listen's own (that listener answers already).
 */
export async function startValidationPort(options: ValidationPortOptions): Promise<Listener | undefined> {
  const { port, listen: main, log } = options;
  const host = main.kind === 'tcp' ? main.host : '';
  if (main.kind === 'tcp' && Number(options.listenAddress.slice(options.listenAddress.lastIndexOf(':') + 1)) === port) {
    log.info(`--auto-acme-alt-tls-alpn-port ${port} is the listening port: TLS-ALPN-01 challenges are answered there`);
    return undefined;
  }
  let listener: Listener;
  try {
    listener = await listen({ kind: 'tcp', host, port, text: addressText(host, port) }, { role: 'acme', acceptor: socketAcceptor((socket, l) => answer(socket, l, options)) });
  } catch (err) {
    throw new StartupError(`--auto-acme-alt-tls-alpn-port ${port}: ${(err as Error).message}`);
  }
  log.info(`answering TLS-ALPN-01 challenges on ${listener.address} too (--auto-acme-alt-tls-alpn-port)`, { address: listener.address });
  return listener;
}
