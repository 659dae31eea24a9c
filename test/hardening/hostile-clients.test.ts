// Clients that misbehave: each pattern is run while a well-behaved client keeps round-tripping
// random bytes through the same tunnel. The well-behaved client must see no failure and no
// corrupted byte, must keep going while the hostile one misbehaves, and the hostile connection
// must be freed: its own log line (by its source port), and conn.open back to just the checker.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import parsePrometheus from 'parse-prometheus-text-format';
import { echoBackend, type Backend } from '../helpers/backends.ts';
import { connectTls } from '../helpers/clients.ts';
import { runGhostunnel, type Daemon, type LogLine } from '../helpers/daemon.ts';
import { EchoChecker } from '../helpers/echo-checker.ts';
import { dribble, fragmentingStream, garbage, rawConnection, realClientHello, tlsOver } from '../helpers/hostile-clients.ts';
import { issue, makeCa, type Ca, type Issued } from '../helpers/pki.ts';
import { curl, eventually, promValue, statusAddress, type PromFamily } from '../helpers/status.ts';

const CONNECT_TIMEOUT_S = 4;

describe('hostile clients leave the others unaffected', () => {
  let ca: Ca, server: Issued, client: Issued, backend: Backend, gt: Daemon, port: number, status: string;

  const connOpen = async (): Promise<number> => {
    const r = await curl([`http://${status}/_metrics/prometheus`]);
    return promValue(parsePrometheus(r.body) as PromFamily[], 'ghostunnel_conn_open');
  };
  const logFor = (localPort: number, pattern: RegExp): Promise<LogLine> =>
    gt.waitForLog(new RegExp(`^(?=.*tcp:127\\.0\\.0\\.1:${localPort}\\b).*${pattern.source}`), (CONNECT_TIMEOUT_S + 10) * 1000);

  /**
   * Runs `hostile` while a checker keeps round-tripping on one connection; `hostile` resolves once
   * its connection was freed. Asserts that the checker kept going throughout, without a failure.
   */
  async function alongsideChecker(hostile: (checker: EchoChecker) => Promise<void>): Promise<void> {
    const checker = new EchoChecker({ connect: () => connectTls(port, { cert: client.cert, key: client.key, ca: ca.cert }), maxSize: 2048, pauseMs: 5 }).start();
    try {
      await checker.waitForRounds(5);
      await eventually(async () => assert.equal(await connOpen(), 1));
      await hostile(checker);
      await eventually(async () => assert.equal(await connOpen(), 1, 'only the checker is left open'));
      await checker.waitForRounds(5);
    } finally {
      const stats = await checker.stop();
      assert.deepEqual(stats.failures, []);
      assert.equal(stats.corrupted, 0);
      assert.equal(stats.connections, 1, 'one connection all along');
    }
  }

  /** Asserts that the checker completes rounds while `phase` is in progress. */
  async function checkerKeepsGoing(checker: EchoChecker, phase: Promise<unknown>): Promise<void> {
    const before = checker.stats.rounds;
    await checker.waitForRounds(3);
    await phase;
    assert.ok(checker.stats.rounds >= before + 3);
  }

  before(async () => {
    ca = makeCa();
    server = issue(ca, 'server', { cn: 'localhost' });
    client = issue(ca, 'client', { cn: 'client' });
    backend = await echoBackend();
    gt = runGhostunnel([
      'server', '--listen', '127.0.0.1:0', '--target', `127.0.0.1:${backend.port}`, '--cert', server.cert, '--key', server.key,
      '--cacert', ca.cert, '--allow-cn', 'client', '--status', 'http://127.0.0.1:0', '--connect-timeout', `${CONNECT_TIMEOUT_S}s`,
    ]);
    status = await statusAddress(gt);
    ({ port } = await gt.address());
  });
  after(async () => {
    assert.equal(await gt.stop(), 0);
    await backend.close();
  });

  it('garbage bytes instead of a ClientHello', async () => {
    await alongsideChecker(async () => {
      const { socket, localPort } = await rawConnection(port);
      socket.write(garbage(4096));
      const line = await logFor(localPort, /error on TLS handshake|TLS handshake/);
      assert.match(line.msg, /^error on TLS handshake from /);
      socket.destroy();
    });
  });

  it('a ClientHello cut short, then closed', async () => {
    const hello = await realClientHello();
    await alongsideChecker(async () => {
      const { socket, localPort } = await rawConnection(port);
      socket.write(hello.subarray(0, hello.length >> 1));
      await sleep(200);
      socket.end();
      const line = await logFor(localPort, /closed/);
      assert.match(line.msg, /^error on TLS handshake from .*(closed the connection during the handshake|connection closed during handshake)/);
      socket.destroy();
    });
  });

  it('a ClientHello cut short, then stalled: freed by --connect-timeout', async () => {
    const hello = await realClientHello();
    await alongsideChecker(async (checker) => {
      const { socket, localPort } = await rawConnection(port);
      socket.write(hello.subarray(0, 100));
      const freed = logFor(localPort, /timed out \(--connect-timeout\)/);
      await checkerKeepsGoing(checker, freed);
      socket.destroy();
    });
  });

  it('a real ClientHello dribbled out a byte at a time, then stalled mid-handshake: freed by --connect-timeout', async () => {
    const hello = await realClientHello();
    await alongsideChecker(async (checker) => {
      const { socket, localPort } = await rawConnection(port);
      // A byte per write, a pause every 4 bytes: well inside --connect-timeout even on a busy machine.
      const sent = dribble(socket, hello, 1, 4);
      // The server answers the complete ClientHello; the client never sends its next flight.
      const answered = new Promise<void>((resolve, reject) => {
        socket.once('data', () => resolve());
        socket.once('close', () => reject(new Error('closed before the server answered the ClientHello')));
      });
      await checkerKeepsGoing(checker, sent);
      await answered;
      await checkerKeepsGoing(checker, logFor(localPort, /timed out \(--connect-timeout\)/));
      socket.destroy();
    });
  });

  it('a TCP connection that never says a word: freed by --connect-timeout', async () => {
    await alongsideChecker(async (checker) => {
      const { socket, localPort } = await rawConnection(port);
      await checkerKeepsGoing(checker, logFor(localPort, /timed out \(--connect-timeout\)/));
      socket.destroy();
    });
  });

  it('a client whose handshake arrives a byte at a time still gets through, with its bytes intact', async () => {
    const hello = await realClientHello();
    await alongsideChecker(async () => {
      const { socket, localPort } = await rawConnection(port);
      const slow = await tlsOver(fragmentingStream(socket, hello.length, 1, 4), { cert: readFileSync(client.cert), key: readFileSync(client.key), ca: readFileSync(ca.cert) });
      await logFor(localPort, /opening pipe/);
      const payload = Buffer.from('dribbled handshake, whole payload');
      slow.write(payload);
      const back = await new Promise<Buffer>((resolve) => slow.once('data', resolve));
      assert.equal(back.toString(), payload.toString());
      slow.end();
      await logFor(localPort, /closed pipe/);
    });
  });

  it('a reset (RST) in the middle of a transfer', async () => {
    await alongsideChecker(async (checker) => {
      const { socket, localPort } = await rawConnection(port);
      const tls = await tlsOver(socket, { cert: readFileSync(client.cert), key: readFileSync(client.key), ca: readFileSync(ca.cert) });
      tls.on('error', () => {});
      let echoed = 0;
      tls.on('data', (c: Buffer) => (echoed += c.length));
      const chunk = Buffer.alloc(64 * 1024, 7);
      while (echoed < 4 * chunk.length) {
        tls.write(chunk);
        await sleep(5);
      }
      socket.resetAndDestroy();
      const closed = await logFor(localPort, /closed pipe/);
      assert.ok(Number(closed.forwarded) >= echoed, `forwarded ${closed.forwarded} >= echoed ${echoed}`);
      await checkerKeepsGoing(checker, Promise.resolve());
    });
  });
});
