// A TLS client that reports what a tunnel did with it: the first line a banner backend sent (empty
// when the tunnel closed the connection instead), and the socket, kept open for later use.
import { readFileSync } from 'node:fs';
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls';

export interface Probe {
  /** Up to and including the first newline; '' when the connection closed (or failed) first. */
  readonly line: string;
  /** Still open after the line arrived; undefined when it closed. */
  readonly socket: TLSSocket | undefined;
  /** Whether the TLS session was resumed from `session`. */
  readonly resumed: boolean;
  /** The first session ticket the server sent, for a later resumption. */
  readonly ticket: Buffer | undefined;
}

export interface ProbeCredentials {
  readonly cert?: string;
  readonly key?: string;
  readonly ca: string;
}

/** Connects to 127.0.0.1:port and waits for the first line (within `timeoutMs`, else ''). */
export function probe(port: number, creds: ProbeCredentials, { session, timeoutMs = 8000 }: { session?: Buffer; timeoutMs?: number } = {}): Promise<Probe> {
  return new Promise((resolve) => {
    const options: ConnectionOptions = {
      host: '127.0.0.1',
      port,
      servername: 'localhost',
      ca: readFileSync(creds.ca),
      ...(creds.cert && creds.key ? { cert: readFileSync(creds.cert), key: readFileSync(creds.key) } : {}),
      ...(session ? { session } : {}),
    };
    const socket = tlsConnect(options);
    let line = '';
    let ticket: Buffer | undefined;
    let settled = false;
    const finish = (open: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.off('data', onData);
      if (!open) socket.destroy();
      resolve({ line: open ? line : '', socket: open ? socket : undefined, resumed: socket.isSessionReused(), ticket });
    };
    const onData = (chunk: Buffer): void => {
      line += chunk.toString();
      if (line.includes('\n')) finish(true);
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    socket.on('session', (t: Buffer) => (ticket ??= t));
    socket.on('data', onData);
    socket.on('error', () => {});
    socket.once('close', () => finish(false));
  });
}

/** Writes `text` on an open socket and resolves with what came back once `text.length` bytes did, or '' if it closed first. */
export function echoed(socket: TLSSocket, text: string, timeoutMs = 8000): Promise<string> {
  return new Promise((resolve) => {
    let got = '';
    const done = (value: string): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      resolve(value);
    };
    const onData = (chunk: Buffer): void => {
      got += chunk.toString();
      if (got.length >= text.length) done(got);
    };
    const onClose = (): void => done('');
    const timer = setTimeout(() => done(got), timeoutMs);
    socket.on('data', onData);
    socket.once('close', onClose);
    if (socket.destroyed) done('');
    else socket.write(text);
  });
}

/** Resolves once the socket has closed (the tunnel closed it). */
export function closed(socket: TLSSocket): Promise<void> {
  return socket.closed ? Promise.resolve() : new Promise((resolve) => socket.once('close', () => resolve()));
}
