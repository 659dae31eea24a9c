// Test clients: Node's TLS client over a real socket, and the real openssl s_client.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { requireProgram } from './programs.ts';

export interface TlsClientOptions {
  cert?: string;
  key?: string;
  ca?: string;
  pfx?: string;
  servername?: string;
  maxVersion?: 'TLSv1.2' | 'TLSv1.3';
}

/** Connects with mTLS; resolves once the handshake completes, rejects on failure. */
export function connectTls(port: number, opts: TlsClientOptions = {}, host = '127.0.0.1'): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({
      host,
      port,
      cert: opts.cert ? readFileSync(opts.cert) : undefined,
      key: opts.key ? readFileSync(opts.key) : undefined,
      ca: opts.ca ? readFileSync(opts.ca) : undefined,
      servername: opts.servername ?? 'localhost',
      maxVersion: opts.maxVersion,
    });
    socket.once('secureConnect', () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Sends `data`, then reads until the peer closes or `timeoutMs`; returns what came back. */
export function roundTrip(socket: TLSSocket, data: string | Buffer, { end = true, timeoutMs = 5000 } = {}): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(Buffer.concat(chunks));
    }, timeoutMs);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks));
    });
    if (end) socket.end(data);
    else socket.write(data);
  });
}

/** Reads exactly n bytes (or fewer if the stream ends). */
export function readBytes(socket: TLSSocket, n: number, timeoutMs = 5000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let got = 0;
    const done = (): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      resolve(Buffer.concat(chunks));
    };
    const timer = setTimeout(() => reject(new Error(`timed out after ${got}/${n} bytes`)), timeoutMs);
    const onData = (c: Buffer): void => {
      chunks.push(c);
      got += c.length;
      if (got >= n) done();
    };
    socket.on('data', onData);
    socket.once('end', done);
  });
}

/** The serial number of the certificate the server presented. */
export function peerSerial(socket: TLSSocket): string {
  return socket.getPeerX509Certificate()!.serialNumber;
}

export interface OpensslResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `openssl s_client` against port, feeding `input` on stdin. -ign_eof keeps it reading after
 * stdin ends, so it runs until the server closes, `until` matches its output, or `timeoutMs` passes.
 */
export function sClient(port: number, args: string[], input = '', { until, timeoutMs = 8000 }: { until?: RegExp; timeoutMs?: number } = {}): Promise<OpensslResult> {
  requireProgram('openssl');
  return new Promise((resolve) => {
    const p = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-ign_eof', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const check = (): void => {
      if (until?.test(stdout) || until?.test(stderr)) p.kill('SIGTERM');
    };
    p.stdout.on('data', (c) => {
      stdout += c;
      check();
    });
    p.stderr.on('data', (c) => {
      stderr += c;
      check();
    });
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    // s_client may exit (handshake refused) before it has read its input.
    p.stdin.on('error', () => {});
    p.stdin.end(input);
  });
}

export function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}
