import { resolve } from 'node:path';
import type { QuickstartRequest } from '../cli/parse.ts';
import { HANDOFF_NAMES } from '../net/inherited-sockets.ts';
import type { Listener } from '../net/listener.ts';
import { ensureDemoCredentials, type DemoCredentials } from './demo-pki.ts';
import { startEchoBackend } from './echo-backend.ts';

/** A prepared demo: the server-mode arguments to run, and how to try it once it listens. */
export interface Quickstart {
  readonly argv: readonly string[];
  /** The commands to try it, given the bound tunnel and status addresses ("127.0.0.1:43121"). */
  instructions(bound: { readonly tunnel: string; readonly status: string }): string;
}

/** A path as a POSIX shell word, so that the printed commands paste as they are. */
function shellWord(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Where a client connects to reach a bound address: a wildcard address is reached on loopback. */
function reachable(address: string): string {
  const i = address.lastIndexOf(':');
  const host = address.slice(0, i);
  const port = address.slice(i + 1);
  return ['0.0.0.0', '[::]', ''].includes(host) ? `127.0.0.1:${port}` : `${host}:${port}`;
}

function tryIt(c: DemoCredentials, tunnel: string, status: string, httpTarget: boolean): string {
  const [ca, cert, key] = [c.caCert, c.clientCert, c.clientKey].map(shellWord);
  return [
    'Try it from another terminal:',
    `  curl --cacert ${ca} --cert ${cert} --key ${key} https://${tunnel}/${httpTarget ? '' : '   # the built-in backend answers with the request it got'}`,
    `  openssl s_client -quiet -connect ${tunnel} -CAfile ${ca} -cert ${cert} -key ${key}${httpTarget ? '' : '   # type a line: it comes back'}`,
    `  curl http://${status}/_status`,
    'Without the client certificate the tunnel refuses the handshake. Rotate: replace the files in the',
    `directory and run \`kill -HUP ${process.pid}\`. Stop with Ctrl-C.`,
    '',
  ].join('\n');
}

/**
 * Prepares a demo: credentials (made once, then reused), the built-in backend unless --target is
 * given, and the server-mode arguments that run the tunnel in front of it. Says at once what it
 * made; the commands to try it come with instructions(), when the real ports are known.
 */
export async function prepareQuickstart(options: QuickstartRequest, write: (s: string) => void): Promise<Quickstart> {
  const dir = resolve(options.dir);
  const { credentials, created } = ensureDemoCredentials(dir);
  const target = options.target ?? (await startEchoBackend());
  write(
    [
      '',
      `ghostunnel quickstart: ${created ? 'made' : 'reusing'} a demo CA, server and client certificate in ${dir}`,
      `  tunnel: TLS on ${options.listen}, client certificate CN=client required -> ${options.target ? target : `built-in echo on ${target}`}`,
      '',
    ].join('\n'),
  );
  return {
    argv: [
      'server',
      '--listen', options.listen,
      '--target', target,
      '--cert', credentials.serverCert,
      '--key', credentials.serverKey,
      '--cacert', credentials.caCert,
      '--allow-cn', 'client',
      '--status', `http://${options.status}`,
    ],
    instructions: (bound) => tryIt(credentials, reachable(bound.tunnel), reachable(bound.status), options.target !== undefined),
  };
}

/** The bound tunnel and status addresses, from the daemon's listeners. */
export function quickstartAddresses(listeners: readonly Listener[]): { tunnel: string; status: string } {
  const named = (name: string): string => listeners.find((l) => l.name === name)?.address ?? '';
  return { tunnel: named(HANDOFF_NAMES.listen), status: named(HANDOFF_NAMES.status) };
}
