// Let's Encrypt's test ACME server, Debian's `pebble` package, run as a child: its directory on
// 127.0.0.1 (port 0), its validation connections sent to the port and resolver the test names.
import { spawn, type ChildProcess } from 'node:child_process';
import type { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { join } from 'node:path';
import { listeningPort } from './listening-port.ts';
import { issue, makeCa, tempDir, type Ca } from './pki.ts';
import { requireProgram } from './programs.ts';

export interface Pebble {
  readonly port: number;
  /** Trusts the directory's HTTPS certificate (for NODE_EXTRA_CA_CERTS). */
  readonly httpsCa: Ca;
  /** The CN of the intermediate that signs the certificates this run issues. */
  readonly issuerCn: string;
  output(): string;
  stop(): Promise<void>;
}

export interface PebbleOptions {
  /** Where TLS-ALPN-01 validations connect (the tunnel's listening port). */
  readonly tlsPort: number;
  /** The DNS server (127.0.0.1:PORT) Pebble resolves challenge names with. */
  readonly dnsPort: number;
  /** certificateValidityPeriod, in seconds. */
  readonly validitySeconds: number;
  /** A CA for the directory's HTTPS certificate; made here if not given. */
  readonly httpsCa?: Ca;
}

const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const p of running) p.kill('SIGKILL');
});

export async function startPebble(opts: PebbleOptions): Promise<Pebble> {
  const dir = tempDir('gt-pebble-');
  const httpsCa = opts.httpsCa ?? makeCa('pebble-https-ca', { dir });
  const https = issue(httpsCa, 'pebble-https', { cn: 'pebble', dns: ['localhost'], ips: ['127.0.0.1'] }, dir);
  const config = join(dir, 'pebble-config.json');
  writeFileSync(
    config,
    JSON.stringify({
      pebble: {
        listenAddress: '127.0.0.1:0',
        managementListenAddress: '',
        certificate: https.cert,
        privateKey: https.key,
        httpPort: 5002,
        tlsPort: opts.tlsPort,
        ocspResponderURL: '',
        externalAccountBindingRequired: false,
        certificateValidityPeriod: opts.validitySeconds,
      },
    }),
  );
  requireProgram('pebble');
  const proc = spawn('pebble', ['-config', config, '-dnsserver', `127.0.0.1:${opts.dnsPort}`, '-strict=false'], {
    // No random sleeps before validations, no rejected nonces, and a fresh authorization (so a
    // challenge) for every order, renewals included.
    env: { ...process.env, PEBBLE_VA_NOSLEEP: '1', PEBBLE_WFE_NONCEREJECT: '0', PEBBLE_AUTHZREUSE: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(proc);
  proc.once('exit', () => running.delete(proc));
  let out = '';
  proc.stdout!.setEncoding('utf8').on('data', (c: string) => (out += c));
  proc.stderr!.setEncoding('utf8').on('data', (c: string) => (out += c));
  const port = await listeningPort(proc.pid!, 10_000);
  const issuerCn = /Generated new intermediate issuer CN=(.+?) with serial/.exec(out)?.[1];
  if (issuerCn === undefined) throw new Error(`pebble did not name its intermediate:\n${out}`);
  return {
    port,
    httpsCa,
    issuerCn,
    output: () => out,
    stop: async () => {
      if (proc.exitCode !== null) return;
      const exited = new Promise((resolve) => proc.once('exit', resolve));
      proc.kill('SIGTERM');
      await exited;
    },
  };
}

/**
 * A TLS client (mTLS with `cert` and `key`) asking a tunnel for the name of its ACME certificate.
 * Pebble's root is not published (its management port is off), so the chain is checked here: the
 * leaf must be signed by the intermediate the tunnel sends with it. Resolves with the leaf too:
 * Node hands a client socket's peer certificate out only once.
 */
export function connectAcmeTls(port: number, opts: { cert?: string; key?: string; servername: string }): Promise<{ socket: TLSSocket; leaf: X509Certificate }> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, servername: opts.servername, cert: opts.cert && readFileSync(opts.cert), key: opts.key && readFileSync(opts.key), rejectUnauthorized: false, allowHalfOpen: true });
    socket.once('secureConnect', () => {
      const leaf = socket.getPeerX509Certificate()!;
      const intermediate = leaf.issuerCertificate;
      if (intermediate === undefined || !leaf.verify(intermediate.publicKey)) reject(new Error('the served leaf is not signed by the intermediate served with it'));
      else resolve({ socket, leaf });
    });
    socket.once('error', reject);
  });
}
