import { resolve } from 'node:path';
import type { QuickstartRequest } from '../cli/parse.ts';
import { ensureDemoCredentials } from './demo-pki.ts';
import { startEchoBackend } from './echo-backend.ts';


/**
 * Prepares a demo: credentials (made once, then reused), an echo backend unless --target is given,
 * and the server-mode arguments that run the tunnel in front of it. Prints how to try it.
 */
export async function prepareQuickstart(options: QuickstartRequest, write: (s: string) => void): Promise<string[]> {
  const dir = resolve(options.dir);
  const { credentials: c, created } = ensureDemoCredentials(dir);
  const target = options.target ?? (await startEchoBackend());
  const [host, port] = [options.listen.slice(0, options.listen.lastIndexOf(':')), options.listen.slice(options.listen.lastIndexOf(':') + 1)];
  const connectHost = host === '' || host === '0.0.0.0' ? 'localhost' : host;
  write(
    [
      '',
      `ghostunnel quickstart: ${created ? 'made' : 'reusing'} demo credentials in ${dir}`,
      `  tunnel: TLS on ${options.listen} (client certificate CN=client required) -> ${options.target ? target : `built-in echo on ${target}`}`,
      `  status: http://${options.status}/_status`,
      '',
      'Try it:',
      `  echo hello | openssl s_client -quiet -connect ${connectHost}:${port} -CAfile ${c.caCert} -cert ${c.clientCert} -key ${c.clientKey}`,
      `  curl --cacert ${c.caCert} --cert ${c.clientCert} --key ${c.clientKey} https://localhost:${port}/   # when --target is an HTTP server`,
      `  curl http://${options.status}/_status`,
      'Rotate: replace the files and run `kill -HUP <pid>`. Stop with Ctrl-C.',
      '',
    ].join('\n'),
  );
  return [
    'server',
    '--listen', options.listen,
    '--target', target,
    '--cert', c.serverCert,
    '--key', c.serverKey,
    '--cacert', c.caCert,
    '--allow-cn', 'client',
    '--status', `http://${options.status}`,
  ];
}
