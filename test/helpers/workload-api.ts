// A SPIFFE Workload API agent standing in for SPIRE: a grpc-js server on a UNIX socket that
// implements proto/spiffe/workload.proto and pushes the X.509-SVIDs the test mints.
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { Server, ServerCredentials, status, type ServerWritableStream } from '@grpc/grpc-js';
import { SECURITY_HEADER, workloadApiService, type X509SvidResponse } from '../../src/credentials/spiffe/workload-api-proto.ts';
import { tempDir, type Issued } from './pki.ts';

/** The DER of every certificate in PEM files, concatenated, as the Workload API sends chains and bundles. */
export function derOf(...pemFiles: string[]): Buffer {
  const out: Buffer[] = [];
  for (const file of pemFiles) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g)) out.push(new X509Certificate(m[0]).raw);
  }
  return Buffer.concat(out);
}

/** One SVID message: `svid` (issued with its SPIFFE ID as URI SAN) and the bundle's CA files. */
export function svidResponse(spiffeId: string, svid: Issued, bundle: string[], federated: Record<string, string[]> = {}): X509SvidResponse {
  return {
    svids: [{ spiffe_id: spiffeId, x509_svid: derOf(svid.cert), x509_svid_key: createPrivateKey(readFileSync(svid.key)).export({ type: 'pkcs8', format: 'der' }), bundle: derOf(...bundle), hint: '' }],
    crl: [],
    federated_bundles: Object.fromEntries(Object.entries(federated).map(([domain, files]) => [domain, derOf(...files)])),
  };
}

export interface WorkloadApiAgent {
  /** "unix:///…/agent.sock", for --use-workload-api-addr. */
  readonly address: string;
  /** Streams opened so far (calls without the security header are refused and not counted). */
  streams(): number;
  /** Sends `response` on every open stream, and to streams opened later. */
  push(response: X509SvidResponse): void;
  close(): Promise<void>;
}

/** Starts an agent on a fresh socket, or on `path` (an agent restarted where the old one was). */
export async function workloadApiAgent(first: X509SvidResponse | undefined, path = join(tempDir('gt-spiffe-'), 'agent.sock')): Promise<WorkloadApiAgent> {
  const open = new Set<ServerWritableStream<object, X509SvidResponse>>();
  let current = first;
  let count = 0;
  const server = new Server();
  server.addService(workloadApiService(), {
    FetchX509SVID(call: ServerWritableStream<object, X509SvidResponse>) {
      // As SPIRE: a call without the header is refused.
      if (call.metadata.get(SECURITY_HEADER)[0] !== 'true') {
        call.emit('error', { code: status.INVALID_ARGUMENT, details: 'security header missing from request' });
        return;
      }
      count++;
      open.add(call);
      call.on('cancelled', () => open.delete(call));
      if (current !== undefined) call.write(current);
    },
  });
  await new Promise<void>((resolve, reject) => server.bindAsync(`unix://${path}`, ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())));
  return {
    address: `unix://${path}`,
    streams: () => count,
    push(response) {
      current = response;
      for (const call of open) call.write(response);
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const call of open) call.end();
        server.tryShutdown(() => resolve());
      }),
  };
}

/**
 * A TLS client as a SPIFFE workload is one: presents `svid`, verifies the server's chain against
 * `bundle` and its SPIFFE ID (the URI SAN) instead of a host name.
 */
export function connectWithSvid(port: number, svid: { cert: string; key: string }, bundle: string, serverId: string): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({
      host: '127.0.0.1',
      port,
      cert: readFileSync(svid.cert),
      key: readFileSync(svid.key),
      ca: readFileSync(bundle),
      allowHalfOpen: true,
      checkServerIdentity: (_host, cert) => (cert.subjectaltname === `URI:${serverId}` ? undefined : new Error(`server presented ${cert.subjectaltname}, not ${serverId}`)),
    });
    socket.once('secureConnect', () => resolve(socket));
    socket.once('error', reject);
  });
}
