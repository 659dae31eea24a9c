// A UNIX datagram socket the test binds (NOTIFY_SOCKET, a syslog socket), collecting what arrives.
// Node has no UNIX datagram sockets, so python3's socket module receives, independently of the
// daemon's own sending code.
import { spawn, type ChildProcess } from 'node:child_process';
import { requireProgram } from './programs.ts';

const RECEIVER = `
import json, os, socket, sys
path = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind('\\0' + path[1:] if path.startswith('@') else path)
if not path.startswith('@'):
    os.chmod(path, 0o666)
print('bound', flush=True)
while True:
    data = s.recv(65536)
    print(json.dumps(data.decode('utf-8', 'replace')), flush=True)
`;

export interface DatagramSink {
  readonly path: string;
  readonly messages: string[];
  /** Resolves with the first message (from index `from` on) that matches. */
  waitFor(pattern: RegExp, timeoutMs?: number, from?: number): Promise<string>;
  close(): void;
}

/** Binds `path` ("@name" for an abstract socket) and resolves once it is bound. */
export async function datagramSink(path: string): Promise<DatagramSink> {
  requireProgram('python3');
  const proc: ChildProcess = spawn('python3', ['-c', RECEIVER, path], { stdio: ['ignore', 'pipe', 'pipe'] });
  const messages: string[] = [];
  const waiters: Array<() => void> = [];
  let stderr = '';
  let partial = '';
  let bound!: () => void;
  const isBound = new Promise<void>((resolve) => (bound = resolve));
  proc.stderr!.on('data', (c) => (stderr += c));
  proc.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    partial += chunk;
    let nl: number;
    while ((nl = partial.indexOf('\n')) >= 0) {
      const line = partial.slice(0, nl);
      partial = partial.slice(nl + 1);
      if (line === 'bound') bound();
      else messages.push(JSON.parse(line) as string);
    }
    for (const w of waiters.splice(0)) w();
  });
  await Promise.race([
    isBound,
    new Promise((_, reject) => proc.once('exit', (code) => reject(new Error(`datagram receiver exited (${code}): ${stderr}`)))),
  ]);
  return {
    path,
    messages,
    waitFor(pattern, timeoutMs = 10_000, from = 0) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no datagram matching ${pattern} within ${timeoutMs} ms; got ${JSON.stringify(messages)}`)), timeoutMs);
        const check = (): void => {
          const hit = messages.slice(from).find((m) => pattern.test(m));
          if (hit === undefined) waiters.push(check);
          else {
            clearTimeout(timer);
            resolve(hit);
          }
        };
        check();
      });
    },
    close: () => {
      proc.kill();
    },
  };
}
