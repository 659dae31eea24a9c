// Real outbound proxies for client mode: tinyproxy (HTTP CONNECT) and microsocks (SOCKS5), run as
// children on loopback ephemeral ports. Both resolve target names with the system resolver.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { listeningPort } from './listening-port.ts';
import { tempDir } from './pki.ts';
import { requireProgram } from './programs.ts';

export interface ProxyProcess {
  readonly port: number;
  /** What the proxy printed so far (tinyproxy logs each CONNECT and the host it resolved). */
  output(): string;
  stop(): Promise<void>;
}

function track(proc: ChildProcess, port: number): ProxyProcess {
  let out = '';
  proc.stdout?.setEncoding('utf8').on('data', (c: string) => (out += c));
  proc.stderr?.setEncoding('utf8').on('data', (c: string) => (out += c));
  const exited = once(proc, 'exit');
  return {
    port,
    output: () => out,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      await exited;
    },
  };
}

/** microsocks on 127.0.0.1, port 0; with `auth`, only that user and password are let through. */
export async function startMicrosocks(auth?: { user: string; password: string }): Promise<ProxyProcess> {
  requireProgram('microsocks');
  const proc = spawn('microsocks', ['-i', '127.0.0.1', '-p', '0', ...(auth ? ['-u', auth.user, '-P', auth.password] : [])], { stdio: ['ignore', 'pipe', 'pipe'] });
  return track(proc, await listeningPort(proc.pid!));
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

/**
 * tinyproxy in the foreground on 127.0.0.1. It refuses port 0, so a free port is picked first; if
 * another process takes it in between, tinyproxy exits and we try another.
 */
export async function startTinyproxy(): Promise<ProxyProcess> {
  requireProgram('tinyproxy');
  const dir = tempDir('gt-tinyproxy-');
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const conf = join(dir, 'tinyproxy.conf');
    writeFileSync(conf, `Port ${port}\nListen 127.0.0.1\nTimeout 60\nLogLevel Info\nMaxClients 50\n`);
    const proc = spawn('tinyproxy', ['-d', '-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
    const proxy = track(proc, port);
    try {
      if ((await listeningPort(proc.pid!)) === port) return proxy;
    } catch (err) {
      if (attempt === 5) throw new Error(`tinyproxy did not start: ${(err as Error).message}\n${proxy.output()}`);
    }
    await proxy.stop();
  }
}
