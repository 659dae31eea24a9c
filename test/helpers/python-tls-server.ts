// A TLS server that is neither Node.js nor ours, standing in for client mode's target: Python's
// ssl module, requiring a client certificate. It reports each handshake as a JSON line, so a test
// sees what the server itself saw (a handshake that failed in do_handshake, and with which alert),
// and, on a connection whose handshake succeeded, echoes what it read once the client has ended.
import { spawn, type ChildProcess } from 'node:child_process';

const SERVER = String.raw`
import json, socket, ssl, sys, threading
cert, key, ca = sys.argv[1:4]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
ctx.verify_mode = ssl.CERT_REQUIRED
ctx.load_verify_locations(ca)
listener = socket.create_server(("127.0.0.1", 0))
def say(**event):
    print(json.dumps(event), flush=True)
say(listening=listener.getsockname()[1])
def serve(raw):
    tls = ctx.wrap_socket(raw, server_side=True, do_handshake_on_connect=False)
    try:
        tls.do_handshake()
    except (ssl.SSLError, OSError) as e:
        say(handshake="failed", error=str(e))
        raw.close()
        return
    subject = dict(x[0] for x in tls.getpeercert().get("subject", ()))
    say(handshake="ok", peer=subject.get("commonName", ""))
    # Everything up to the client's end, then echoed: closing with input unread would reset the
    # connection and lose the echo.
    data = b""
    while chunk := tls.recv(65536):
        data += chunk
    tls.sendall(data)
    tls.close()
while True:
    raw, _ = listener.accept()
    threading.Thread(target=serve, args=(raw,), daemon=True).start()
`;

export interface HandshakeSeen {
  readonly handshake: 'ok' | 'failed';
  /** The client certificate's CN, when the handshake succeeded. */
  readonly peer?: string;
  /** Python's error for a failed handshake ("[SSL: SSLV3_ALERT_BAD_CERTIFICATE] sslv3 alert bad certificate (_ssl.c:…)"). */
  readonly error?: string;
}

export interface PythonTlsServer {
  readonly port: number;
  readonly proc: ChildProcess;
  /** Resolves with the handshake the server reports `index`-th (from 0), once it has. */
  handshake(index: number, timeoutMs?: number): Promise<HandshakeSeen>;
  seen(): readonly HandshakeSeen[];
  close(): void;
}

/** Starts the server with its certificate and the CA its clients' certificates must chain to. */
export async function pythonTlsServer(opts: { cert: string; key: string; clientCa: string }): Promise<PythonTlsServer> {
  const proc = spawn('python3', ['-c', SERVER, opts.cert, opts.key, opts.clientCa], { stdio: ['ignore', 'pipe', 'pipe'] });
  const seen: HandshakeSeen[] = [];
  const waiters: Array<() => void> = [];
  let stderr = '';
  let partial = '';
  let port = 0;
  proc.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  proc.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    partial += chunk;
    let nl: number;
    while ((nl = partial.indexOf('\n')) >= 0) {
      const event = JSON.parse(partial.slice(0, nl)) as HandshakeSeen & { listening?: number };
      partial = partial.slice(nl + 1);
      if (event.listening !== undefined) port = event.listening;
      else seen.push(event);
    }
    for (const w of waiters.splice(0)) w();
  });
  const until = (done: () => boolean, what: string, timeoutMs: number): Promise<void> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`python TLS server: no ${what} within ${timeoutMs} ms; stderr: ${stderr}`)), timeoutMs);
      const check = (): void => {
        if (done()) {
          clearTimeout(timer);
          resolve();
        } else waiters.push(check);
      };
      check();
    });
  process.once('exit', () => proc.kill('SIGKILL'));
  await until(() => port !== 0, 'listening port', 30_000);
  return {
    port,
    proc,
    handshake: async (index, timeoutMs = 10_000) => {
      await until(() => seen.length > index, `handshake #${index + 1}`, timeoutMs);
      return seen[index]!;
    },
    seen: () => seen,
    close: () => proc.kill('SIGKILL'),
  };
}
