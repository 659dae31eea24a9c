// One connection of the portable data plane, from accept to its one `ended` report: TLS on the
// accepted side (server mode) or on the dialed one (client mode), the dial, and the copy both ways
// with backpressure and half-close, under --connect-timeout, --close-timeout and
// --max-conn-lifetime. It follows the engine's phases and reports (native/connection.cc), so the
// tunnel decides the same way on either plane; docs/data-plane.md lists where they differ.
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { SecureContext, TLSSocket } from 'node:tls';
import { getSystemErrorMessage } from 'node:util';
import type { X509Certificate } from 'node:crypto';
import { SOCKET_OPTIONS } from '../net/listener.ts';
import { withoutFin } from '../net/no-fin-stream.ts';
import { readClientHelloSummary } from './client-hello.ts';
import { ACME_TLS_ALPN, ADMIT, End, type ConnectionHandler, type EndKind, type Verdict } from './engine.ts';
import type { NodeContext } from './node-context.ts';
import { chainVerdict, clientTls, serverTls } from './node-tls.ts';

/** What a connection reports to: the tunnel, and the plane's table it leaves when it ends. */
export interface ConnectionHome {
  readonly handler: ConnectionHandler;
  forget(id: number): void;
}

type Phase =
  | 'handshake' // server: TLS on the accepted side
  | 'verdict' // either mode: handshake done, waiting for the tunnel's verdict on the peer
  | 'decision' // server: the tunnel names the target; client: accepted, the tunnel dials
  | 'dialing'
  | 'clientHandshake' // client: TLS on the dialed side
  | 'awaitPipe' // client: verified, the tunnel starts piping
  | 'piping'
  | 'closed';

/** Ends of a connection that are no copy error worth reporting (the engine's list, and Node's stream words for them). */
const ORDINARY = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'ERR_STREAM_DESTROYED', 'ERR_STREAM_PREMATURE_CLOSE', 'ERR_STREAM_WRITE_AFTER_END']);

/** A fatal unrecognized_name alert in a plaintext record: what OpenSSL sends a validation of no pending challenge. */
const UNRECOGNIZED_NAME = Buffer.from([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x70]);

/**
 * Bytes written to a side and not yet taken by its socket, before reading from the other pauses:
 * the engine's buffer per direction. Node's own limit (16 KiB, one TLS record) would pause the
 * reading side after nearly every record of a bulk transfer.
 */
const IN_FLIGHT = 64 * 1024;

const EMPTY: Buffer = Buffer.alloc(0);

interface NodeError extends Error {
  code?: string;
  errno?: number;
  syscall?: string;
  /** OpenSSL's reason, on TLS errors ("wrong version number"). */
  reason?: string;
}

/** A failed handshake as the engine words it: OpenSSL's reason, or the system's ("connection reset by peer"). */
function handshakeMessage(err: NodeError): string {
  if (err.reason !== undefined) return err.reason;
  if (typeof err.errno === 'number') return getSystemErrorMessage(err.errno);
  return err.message;
}

/** A copy error as the engine words it ("read EIO", "tls: bad record mac"), or null for an ordinary end. */
function copyMessage(err: NodeError): string | null {
  if (ORDINARY.has(err.code ?? '')) return null;
  if (err.reason !== undefined) return `tls: ${err.reason}`;
  return err.message;
}

/** A resumed session presents no chain to verify: its leaf is checked for validity again, as the engine does. */
function validityVerdict(cert: X509Certificate): { code: string | null; text: string | null } {
  const now = Date.now();
  if (now > cert.validToDate.getTime()) return { code: 'CERT_HAS_EXPIRED', text: 'certificate has expired' };
  if (now < cert.validFromDate.getTime()) return { code: 'CERT_NOT_YET_VALID', text: 'certificate is not yet valid' };
  return { code: null, text: null };
}

type Target = { readonly host: string; readonly port: number } | { readonly path: string };

export class NodeConnection {
  readonly id: number;
  readonly #home: ConnectionHome;
  readonly #server: boolean;
  #phase: Phase;
  /** The accepted socket; in server mode, the TLSSocket over it once the handshake starts. */
  #accepted: Socket;
  /** The dialed socket; in client mode, the TLSSocket over it once the handshake starts. */
  #dialed: Socket | undefined;
  /** The plain socket a proxy connected (client mode), which a TLSSocket runs over. */
  #adopted: Socket | undefined;
  /** The TLS side and whether its handshake finished (before that, an end is a failed handshake). */
  #tls: TLSSocket | undefined;
  #secured = false;
  #requireCertificate = false;
  #challenge = false;
  #connectTimer: NodeJS.Timeout | undefined;
  #closeTimer: NodeJS.Timeout | undefined;
  #lifeTimer: NodeJS.Timeout | undefined;
  #closeMs = 0;
  #lifeMs = 0;
  #timedOut = false;
  #copyError: string | null = null;
  /** The tunnel's verdict: pending while undefined; `#asking` while verify() runs. */
  #verdict: Verdict | undefined;
  #asking = false;
  #targets: readonly Target[] = [];
  #nextTarget = 0;
  #dialError = '';
  #header: Buffer | null = null;
  #client: { readonly context: NodeContext; readonly serverName: string } | undefined;
  /** Ends passed on (FIN or close_notify written), of the two directions. */
  #endsPassed = 0;

  constructor(id: number, server: boolean, accepted: Socket, home: ConnectionHome) {
    this.id = id;
    this.#server = server;
    this.#accepted = accepted;
    this.#home = home;
    this.#phase = server ? 'handshake' : 'decision';
    accepted.on('error', (err: NodeError) => this.#failed(err, 'accepted'));
  }

  get closed(): boolean {
    return this.#phase === 'closed';
  }

  /** After the tunnel took the accept: the connect deadline, then (server mode) the handshake. */
  start(timeoutMs: number, context: NodeContext | undefined): void {
    if (this.closed) return;
    if (timeoutMs > 0) this.#connectTimer = setTimeout(() => this.#expired(), timeoutMs);
    if (!this.#server) return;
    if (context === undefined) return this.#finish(End.tls, 'no TLS context');
    this.#readClientHello(context);
  }

  /**
   * Server mode: the ClientHello is read before any TLS state exists, to pick the context as the
   * engine does in its ClientHello callback. A client that cannot resume gets the context without
   * session tickets; a ClientHello whose ALPN list is exactly ["acme-tls/1"] is a TLS-ALPN-01
   * validation and gets the challenge context (OpenSSL picks a context from SNI before it looks
   * at ALPN, so no callback of Node's can).
   */
  #readClientHello(context: NodeContext): void {
    const raw = this.#accepted;
    let head = EMPTY;
    const onEnd = (): void => this.#finish(End.eof, 'accepted');
    const onData = (chunk: Buffer): void => {
      head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
      const hello = readClientHelloSummary(head);
      if (hello === undefined) return;
      raw.off('data', onData);
      raw.off('end', onEnd);
      raw.pause();
      raw.unshift(head);
      // Not a ClientHello: OpenSSL's handshake refuses it in its own words.
      if (hello === 'malformed') return this.#serverHandshake(context, context.secureContext);
      if (hello.alpn.length !== 1 || hello.alpn[0] !== ACME_TLS_ALPN) return this.#serverHandshake(context, hello.resumable ? context.secureContext : (context.withoutTickets ?? context.secureContext));
      const challenge = this.#home.handler.challenge?.(this.id, hello.serverName ?? '') as NodeContext | null | undefined;
      if (this.closed) return;
      if (challenge == null) {
        raw.end(UNRECOGNIZED_NAME);
        return this.#finish(End.tls, 'unrecognized name');
      }
      this.#challenge = true;
      this.#serverHandshake(challenge, challenge.secureContext);
    };
    raw.on('data', onData);
    raw.once('end', onEnd);
    // An accepted socket may come paused (read nothing before it is taken).
    raw.resume();
  }

  #serverHandshake(context: NodeContext, secureContext: SecureContext): void {
    this.#requireCertificate = context.requireCertificate;
    const tls = serverTls(this.#accepted, context, secureContext);
    this.#accepted = tls;
    this.#watchTls(tls, 'accepted');
  }

  #watchTls(tls: TLSSocket, side: 'accepted' | 'dialed'): void {
    this.#tls = tls;
    tls.on('error', (err: NodeError) => this.#failed(err, side));
    tls.once('secure', () => this.#handshaken(tls));
    // An end before the handshake finished is a failed one; after it, the pipe passes it on.
    tls.on('end', () => {
      if (!this.#secured) this.#finish(End.eof, side);
    });
  }

  /** The handshake finished: the tunnel's verdict on the peer, as the engine asks for it during the handshake. */
  #handshaken(tls: TLSSocket): void {
    if (this.closed) return;
    this.#secured = true;
    const asks = this.#server ? this.#requireCertificate && !this.#challenge : true;
    if (!asks) return this.#handshakeDone();
    const certificate = tls.getPeerX509Certificate();
    if (certificate === undefined) return this.#finish(End.tls, 'peer did not return a certificate');
    const { code, text } = tls.isSessionReused() ? validityVerdict(certificate) : chainVerdict(tls);
    this.#phase = 'verdict';
    this.#asking = true;
    // A refusal here is final (no full handshake follows, as one does for a resumed session on the engine).
    const verdict = this.#home.handler.verify(this.id, { verifyCode: code, verifyText: text, der: certificate.raw, resumed: false });
    this.#asking = false;
    if (this.#phase !== 'verdict') return;
    this.#verdict ??= verdict;
    if (this.#verdict !== undefined) this.#decided();
  }

  /** Engine.verdict: the answer verify() left for later; false when none is awaited. */
  answer(verdict: Verdict): boolean {
    if (this.#phase !== 'verdict' || this.#verdict !== undefined) return false;
    this.#verdict = verdict;
    if (!this.#asking) this.#decided();
    return true;
  }

  #decided(): void {
    // Node cannot refuse with an alert once the handshake is over: the connection is closed.
    if (this.#verdict !== ADMIT) return this.#finish(End.tls, 'certificate verify failed');
    this.#handshakeDone();
  }

  #handshakeDone(): void {
    const tls = this.#tls!;
    this.#phase = this.#server ? 'decision' : 'awaitPipe';
    const alpn = tls.alpnProtocol;
    const serverName = (tls as TLSSocket & { servername?: string | false | null }).servername;
    this.#home.handler.handshake(this.id, {
      version: tls.getProtocol() ?? '',
      serverName: typeof serverName === 'string' && serverName !== '' ? serverName : null,
      alpn: typeof alpn === 'string' && alpn !== '' ? alpn : null,
      resumed: tls.isSessionReused(),
      challenge: this.#challenge,
    });
  }

  /** Engine.connectPlain (server mode): dial the target in turn, write the PROXY header, pipe. */
  connectPlain(hosts: readonly string[], port: number, unixPath: string, header: Buffer | null, closeMs: number, lifeMs: number): boolean {
    if (this.#phase !== 'decision' || !this.#server) throw new Error('connection is not waiting for a decision');
    this.#closeMs = closeMs;
    this.#lifeMs = lifeMs;
    this.#header = header;
    this.#dial(unixPath === '' ? hosts.map((host) => ({ host, port })) : [{ path: unixPath }]);
    return true;
  }

  /** Engine.connectTls (client mode): dial the target (or take over a proxy's socket) and run the handshake. */
  connectTls(hosts: readonly string[], port: number, adopted: Socket | null, context: NodeContext, serverName: string, noFin: boolean): boolean {
    if (this.#phase !== 'decision' || this.#server) throw new Error('connection is not waiting to be dialed');
    this.#client = { context, serverName };
    if (adopted === null) {
      this.#dial(hosts.map((host) => ({ host, port })));
      return true;
    }
    this.#adopted = adopted;
    adopted.on('error', (err: NodeError) => this.#failed(err, 'dialed'));
    this.#clientHandshake(noFin ? withoutFin(adopted) : adopted);
    return true;
  }

  #dial(targets: readonly Target[]): void {
    this.#phase = 'dialing';
    this.#targets = targets;
    this.#dialNext();
  }

  /** The targets in turn: one that fails moves on to the next; the last failure ends the connection. */
  #dialNext(): void {
    const target = this.#targets[this.#nextTarget++];
    if (target === undefined) return this.#finish(End.dial, this.#dialError === '' ? 'no address to dial' : this.#dialError);
    const socket = process.getBuiltinModule('node:net').connect({ ...target, ...SOCKET_OPTIONS });
    this.#dialed = socket;
    const onError = (err: NodeError): void => {
      if (this.#dialed !== socket || this.#phase !== 'dialing') return;
      this.#dialError = err.message;
      socket.destroy();
      this.#dialNext();
    };
    socket.on('error', onError);
    socket.once('connect', () => {
      if (this.#phase !== 'dialing') return;
      socket.off('error', onError);
      socket.on('error', (err: NodeError) => this.#failed(err, 'dialed'));
      this.#connected(socket);
    });
  }

  #connected(socket: Socket): void {
    this.#targets = [];
    if (!this.#server) return this.#clientHandshake(socket);
    // The PROXY header goes first, ahead of anything the client sends.
    if (this.#header !== null) socket.write(this.#header);
    this.#header = null;
    this.#beginPiping();
  }

  #clientHandshake(over: Socket | Duplex): void {
    const { context, serverName } = this.#client!;
    this.#phase = 'clientHandshake';
    const tls = clientTls(over, context, serverName);
    this.#dialed = tls;
    this.#watchTls(tls, 'dialed');
  }

  /** Engine.pipe (client mode): the target was verified, copying starts. */
  pipe(closeMs: number, lifeMs: number): boolean {
    if (this.#phase !== 'awaitPipe') return false;
    this.#closeMs = closeMs;
    this.#lifeMs = lifeMs;
    this.#beginPiping();
    return true;
  }

  /** Engine.close: a piping connection ends as closed, any other as aborted. */
  close(): void {
    if (this.#phase === 'piping') this.#finish(End.closed, this.#copyError);
    else this.#finish(End.aborted, null);
  }

  #beginPiping(): void {
    clearTimeout(this.#connectTimer);
    if (this.#lifeMs > 0) this.#lifeTimer = setTimeout(() => this.#expired(), this.#lifeMs);
    this.#phase = 'piping';
    this.#home.handler.piping(this.id);
    if (this.closed) return;
    const accepted = this.#accepted;
    const dialed = this.#dialed!;
    this.#copy(accepted, dialed);
    this.#copy(dialed, accepted);
  }

  /**
   * One direction, with backpressure: what `src` sends is written to `dst`, and an end read on
   * `src` (FIN, or close_notify) is passed on once everything before it is written.
   */
  #copy(src: Socket, dst: Socket): void {
    let corked = false;
    const uncork = (): void => {
      corked = false;
      dst.uncork();
    };
    src.on('data', (chunk: Buffer) => {
      // The records one read decrypted arrive as several chunks in one turn: one write takes them all.
      if (!corked) {
        corked = true;
        dst.cork();
        process.nextTick(uncork);
      }
      dst.write(chunk);
      if (dst.writableLength >= IN_FLIGHT) src.pause();
    });
    dst.on('drain', () => src.resume());
    dst.once('finish', () => this.#endPassed());
    // A side that closed after both its directions ended leaves the other to finish its writes;
    // one that closed any other way (a reset, a TLS socket whose transport went) ends the connection.
    src.once('close', () => {
      if (!(src.readableEnded && src.writableFinished)) this.#finish(End.closed, this.#copyError);
    });
    if (src.readableEnded) dst.end();
    else src.once('end', () => dst.end());
    src.resume();
  }

  /** The first end passed on starts --close-timeout for the other direction (0: close at once); the second closes. */
  #endPassed(): void {
    if (this.#phase !== 'piping') return;
    this.#endsPassed++;
    if (this.#endsPassed === 2 || this.#closeMs <= 0) return this.#finish(End.closed, this.#copyError);
    this.#closeTimer = setTimeout(() => this.#expired(), this.#closeMs);
  }

  /** --connect-timeout before piping; --close-timeout or --max-conn-lifetime while piping. */
  #expired(): void {
    this.#timedOut = true;
    if (this.#phase === 'piping') this.#finish(End.closed, null);
    else this.#finish(End.timeout, null);
  }

  #failed(err: NodeError, side: 'accepted' | 'dialed'): void {
    switch (this.#phase) {
      case 'closed':
        return;
      case 'piping':
        this.#copyError ??= copyMessage(err);
        return this.#finish(End.closed, this.#copyError);
      case 'handshake':
      case 'clientHandshake':
        if (side === (this.#server ? 'accepted' : 'dialed')) return this.#finish(End.tls, handshakeMessage(err));
        return this.#finish(End.eof, side);
      default:
        // A side nobody reads yet (waiting for the tunnel, or for the other side): it hung up.
        return this.#finish(End.eof, side);
    }
  }

  /** Closes everything and reports how it ended, exactly once. */
  #finish(kind: EndKind, message: string | null): void {
    if (this.#phase === 'closed') return;
    this.#phase = 'closed';
    const plain = this.#server ? this.#dialed : this.#accepted;
    const read = plain?.bytesRead ?? 0;
    const written = plain?.bytesWritten ?? 0;
    clearTimeout(this.#connectTimer);
    clearTimeout(this.#closeTimer);
    clearTimeout(this.#lifeTimer);
    this.#accepted.destroy();
    this.#dialed?.destroy();
    this.#adopted?.destroy();
    this.#home.forget(this.id);
    this.#home.handler.ended(this.id, {
      kind,
      message,
      forwarded: this.#server ? written : read,
      returned: this.#server ? read : written,
      timedOut: this.#timedOut,
    });
  }
}
