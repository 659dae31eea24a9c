// The status port opens only once the tunnel accepts with its credentials loaded: whoever waits
// for the status port (a tcpSocket readiness probe, a script, a test harness) and then connects to
// the tunnel is never refused. Systemd socket activation and the hand-off successor are checked in
// systemd.test.ts and upgrade.test.ts.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { echoBackend, type Backend } from '../helpers/backends.ts';
import { connectTls, readBytes } from '../helpers/clients.ts';
import { runGhostunnel, type Daemon } from '../helpers/daemon.ts';
import { issue, makeCa, type Ca, type Issued } from '../helpers/pki.ts';
import { linuxOnly } from '../helpers/platform.ts';
import { listeningOrder } from '../helpers/status.ts';
import { tlsTarget, type TlsTarget } from '../helpers/tls-target.ts';

/** A port nothing listens on right now. */
async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}

/** Whether a TCP connection to `port` is accepted (true) or refused (false). */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Connects to `port` every millisecond or so, from now on, until a connection is accepted (the gap this closed was 2 to 8 ms). */
async function firstAccept(port: number, gt: Daemon): Promise<void> {
  while (!(await accepts(port))) {
    if (gt.proc.exitCode !== null) throw new Error(`ghostunnel exited: ${gt.stderr()}`);
    await sleep(1);
  }
}

const ROUNDS = 3;

describe('the status port opens after the tunnel listens', () => {
  let ca: Ca, server: Issued, client: Issued, backend: Backend, target: TlsTarget;
  const daemons: Daemon[] = [];
  before(async () => {
    ca = makeCa();
    server = issue(ca, 'server', { cn: 'localhost' });
    client = issue(ca, 'client', { cn: 'client' });
    backend = await echoBackend();
    target = await tlsTarget({ cert: server.cert, key: server.key });
  });
  after(async () => {
    for (const gt of daemons) await gt.stop();
    await backend.close();
    await target.close();
  });

  /** Starts a daemon on fixed ports and, the instant its status port accepts, uses the tunnel through `use`. */
  const race = async (args: (listen: number, status: number) => string[], use: (port: number) => Promise<void>): Promise<void> => {
    for (let round = 0; round < ROUNDS; round++) {
      const [listen, status] = [await freePort(), await freePort()];
      const gt = runGhostunnel(args(listen, status));
      daemons.push(gt);
      await firstAccept(status, gt);
      await use(listen);
      await gt.waitForLog(/^status server listening/);
      assert.deepEqual(listeningOrder(gt.lines), ['listening for connections', 'status server listening']);
      assert.equal(await gt.stop(), 0);
    }
  };

  const serverMode = (extra: string[]) => (listen: number, status: number): string[] => [
    'server', '--listen', `127.0.0.1:${listen}`, '--target', `127.0.0.1:${backend.port}`, '--cert', server.cert, '--key', server.key,
    '--cacert', ca.cert, '--allow-cn', 'client', '--status', `http://127.0.0.1:${status}`, ...extra,
  ];
  const throughServer = async (port: number): Promise<void> => {
    const s = await connectTls(port, { cert: client.cert, key: client.key, ca: ca.cert });
    const echoed = readBytes(s, 5);
    s.write('ready');
    assert.equal((await echoed).toString(), 'ready');
    s.destroy();
  };

  it('server mode', () => race(serverMode([]), throughServer));

  it('server mode with --workers 2', { skip: linuxOnly('--workers shares the listening descriptor') }, () => race(serverMode(['--workers', '2']), throughServer));

  it('client mode', () =>
    race(
      (listen, status) => [
        'client', '--listen', `127.0.0.1:${listen}`, '--target', `localhost:${target.port}`, '--cert', client.cert, '--key', client.key,
        '--cacert', ca.cert, '--status', `http://127.0.0.1:${status}`,
      ],
      async (port) => {
        const s = connect(port, '127.0.0.1');
        await once(s, 'connect');
        const echoed = new Promise<string>((resolve) => s.once('data', (d: Buffer) => resolve(d.toString())));
        s.write('ready');
        assert.equal(await echoed, 'ready');
        s.destroy();
      },
    ));
});
